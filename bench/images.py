"""Benchmark: image classification on the bundled face-mask photos.

Run from the repository root:

    PYTHONPATH=. python -m bench.images [--quick] [--json]

Reports, in one run:
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
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "images.json"
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


def full_run(dataset_id: str, epochs: int | None) -> dict[str, Any]:
    """Trains one run end to end with the default parameters; returns its scores."""
    from core import runs, training

    params = {} if epochs is None else {"epochs": epochs}
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
    }


def pipeline_vs_bare(dataset_id: str) -> dict[str, Any]:
    """Epoch times of our pipeline and of a bare fit on the same decoded arrays."""
    import keras
    import numpy as np

    from core.templates import get_template
    from core.templates.base import resolve_params
    from core.vision import bundle as bundle_images

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
            bundle_images.load_image((folder / p).read_bytes(), size)
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
    from core import export, runs
    from core.vision import bundle as bundle_images
    from core.vision import ingest as images

    model = export.load_model(run_id)
    info = runs.read_info(run_id)
    path = sorted((images.SAMPLE_FOLDER / "with_mask").glob("*.jpg"))[0]
    named = [(path.name, path.read_bytes())]
    bundle_images.predict_images(model, named, info)  # warm-up (traces the model)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        bundle_images.predict_images(model, named, info)
        times.append(time.perf_counter() - started)
    return {"single_picture_ms": round(1000 * statistics.median(times), 1)}


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.images", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 5-epoch full run")
    parser.add_argument(
        "--json", action="store_true", help=f"also write {RESULTS_FILE}"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = tmp
        from core.vision import ingest as images

        dataset_id = images.store_sample()
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


if __name__ == "__main__":
    raise SystemExit(main())
