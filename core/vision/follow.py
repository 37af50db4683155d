"""Follow: match each frame's detected boxes to tracks, so a region keeps its id.

numpy only. Matching is greedy, best IoU first, with a centroid fallback for fast
moves; between detections a track coasts at constant velocity, and it ends after a few
missed detections. Tracks save to and load from plain dicts (the camera page keeps
them in session state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IOU_MIN = 0.2
MAX_MISSED = 2  # detections a track may miss before it ends
MIN_HITS = 3  # detections before a track is shown (a few stray ones are noise)


@dataclass
class Track:
    """One followed region: its box (x, y, w, h), motion and smoothed class probabilities."""

    key: int
    box: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    proba: np.ndarray | None = None
    hits: int = 1
    missed: int = 0  # detections missed in a row
    frames: int = 0  # frames since its last detection
    track_id: int = 0  # shown id, given once the track is confirmed (1, 2, ...)

    def to_dict(self) -> dict:
        """A JSON-ready copy (for the camera page's session state)."""
        return {
            "key": self.key,
            "box": self.box.tolist(),
            "velocity": self.velocity.tolist(),
            "proba": None if self.proba is None else self.proba.tolist(),
            "hits": self.hits,
            "missed": self.missed,
            "frames": self.frames,
            "track_id": self.track_id,
        }

    @classmethod
    def from_dict(cls, saved: dict) -> Track:
        """The inverse of `to_dict`."""
        proba = saved["proba"]
        return cls(
            saved["key"],
            np.asarray(saved["box"], float),
            np.asarray(saved["velocity"], float),
            None if proba is None else np.asarray(proba, float),
            saved["hits"],
            saved["missed"],
            saved["frames"],
            saved["track_id"],
        )


class Tracker:
    """Matches each detection to a track (IoU, then nearest centre) so ids stay stable."""

    def __init__(self, max_missed: int = MAX_MISSED, min_hits: int = MIN_HITS) -> None:
        self.max_missed, self.min_hits = max_missed, min_hits
        self.tracks: list[Track] = []
        self._keys = self._shown = 0

    def coast(self) -> None:
        """Moves every track on by its velocity (a frame without a detection)."""
        for track in self.tracks:
            track.box, track.frames = track.box + track.velocity, track.frames + 1

    def update(self, boxes: np.ndarray) -> list[Track]:
        """Takes the next frame's detections; returns the shown (confirmed) tracks.

        Args:
            boxes: (n, 4) x, y, w, h of this frame's detections.
        """
        self.coast()
        pairs = _match([t.box for t in self.tracks], boxes)
        for index, track in enumerate(self.tracks):
            if index in pairs:
                self._hit(track, boxes[pairs[index]])
            else:
                track.missed += 1
        matched = set(pairs.values())
        for index, box in enumerate(boxes):
            if index not in matched:
                self._keys += 1
                self.tracks.append(Track(self._keys, np.asarray(box, float)))
                self._confirm(self.tracks[-1])
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return self.shown()

    def _hit(self, track: Track, box: np.ndarray) -> None:
        box = np.asarray(box, float)
        surprise = (box - track.box) / track.frames * [1, 1, 0, 0]  # sizes do not drift
        track.velocity = track.velocity + 0.5 * surprise
        track.box, track.hits, track.missed, track.frames = box, track.hits + 1, 0, 0
        self._confirm(track)

    def _confirm(self, track: Track) -> None:
        if track.hits >= self.min_hits and not track.track_id:
            self._shown += 1
            track.track_id = self._shown

    def shown(self) -> list[Track]:
        """Confirmed tracks, including those coasting over a missed detection or two."""
        return [t for t in self.tracks if t.track_id]

    def to_dict(self) -> dict:
        """A JSON-ready copy of the tracker's state."""
        return {
            "tracks": [t.to_dict() for t in self.tracks],
            "keys": self._keys,
            "shown": self._shown,
        }

    @classmethod
    def from_dict(cls, saved: dict | None) -> Tracker:
        """The inverse of `to_dict`; `None` gives a new tracker."""
        tracker = cls()
        if saved:
            tracker.tracks = [Track.from_dict(t) for t in saved["tracks"]]
            tracker._keys, tracker._shown = saved["keys"], saved["shown"]
        return tracker


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x, y, w, h boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _match(tracks: list[np.ndarray], boxes: np.ndarray) -> dict[int, int]:
    """Greedy matching, best IoU first, then nearest centres within one box size."""
    scored = [
        (iou(t, b), -_centre_distance(t, b), i, j)
        for i, t in enumerate(tracks)
        for j, b in enumerate(boxes)
    ]
    pairs: dict[int, int] = {}
    for overlap, closeness, i, j in sorted(scored, reverse=True):
        near = -closeness <= max(tracks[i][2], tracks[i][3])
        if (overlap >= IOU_MIN or near) and i not in pairs and j not in pairs.values():
            pairs[i] = j
    return pairs


def _centre_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(
        np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)
    )
