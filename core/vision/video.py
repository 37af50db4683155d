"""Video in: sample frames at a chosen rate with PyAV (its wheel carries the codecs).

PyAV is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from core.data import DataError
from core.vision import bundle as bundle_images

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".avi", ".mkv")
MAX_FRAMES = 600
MAX_VIDEO_BYTES = 500 * 1024 * 1024


def is_video_name(name: str) -> bool:
    """True if the file name ends like a video the app reads."""
    return name.lower().endswith(VIDEO_EXTENSIONS)


def sample_frames(
    content: bytes, name: str, every_s: float = 0.5, max_frames: int = MAX_FRAMES
) -> list[tuple[float, np.ndarray]]:
    """Decodes a video and keeps one frame every `every_s` seconds.

    Args:
        content: the video file's bytes.
        name: its name (display only).
        every_s: seconds between kept frames (e.g. 0.5 keeps two frames a second).
        max_frames: stop after this many kept frames.

    Returns:
        (time in seconds, RGB uint8 frame) pairs, in time order.

    Raises:
        DataError: if the bytes are empty, a picture, or not a decodable video.
    """
    if every_s <= 0:
        raise DataError(
            f"Invalid value for argument `every_s`. Expected a number of seconds above "
            f"0. Received: every_s={every_s!r}"
        )
    _refuse_non_video(content, name)
    import av

    try:
        with av.open(io.BytesIO(content), mode="r") as container:
            if not container.streams.video:
                raise DataError(f"`{name}` has no video track (is it an audio file?).")
            frames = _keep_frames(container, every_s, max_frames)
    except (av.FFmpegError, EOFError, ValueError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(
            f"`{name}` could not be decoded as a video ({_first_line(err)}). Use an "
            "MP4, WebM or MOV file."
        ) from None
    if not frames:
        raise DataError(f"`{name}` holds no video frames that could be decoded.")
    return frames


def _refuse_non_video(content: bytes, name: str) -> None:
    if not content:
        raise DataError(f"The file `{name}` is empty (0 bytes).")
    if len(content) > MAX_VIDEO_BYTES:
        raise DataError(
            f"`{name}` is {len(content) / 2**20:,.0f} MiB; videos up to "
            f"{MAX_VIDEO_BYTES / 2**20:,.0f} MiB are accepted. Cut it shorter."
        )
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format
    except Exception:  # noqa: BLE001  not a picture: good, it may be a video
        return
    raise DataError(
        f"`{name}` is a {kind} picture, not a video. Classify it as an image instead."
    )


def _keep_frames(container: Any, every_s: float, max_frames: int) -> list:
    stream = container.streams.video[0]
    rate = float(stream.average_rate or 25)
    kept, next_time = [], 0.0
    for index, frame in enumerate(container.decode(stream)):
        seconds = float(frame.time) if frame.time is not None else index / rate
        if seconds + 1e-6 < next_time:
            continue
        kept.append((round(seconds, 3), frame.to_ndarray(format="rgb24")))
        next_time = seconds + every_s
        if len(kept) >= max_frames:
            break
    return kept


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def predict_video(
    model: Any, content: bytes, name: str, info: dict, every_s: float = 0.5
) -> tuple[pd.DataFrame, list[tuple[float, np.ndarray]]]:
    """Classifies sampled frames of a video.

    Returns:
        One row per kept frame (`time_s`, `prediction`, `probability_<class>`) and the
        kept frames themselves.

    Raises:
        DataError: if the video cannot be decoded.
    """
    frames = sample_frames(content, name, every_s)
    size, classes = int(info["image_size"]), list(info["class_names"])
    pixels = np.stack([_resize(frame, size) for _, frame in frames])
    proba = bundle_images.predict_arrays(model, pixels)
    rows = pd.DataFrame({"time_s": [t for t, _ in frames], "problem": ""})
    table = bundle_images.add_predictions(rows, proba, classes).drop(columns="problem")
    return table, frames


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    resized = Image.fromarray(frame).resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def annotate(frame: np.ndarray, text: str, width: int = 320) -> np.ndarray:
    """Returns a frame scaled to `width` pixels with `text` on a dark banner."""
    image = Image.fromarray(frame)
    height = max(1, round(image.height * width / max(image.width, 1)))
    image = image.resize((width, height), Image.BILINEAR)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 22), fill=(20, 20, 20))
    draw.text((6, 5), text, fill=(255, 255, 255))
    return np.asarray(image)


def write_test_video(path: Any, frames: list[np.ndarray], fps: int = 10) -> None:
    """Writes RGB frames as an MP4 (H.264 if available, else MPEG-4); for tests and demos."""
    import av

    with av.open(str(path), mode="w") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
