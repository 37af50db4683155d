"""Find, follow and label: regions of a video tracked with stable ids and labelled.

Find: faces (the MTCNN detector, whose weights ship inside the `mtcnn` wheel) or moving
things (OpenCV's MOG2 background subtraction). Follow (`core.vision.follow`): IoU
matching, with a centroid fallback for fast moves, and constant-velocity coasting between
detections. Label: each tracked region's crop goes through the run's image model; the
class probabilities are smoothed over the track. TensorFlow, MTCNN and OpenCV are
imported inside functions.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataError
from core.vision import follow, video

FINDERS = {
    "faces": "faces (MTCNN face detector)",
    "motion": "moving things (background subtraction)",
}
COLUMNS = ["frame", "time_s", "track_id", "x", "y", "w", "h", "label", "probability"]
DETECTIONS_PER_S = (
    6  # the finder runs this often per second of video; tracks coast between
)
MIN_FACE_PX = 32  # smallest face found, in pixels of the (at most 480p) working frame
MAX_DELAY = 60  # frames held back at most (74 MB at 854×480)
SMOOTHING = 0.3  # weight of the newest crop's probabilities in the track's label
CROP_MARGIN = 0.15  # context kept around a box, as a share of its size (face photos)
COLORS = [(46, 204, 113), (231, 76, 60), (52, 152, 219), (241, 196, 15), (155, 89, 182)]


# --- Find -------------------------------------------------------------------------------


class FaceFinder:
    """Finds faces, masked ones included, with MTCNN's proposal and refine networks."""

    def __init__(self, min_face: int = MIN_FACE_PX, threshold: float = 0.8) -> None:
        self.min_face, self.threshold = min_face, threshold

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Returns the faces in an RGB frame as an (n, 4) array of x, y, w, h."""
        import cv2

        scale = 12 / self.min_face  # MTCNN's smallest window is 12 pixels
        size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
        if min(size) < 24:
            return np.zeros((0, 4))
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        found = _mtcnn().detect_faces(small, min_face_size=12)
        found = sorted(found, key=lambda f: -f["confidence"])
        boxes = [
            np.asarray(f["box"], float) / scale
            for f in found
            if f["confidence"] >= self.threshold
        ]
        return suppress_overlaps(boxes)


def suppress_overlaps(boxes: list[np.ndarray], most: float = 0.3) -> np.ndarray:
    """Keeps each box unless it overlaps (IoU above `most`) a box kept before it."""
    kept: list[np.ndarray] = []
    for box in boxes:
        if all(follow.iou(box, other) <= most for other in kept):
            kept.append(box)
    return np.asarray(kept, dtype=float).reshape(-1, 4)


@functools.cache
def _mtcnn() -> Any:
    """MTCNN with its weights given by absolute path inside the installed package.

    By name, `mtcnn` would first look for a `pnet.lz4` in the working folder (a pickle).
    """
    from importlib.resources import files

    from mtcnn import MTCNN
    from mtcnn.stages import StagePNet, StageRNet

    weights = files("mtcnn.assets.weights")
    stages = [
        StagePNet(weights=str(weights / "pnet.lz4")),
        StageRNet(weights=str(weights / "rnet.lz4")),
    ]
    for stage in stages:
        # Run each network as a graph: op-by-op (eager) calls cost 3-4x the CPU time.
        stage._model = _graph(stage.model)
    return MTCNN(stages=stages)


@functools.lru_cache(maxsize=4)
def _graph(model: Any) -> Callable:
    """The model's forward pass compiled as a TensorFlow graph (shapes may vary)."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


class MotionFinder:
    """Finds moving things: MOG2 background subtraction on a small grey copy."""

    def __init__(self, min_area: float = 0.002, width: int = 320) -> None:
        import cv2

        self.min_area, self.width = min_area, width
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=120, varThreshold=32, detectShadows=False
        )

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Returns the moving regions of an RGB frame as an (n, 4) array of x, y, w, h."""
        import cv2

        scale = min(1.0, self.width / frame.shape[1])
        size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
        grey = cv2.cvtColor(cv2.resize(frame, size), cv2.COLOR_RGB2GRAY)
        mask = self._model.apply(cv2.GaussianBlur(grey, (5, 5), 0))
        kernel = np.ones((5, 5), np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.dilate(mask, kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        area = size[0] * size[1]
        boxes = [
            cv2.boundingRect(c)
            for c in contours
            if self.min_area * area <= cv2.contourArea(c) <= 0.5 * area
        ]
        return np.asarray(boxes, dtype=float).reshape(-1, 4) / scale


def make_finder(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """Returns a finder by name: "faces" or "motion".

    Raises:
        DataError: for another name.
    """
    if name not in FINDERS:
        raise DataError(
            f"Invalid value for argument `find`. Expected one of {sorted(FINDERS)}. "
            f"Received: find={name!r}"
        )
    return FaceFinder() if name == "faces" else MotionFinder()


# --- Label ------------------------------------------------------------------------------


def label_tracks(
    model: Any, frame: np.ndarray, tracks: list[follow.Track], size: int
) -> None:
    """Classifies each track's crop and blends it into the track's probabilities."""
    if not tracks:
        return
    crops = np.stack([crop(frame, t.box, size) for t in tracks]).astype("float32")
    proba = np.asarray(_graph(model)(crops), dtype="float64")
    for track, row in zip(tracks, proba, strict=True):
        previous = row if track.proba is None else track.proba
        track.proba = SMOOTHING * row + (1 - SMOOTHING) * previous


def crop(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """The box with a margin of context, cut from the frame and resized to size×size."""
    import cv2

    x, y, w, h = box
    pad_w, pad_h = w * CROP_MARGIN, h * CROP_MARGIN
    left, top = max(0, int(x - pad_w)), max(0, int(y - pad_h))
    right = min(frame.shape[1], int(x + w + pad_w))
    bottom = min(frame.shape[0], int(y + h + pad_h))
    if right - left < 2 or bottom - top < 2:
        return np.zeros((size, size, 3), np.uint8)
    return cv2.resize(frame[top:bottom, left:right], (size, size))


# --- Together ---------------------------------------------------------------------------


@dataclass
class TrackResult:
    """What `track_video` found: one row per track per frame, and one per track."""

    rows: pd.DataFrame  # COLUMNS
    tracks: pd.DataFrame  # track_id, first_s, last_s, frames, label, probability
    frames: int
    fps: float  # of the clip
    speed_fps: float  # frames processed per second of wall time


def track_video(
    model: Any,
    source: Path | bytes,
    name: str,
    info: dict,
    find: str = "faces",
    annotated: Path | None = None,
) -> TrackResult:
    """Finds, follows and labels regions in every frame of a video.

    Args:
        model: the run's image model (RGB 0-255 in, class probabilities out).
        source: the video as a path or bytes.
        name: its name, for messages.
        info: the run's info (`image_size`, `class_names`).
        find: "faces" or "motion".
        annotated: if given, an MP4 with boxes, track ids and labels is written there.

    Raises:
        DataError: if the video is not readable or over the limits.
    """
    finder, clip = make_finder(find), video.probe(source, name)
    every = max(1, round(clip.fps / DETECTIONS_PER_S))
    tracker, classes = follow.Tracker(), list(info["class_names"])
    # Frames wait until a new track is confirmed, so it is shown from its first one.
    delay, pending = min((follow.MIN_HITS + 1) * every, MAX_DELAY), collections.deque()
    rows, index, started = [], -1, time.perf_counter()
    writer = video.VideoWriter(annotated, clip.fps, clip.width, clip.height)
    with writer if annotated else contextlib.nullcontext() as out:
        for index, seconds, frame in video.stream_frames(clip):
            if index % every == 0:
                tracker.update(finder(frame))
                present = [t for t in tracker.tracks if not t.missed]
                label_tracks(model, frame, present, int(info["image_size"]))
            else:
                tracker.coast()
            pending.append((index, seconds, frame, _as_seen_now(tracker.tracks)))
            while len(pending) > delay:
                rows += _emit(pending.popleft(), classes, out)
        while pending:
            rows += _emit(pending.popleft(), classes, out)
    if index < 0:
        raise DataError(f"`{name}` holds no video frames that could be decoded.")
    frames = index + 1
    table = pd.DataFrame(rows, columns=COLUMNS)
    speed = frames / max(time.perf_counter() - started, 1e-9)
    return TrackResult(table, summarize(table), frames, clip.fps, speed)


@dataclass(frozen=True)
class Seen:
    """A confirmed track as it was in one frame: its id, box and smoothed probabilities."""

    track_id: int
    box: np.ndarray
    proba: np.ndarray


def _as_seen_now(
    tracks: list[follow.Track],
) -> list[tuple[follow.Track, np.ndarray, np.ndarray]]:
    """Each labelled track with a copy of its box and probabilities at this frame."""
    return [(t, t.box.copy(), t.proba.copy()) for t in tracks if t.proba is not None]


def _emit(item: tuple, classes: list[str], out: video.VideoWriter | None) -> list:
    """Rows (and the annotated frame) of a frame, for the tracks confirmed by now."""
    index, seconds, frame, states = item
    seen = [Seen(t.track_id, box, proba) for t, box, proba in states if t.track_id]
    if out is not None:
        out.write(draw(frame, seen, classes))
    return _rows(index, seconds, seen, classes)


def _rows(index: int, seconds: float, seen: list[Seen], classes: list[str]) -> list:
    rows = []
    for one in seen:
        best = int(one.proba.argmax())
        x, y, w, h = (int(round(v)) for v in one.box)
        probability = round(float(one.proba[best]), 4)
        rows.append(
            [index, seconds, one.track_id, x, y, w, h, classes[best], probability]
        )
    return rows


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per track: first and last second, frames, and its most frequent label."""
    columns = ["track_id", "first_s", "last_s", "frames", "label", "probability"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    grouped = rows.groupby("track_id")
    label = grouped["label"].agg(lambda s: s.value_counts().index[0])
    summary = pd.DataFrame(
        {
            "first_s": grouped["time_s"].min(),
            "last_s": grouped["time_s"].max(),
            "frames": grouped.size(),
            "label": label,
            "probability": grouped["probability"].mean().round(3),
        }
    )
    return summary.reset_index()[columns]


def draw(frame: np.ndarray, seen: list[Seen], classes: list[str]) -> np.ndarray:
    """The frame with each track's box, id, label and probability drawn on it."""
    import cv2

    out = frame.copy()
    for one in seen:
        best = int(one.proba.argmax())
        color = COLORS[best % len(COLORS)]
        x, y, w, h = (int(round(v)) for v in one.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), color, 2)
        text = f"#{one.track_id} {classes[best]} {one.proba[best]:.0%}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(0, y - th - 6)
        cv2.rectangle(out, (x, top), (x + tw + 6, top + th + 6), color, -1)
        cv2.putText(
            out,
            text,
            (x + 3, top + th + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
        )
    return out


def track_snapshot(
    model: Any, frame: np.ndarray, info: dict, state: dict | None
) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """Find-follow-label on one camera snapshot, continuing the tracks of earlier ones.

    Args:
        model: the run's image model.
        frame: the snapshot, RGB uint8.
        info: the run's info (`image_size`, `class_names`).
        state: what the previous call returned (`None` for the first snapshot).

    Returns:
        The annotated snapshot, its rows (COLUMNS; `frame` counts snapshots) and the new
        state (JSON-ready) to pass to the next call.
    """
    tracker = follow.Tracker.from_dict(state and state["tracker"])
    tracker.min_hits = 1  # snapshots are few: show a face from the first one
    shown = tracker.update(FaceFinder()(frame))
    label_tracks(model, frame, shown, int(info["image_size"]))
    index = state["snapshots"] if state else 0
    classes = list(info["class_names"])
    seen = [Seen(t.track_id, t.box, t.proba) for t in shown if t.proba is not None]
    rows = pd.DataFrame(_rows(index, 0.0, seen, classes), columns=COLUMNS)
    state = {"tracker": tracker.to_dict(), "snapshots": index + 1}
    return draw(frame, seen, classes), rows, state


def track_run_video(
    run_id: str, path: Path, find: str = "faces", annotated: Path | None = None
) -> TrackResult:
    """`track_video` with a run's (or imported bundle's) image model, on a video file.

    Raises:
        DataError: if the run does not classify pictures, or the file is not a video.
        RunError: if the run has no model, or a file of the run is missing or damaged.
    """
    from core import runs

    info = runs.load_info(run_id)
    if "class_names" not in info or "image_size" not in info:
        raise DataError(
            f"Run `{run_id}` does not classify pictures; following regions in a video "
            "needs a run of the template `image_classification`."
        )
    if not video.is_video_name(path.name) or not path.is_file():
        raise DataError(
            f"`{path.name}` is not a video file; --track follows regions in a video "
            f"({', '.join(video.VIDEO_EXTENSIONS)})."
        )
    return track_video(runs.load_model(run_id), path, path.name, info, find, annotated)


def track_upload(
    model: Any, content: bytes, name: str, info: dict, find: str = "faces"
) -> tuple[TrackResult, bytes]:
    """`track_video` on uploaded bytes; also returns the annotated MP4's bytes.

    Raises:
        DataError: if the video is not readable or over the limits.
    """
    with tempfile.TemporaryDirectory(prefix="tracks-") as folder:
        annotated = Path(folder) / "annotated.mp4"
        result = track_video(model, content, name, info, find, annotated)
        return result, annotated.read_bytes()
