"""Benchmark: image classification on the bundled face-mask photos and other real sets.

Run from the repository root:

    PYTHONPATH=. python -m bench.images [--quick] [--json]
    PYTHONPATH=. python -m bench.images --quality [--sets face_mask flowers digits]
        [--seeds 1 2 3] [--param NAME=VALUE ...] [--json]

`--quality` trains the default template (`core.training.train_run`) on each real photo
set, 300 pictures each (`QUALITY_SETS`: the face-mask sample whole; flowers and digits
from ../shared/data, a fixed sample per class; cats and dogs from bench/data), over
several seeds, and reports test accuracy as mean ± standard deviation, from scratch and,
for every backbone whose weights are on this computer (`python -m core weights fetch`),
pre-trained.

Without `--quality` it reports, in one run:
- test accuracy of a full training run (`core.training.train_run`, default parameters)
  next to the majority-class baseline;
- training images/s of our tf.data pipeline (decode once, cache, prefetch) against a bare
  `model.fit` on the same decoded arrays, with augmentation off on both sides so only the
  input pipeline differs (target: overhead <= 1.1x);
- first-epoch time (pictures are decoded) against later epochs (read from the cache);
- single-picture prediction latency (decode + resize + model) with the saved model.
Everything runs in a temporary workspace; the user's workspace is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "images.json"
QUALITY_FILE = ROOT / "bench" / "results" / "images_quality.json"
SHARED_DATA = next(  # the development workspace's real data sets (../shared/data)
    (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)
QUALITY_SETS = {  # name -> (folder of class folders, pictures per class)
    "face_mask": (ROOT / "sample_data" / "face_mask", 150),
    "flowers": (SHARED_DATA / "images_flowers", 60),
    "digits": (SHARED_DATA / "images_digits", 30),
    "cats_dogs": (ROOT / "bench" / "data" / "cats_dogs", 150),
}
MAX_OVERHEAD = 1.1
TIMED_EPOCHS = 6


class EpochTimer:
    """Keras callback factory: wall time of each epoch."""

    def __new__(cls) -> Any:
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times, self.started = [], 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self.started)

        return _Timer()


def full_run(
    dataset_id: str, epochs: int | None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Trains one run end to end with the default parameters; returns its scores."""
    from core import runs, training

    params = {**(overrides or {}), **({} if epochs is None else {"epochs": epochs})}
    spec = runs.RunSpec("image_classification", dataset_id, None, params)
    run_id = runs.create_run(spec)
    started = time.perf_counter()
    state = training.train_run(run_id)
    report = runs.read_evaluation(run_id)
    return {
        "run_id": run_id,
        "state": state,
        "seconds": round(time.perf_counter() - started, 1),
        "epochs_run": runs.read_status(run_id).epoch,
        "test_accuracy": report["metrics"]["accuracy"],
        "baseline_accuracy": report["baseline"]["accuracy"],
        "n_test": report["n_test"],
        "model_note": report["model_note"],
        "backbone": runs.read_info(run_id)["backbone"],
    }


def store_quality_set(name: str) -> str:
    """Stores a fixed sample (seeded, per class) of one real photo set; returns its id."""
    from core.vision import ingest

    folder, per_class = QUALITY_SETS[name]
    files = []
    for klass in sorted(p for p in folder.iterdir() if p.is_dir()):
        names = sorted(p.name for p in klass.iterdir() if p.is_file())
        for chosen in random.Random(0).sample(names, min(per_class, len(names))):
            files.append((f"{klass.name}/{chosen}", (klass / chosen).read_bytes()))
    return ingest.store_files(name, files)


def quality(
    sets: list[str], seeds: list[int], overrides: dict[str, Any]
) -> dict[str, Any]:
    """Test accuracy, mean ± standard deviation over seeds, per set and network."""
    from core.vision import weights

    networks = ["small_cnn"] + [n for n, p in weights.readiness().items() if p]
    result: dict[str, Any] = {}
    for name in sets:
        dataset_id = store_quality_set(name)
        for network in networks:
            runs_ = [
                full_run(
                    dataset_id, None, {**overrides, "backbone": network, "seed": s}
                )
                for s in seeds
            ]
            scores = [r["test_accuracy"] for r in runs_]
            result[f"{name}/{network}"] = {
                "mean": round(statistics.mean(scores), 4),
                "std": round(statistics.stdev(scores), 4) if len(scores) > 1 else 0.0,
                "baseline": runs_[0]["baseline_accuracy"],
                "n_test": runs_[0]["n_test"],
                "runs": runs_,
            }
            line = result[f"{name}/{network}"]
            print(
                f"{name:<10} {network:<20} {line['mean']:.3f} ± {line['std']:.3f} "
                f"(baseline {line['baseline']:.3f}, {line['n_test']} test pictures)",
                file=sys.stderr,
            )
    return result


def pipeline_vs_bare(dataset_id: str) -> dict[str, Any]:
    """Epoch times of our pipeline and of a bare fit on the same decoded arrays."""
    import keras
    import numpy as np

    from core.catalog import get_template
    from core.templates.params import resolve_params
    from core.vision import bundle as vision_bundle

    template = get_template("image_classification")
    params = resolve_params(template, {"augment": False})
    keras.utils.set_random_seed(0)
    prepared = template.prepare(template.load_data(dataset_id), None, params, 0)
    ours = EpochTimer()
    model = template.build_model(prepared, params)
    model.fit(prepared.train.inputs, epochs=TIMED_EPOCHS, callbacks=[ours], verbose=0)

    size, rows = int(params["image_size"]), prepared.train.raw
    folder = template.load_data(dataset_id).folder
    x = np.stack(
        [
            vision_bundle.load_image((folder / p).read_bytes(), size)
            for p in rows["path"]
        ]
    ).astype("float32")
    bare = EpochTimer()
    keras.utils.set_random_seed(0)
    model = template.build_model(prepared, params)
    model.fit(
        x,
        rows["y"].to_numpy(),
        batch_size=int(params["batch_size"]),
        epochs=TIMED_EPOCHS,
        callbacks=[bare],
        verbose=0,
    )
    n = len(rows)
    ours_later = statistics.median(ours.times[1:])
    bare_later = statistics.median(bare.times[1:])
    return {
        "n_train": n,
        "image_size": size,
        "first_epoch_s": round(ours.times[0], 3),
        "later_epoch_s": round(ours_later, 3),
        "ours_images_per_s": round(n / ours_later, 1),
        "bare_fit_images_per_s": round(n / bare_later, 1),
        "overhead": round(ours_later / bare_later, 3),
    }


def latency(run_id: str, repeats: int) -> dict[str, Any]:
    """Median time to classify one picture file with the saved model."""
    from core import runs
    from core.vision import bundle as vision_bundle
    from core.vision import ingest

    model = runs.load_model(run_id)
    info = runs.read_info(run_id)
    path = sorted((ingest.SAMPLE_FOLDER / "with_mask").glob("*.jpg"))[0]
    named = [(path.name, path.read_bytes())]
    vision_bundle.predict_images(model, named, info)  # warm-up (traces the model)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        vision_bundle.predict_images(model, named, info)
        times.append(time.perf_counter() - started)
    return {"single_picture_ms": round(1000 * statistics.median(times), 1)}


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.images", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 5-epoch full run")
    parser.add_argument(
        "--json", action="store_true", help=f"also write {RESULTS_FILE}"
    )
    parser.add_argument("--quality", action="store_true", help="accuracy over seeds")
    parser.add_argument("--sets", nargs="+", default=list(QUALITY_SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    if args.quality:
        return quality_main(args)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = tmp
        from core.vision import ingest

        dataset_id = ingest.store_sample()
        result: dict[str, Any] = {
            "full_run": full_run(dataset_id, 5 if args.quick else None)
        }
        result["pipeline"] = pipeline_vs_bare(dataset_id)
        result["prediction"] = latency(result["full_run"]["run_id"], 20)
    result["ok"] = {
        "overhead": result["pipeline"]["overhead"] <= MAX_OVERHEAD,
        "accuracy_90": result["full_run"]["test_accuracy"] >= 0.9,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_FILE.write_text(text + "\n")
    return 0


def quality_main(args: argparse.Namespace) -> int:
    """Runs `quality` in a temporary workspace and prints one JSON object."""
    overrides = {}
    for item in args.param:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value) if value[:1].isdigit() else value
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = tmp
        result = {
            "params": overrides,
            "load_average_1min": os.getloadavg()[0],
            "sets": quality(args.sets, args.seeds, overrides),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        QUALITY_FILE.parent.mkdir(parents=True, exist_ok=True)
        QUALITY_FILE.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
