"""Benchmark: video find-follow-label with a face-mask model.

Run from the repository root, with a finished `image_classification` run on the bundled
face-mask sample (train one with `python -m core train sample_data/face_mask --template
image_classification`):

    PYTHONPATH=. python -m bench.video --run RUN_ID [--clips 10] [--quick]

Reports, in one run:
- how often the face finder finds a face in the face-mask photos, masked and not (each
  photo scaled to 160 pixels and centred on a grey canvas twice its size), for MTCNN (the
  finder we use) and OpenCV's frontal-face Haar cascade;
- synthesised clips: `--clips` test photos of each class moving across an 854×480 wall
  for 3 s at 10 frames a second; the share of frames the longest track covers, and whether
  its label is the photo's class (beside the model's answer on the still photo);
- the real clip `sample_data/video/conference_faces.mp4` (640×480, 90 frames): its tracks;
- speed on 480p: frames per second for faces (the real clip) and moving things (a 10 s
  synthesised 854×480 clip), as wall time and per CPU second, with the load average (the
  machine is shared).
Results are written to bench/results/video.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "video.json"
REAL_CLIP = ROOT / "sample_data" / "video" / "conference_faces.mp4"
FACE_PHOTOS = ROOT / "sample_data" / "face_mask"


def finder_recall() -> dict[str, Any]:
    """Share of face-mask photos in which each finder finds at least one face."""
    import cv2
    from PIL import Image

    from core.vision import tracking

    mtcnn = tracking.FaceFinder(min_face=24)
    cascade = cv2.CascadeClassifier(
        cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    )
    found: dict[str, Any] = {}
    for label in ("with_mask", "without_mask"):
        paths = sorted(glob.glob(str(FACE_PHOTOS / label / "*.jpg")))
        hits = {"mtcnn": 0, "haar": 0}
        for path in paths:
            canvas = _on_canvas(np.asarray(Image.open(path).convert("RGB")))
            hits["mtcnn"] += len(mtcnn(canvas)) > 0
            grey = cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)
            hits["haar"] += (
                len(cascade.detectMultiScale(grey, 1.1, 3, minSize=(24, 24))) > 0
            )
        found[label] = {name: f"{n}/{len(paths)}" for name, n in hits.items()}
    return found


def _on_canvas(photo: np.ndarray, side: int = 160) -> np.ndarray:
    import cv2

    scale = side / max(photo.shape[:2])
    small = cv2.resize(
        photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    )
    h, w = small.shape[:2]
    canvas = np.full((2 * h, 2 * w, 3), 128, np.uint8)
    canvas[h // 2 : h // 2 + h, w // 2 : w // 2 + w] = small
    return canvas


def synthetic_clips(run_id: str, per_class: int, folder: Path) -> dict[str, Any]:
    """Test photos moving across a wall: coverage and label of the longest track."""
    from core import runs
    from core.vision import tracking

    model, info = runs.load_model(run_id), runs.read_info(run_id)
    examples = runs.read_evaluation(run_id)["examples"]
    chosen: list[dict] = []
    for name in info["class_names"]:
        chosen += [e for e in examples if e["actual"] == name][:per_class]
    clips = []
    for example in chosen:
        path = _moving_photo_clip(FACE_PHOTOS / example["file"], folder / "clip.mp4")
        result = tracking.track_video(model, path, path.name, info, "faces")
        clips.append(_clip_score(example, result))
    covered = [c for c in clips if c["coverage"] >= 0.8]
    return {
        "clips": len(clips),
        "one_track_over_80pct": len(covered),
        "right_label_given_covered": sum(c["right"] for c in covered),
        "still_photo_right": sum(c["still_right"] for c in clips),
        "per_clip": clips,
    }


def _clip_score(example: dict, result: Any) -> dict[str, Any]:
    longest = (
        result.tracks.sort_values("frames").iloc[-1] if len(result.tracks) else None
    )
    frames = int(longest["frames"]) if longest is not None else 0
    label = str(longest["label"]) if longest is not None else ""
    return {
        "file": example["file"],
        "tracks": len(result.tracks),
        "coverage": round(frames / result.frames, 3),
        "label": label,
        "right": label == example["actual"],
        "still_right": example["predicted"] == example["actual"],
    }


def _moving_photo_clip(photo: Path, path: Path, frames: int = 30) -> Path:
    from PIL import Image

    from core.vision import video

    face = Image.open(photo).convert("RGB")
    face = np.asarray(face.resize((120, round(120 * face.height / face.width))))
    rng = np.random.default_rng(0)
    wall = np.clip(rng.normal(110, 25, (480, 854, 3)), 0, 255).astype(np.uint8)
    height = min(face.shape[0], 400)
    shots = []
    for index in range(frames):
        frame = wall.copy()
        x, y = 20 + index * 24, 40 + int(20 * np.sin(index / 5))
        frame[y : y + height, x : x + 120] = face[:height]
        shots.append(frame)
    video.write_test_video(path, shots, fps=10)
    return path


def real_clip(run_id: str) -> dict[str, Any]:
    """Tracks on the bundled real clip, with frames covered and labels."""
    from core.vision import tracking

    result = tracking.track_run_video(run_id, REAL_CLIP, "faces")
    return {
        "frames": result.frames,
        "tracks": result.tracks.to_dict("records"),
        "fps_wall": round(result.speed_fps, 1),
    }


def speed(run_id: str, folder: Path) -> dict[str, Any]:
    """Frames per second on 480p: faces on the real clip, motion on a synthetic clip."""
    from core.vision import tracking, video

    rng = np.random.default_rng(1)
    wall = rng.integers(0, 80, (480, 854, 3)).astype(np.uint8)
    shots = []
    for index in range(100):
        frame = wall.copy()
        frame[200:300, 10 + index * 7 : 110 + index * 7] = (230, 60, 30)
        shots.append(frame)
    moving = folder / "moving.mp4"
    video.write_test_video(moving, shots, fps=10)
    timings = {}
    for find, clip in (("faces", REAL_CLIP), ("motion", moving)):
        tracking.track_run_video(run_id, clip, find)  # warm up (graphs, caches)
        cpu, wall_start = time.process_time(), time.perf_counter()
        result = tracking.track_run_video(run_id, clip, find, folder / "out.mp4")
        cpu, wall_s = time.process_time() - cpu, time.perf_counter() - wall_start
        timings[find] = {
            "frames": result.frames,
            "size": "640x480" if find == "faces" else "854x480",
            "fps_wall": round(result.frames / wall_s, 1),
            "fps_per_cpu_second": round(result.frames / cpu, 1),
        }
    timings["load_average_1min"] = round(os.getloadavg()[0], 1)
    timings["cpus"] = os.cpu_count()
    return timings


def main() -> None:
    """Runs the benchmark and prints and saves its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished face-mask image run")
    parser.add_argument("--clips", type=int, default=10, help="test photos per class")
    parser.add_argument("--quick", action="store_true", help="skip the finder recall")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results: dict[str, Any] = {"run_id": args.run}
    with tempfile.TemporaryDirectory() as folder:
        if not args.quick:
            results["finder_recall"] = finder_recall()
        results["synthetic"] = synthetic_clips(args.run, args.clips, Path(folder))
        results["real_clip"] = real_clip(args.run)
        results["speed_480p"] = speed(args.run, Path(folder))
    covered = [c["coverage"] for c in results["synthetic"]["per_clip"]]
    results["synthetic"]["coverage_median"] = statistics.median(covered)
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2, default=str))
    print(
        json.dumps({k: v for k, v in results.items() if k != "synthetic"}, default=str)
    )
    print(
        json.dumps({k: v for k, v in results["synthetic"].items() if k != "per_clip"})
    )


if __name__ == "__main__":
    main()
