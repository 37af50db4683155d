"""Video in: sample frames at a chosen rate with PyAV (its wheel carries the codecs).

PyAV is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from core.errors import DataError, first_line
from core.vision import bundle as vision_bundle

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".avi", ".mkv")
MAX_FRAMES = 600
MAX_VIDEO_BYTES = 500 * 1024 * 1024
MAX_TRACK_FRAMES = 9_000  # 5 minutes at 30 frames a second
MAX_FRAME_PIXELS = 3840 * 2160  # 4K
WORK_WIDTH = 854  # wider frames are scaled down to 480p before finding and drawing


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

    with _OpenVideo(content, name) as container:
        try:
            frames = _keep_frames(container, every_s, max_frames)
        except (av.FFmpegError, EOFError, ValueError) as err:
            raise _decode_error(name, err) from None
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
            image_format = image.format
    except Exception:  # noqa: BLE001  not a picture: good, it may be a video
        return
    raise DataError(
        f"`{name}` is a {image_format} picture, not a video. Classify it as an image instead."
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


def _decode_error(name: str, err: Exception) -> DataError:
    return DataError(
        f"`{name}` could not be decoded as a video ({first_line(err)}). Use an "
        "MP4, WebM or MOV file."
    )


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
    proba = vision_bundle.predict_arrays(model, pixels)
    rows = pd.DataFrame({"time_s": [t for t, _ in frames], "problem": ""})
    table = vision_bundle.add_predictions(rows, proba, classes).drop(columns="problem")
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


@dataclass(frozen=True)
class Clip:
    """A readable video's stream, checked against the limits (see `probe`)."""

    source: Path | bytes
    name: str
    fps: float
    width: int  # of the frames `stream_frames` yields (scaled to `WORK_WIDTH` at most)
    height: int
    frames: int  # as the container declares it (0 if it does not say)


def probe(source: Path | bytes, name: str) -> Clip:
    """Opens a video, checks it fits the limits, and returns its frame rate and size.

    Args:
        source: the video as a file path or its bytes.
        name: its name, for messages.

    Raises:
        DataError: if it is empty, a picture, not a decodable video, longer than
            `MAX_TRACK_FRAMES` frames or larger than 4K.
    """
    if isinstance(source, Path) and source.stat().st_size > MAX_VIDEO_BYTES:
        raise DataError(f"`{name}` is larger than {MAX_VIDEO_BYTES // 2**20} MiB.")
    if isinstance(source, bytes):
        _refuse_non_video(source, name)
    with _OpenVideo(source, name) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        width, height = int(stream.width), int(stream.height)
        declared = int(stream.frames or 0) or int(
            float(stream.duration * stream.time_base) * fps
            if stream.duration and stream.time_base
            else 0
        )
    _refuse_huge(name, width, height, declared, fps)
    work_width = min(width, WORK_WIDTH) // 2 * 2  # H.264 needs even sizes
    work_height = max(2, round(height * work_width / width) // 2 * 2)
    return Clip(source, name, fps, work_width, work_height, declared)


def _refuse_huge(name: str, width: int, height: int, frames: int, fps: float) -> None:
    if width * height > MAX_FRAME_PIXELS or min(width, height) < 2:
        raise DataError(
            f"`{name}` has frames of {width}×{height} pixels; videos from 2×2 up to 4K "
            "(3840×2160) are accepted."
        )
    if frames > MAX_TRACK_FRAMES:
        raise DataError(
            f"`{name}` has {frames:,} frames (about {frames / fps:,.0f} s); up to "
            f"{MAX_TRACK_FRAMES:,} frames are followed. Cut it shorter."
        )


class _OpenVideo:
    """`av.open` that turns decoding failures into `DataError` (a context manager)."""

    def __init__(self, source: Path | bytes, name: str) -> None:
        self.source, self.name = source, name

    def __enter__(self) -> Any:
        import av

        target = (
            io.BytesIO(self.source)
            if isinstance(self.source, bytes)
            else str(self.source)
        )
        try:
            self.container = av.open(target, mode="r")
        except (av.FFmpegError, EOFError, ValueError) as err:
            raise _decode_error(self.name, err) from None
        if not self.container.streams.video:
            self.container.close()
            raise DataError(f"`{self.name}` has no video track (is it an audio file?).")
        return self.container

    def __exit__(self, exc_type: Any, err: Any, trace: Any) -> None:
        self.container.close()


def stream_frames(clip: Clip) -> Iterator[tuple[int, float, np.ndarray]]:
    """Decodes a probed clip one frame at a time (memory stays bounded).

    Yields:
        (frame index, time in seconds, RGB uint8 frame of `clip.width`×`clip.height`),
        for at most `MAX_TRACK_FRAMES` frames.

    Raises:
        DataError: if the video turns out damaged part way (after the frames before).
    """
    import av

    with _OpenVideo(clip.source, clip.name) as container:
        stream = container.streams.video[0]
        frames = container.decode(stream)
        for index in range(MAX_TRACK_FRAMES):
            try:
                frame = next(frames)
            except StopIteration:
                return
            except (av.FFmpegError, EOFError, ValueError) as err:
                raise _decode_error(clip.name, err) from None
            seconds = float(frame.time) if frame.time is not None else index / clip.fps
            pixels = frame.to_ndarray(
                format="rgb24", width=clip.width, height=clip.height
            )
            yield index, round(seconds, 3), pixels


class VideoWriter:
    """Writes RGB frames to an MP4 one at a time (H.264 if available, else MPEG-4).

    Use as a context manager: `with VideoWriter(path, fps, w, h) as out: out.write(f)`.
    """

    def __init__(self, path: Any, fps: float, width: int, height: int) -> None:
        self.path, self.fps, self.size = path, fps, (width, height)

    def __enter__(self) -> VideoWriter:
        import av

        self.container = av.open(str(self.path), mode="w")
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        rate = Fraction(self.fps).limit_denominator(1001)
        self.stream = self.container.add_stream(codec, rate=rate)
        self.stream.width, self.stream.height = self.size
        self.stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self.stream.options = {"preset": "veryfast"}  # 2.5x less CPU, same size
        return self

    def write(self, pixels: np.ndarray) -> None:
        """Encodes one RGB uint8 frame of the writer's size."""
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def __exit__(self, exc_type: Any, err: Any, trace: Any) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


def write_test_video(path: Any, frames: list[np.ndarray], fps: int = 10) -> None:
    """Writes RGB frames as an MP4 (H.264 if available, else MPEG-4); for tests and demos."""
    height, width = frames[0].shape[:2]
    with VideoWriter(path, fps, width, height) as out:
        for pixels in frames:
            out.write(pixels)
