"""Benchmark: the forecasting template on the bundled Seattle weather sample.

Run from the repository root:

    PYTHONPATH=. python -m bench.forecast [--quick] [--json]

It trains one run end to end (`core.training.train_run`, default parameters, target
`temp_max`) and reads its test MAE next to persistence, seasonal naive and moving
average. It times `core.training.fit_model` against a bare `model.fit` of the same
network on the same windows (same tf.data pipeline, and plain arrays beside it) for the
same number of epochs, per epoch, and the forecast latency: the whole `forecast_from`
(CSV table → cleaned series → window → model → table) and the model call alone.
Everything runs in a temporary workspace.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "forecast.json"
SAMPLE, TARGET, TEMPLATE = "seattle_weather.csv", "temp_max", "timeseries_forecasting"
MAX_OVERHEAD = 1.1
LATENCY_CALLS = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.forecast", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="one timing repeat, not 3")
    parser.add_argument(
        "--json", action="store_true", help="also write the results file"
    )
    return parser.parse_args(argv)


def prepare_case() -> dict[str, Any]:
    """Stores the sample and prepares its windows exactly as a run does."""
    from core import datasets, runs
    from core.catalog import get_template
    from core.templates.params import resolve_params

    dataset_id = datasets.store_sample(SAMPLE)
    spec = runs.RunSpec(TEMPLATE, dataset_id, TARGET, {}, dataset_name=SAMPLE)
    template = get_template(TEMPLATE)
    params = resolve_params(template, {})
    frame = datasets.load_table(dataset_id)
    prepared = template.prepare(frame, TARGET, params, int(params["seed"]))
    return {"spec": spec, "template": template, "params": params, "frame": frame,
            "prepared": prepared}  # fmt: skip


def fresh_model(case: dict[str, Any]) -> Any:
    """Builds the run's network from scratch with the run's seed."""
    import keras

    keras.utils.set_random_seed(int(case["params"]["seed"]))
    return case["template"].build_model(case["prepared"], case["params"])


def train_once(case: dict[str, Any]) -> dict[str, Any]:
    """Trains one run end to end; returns its time, epochs and test report."""
    from core import runs, training

    run_id = runs.create_run(case["spec"])
    started = time.perf_counter()
    state = training.train_run(run_id)
    if state != "completed":
        raise RuntimeError(
            f"run {run_id} ended {state}: {runs.read_status(run_id).error}"
        )
    return {
        "run_id": run_id,
        "total_s": time.perf_counter() - started,
        "epochs": len(runs.read_metrics(run_id)),
        "evaluation": runs.read_evaluation(run_id),
    }


def bare_fit(case: dict[str, Any], epochs: int, pipeline: bool) -> float:
    """A plain `model.fit` of the same network on the same windows, no callbacks."""
    from core.training import as_dataset

    prepared, batch = case["prepared"], int(case["params"]["batch_size"])
    model = fresh_model(case)
    if pipeline:
        feed = {
            "x": as_dataset(prepared.train, batch, shuffle_seed=0),
            "validation_data": as_dataset(prepared.val, batch),
            "shuffle": False,
        }
    else:
        feed = {"x": prepared.train.inputs, "y": prepared.train.targets,
                "validation_data": (prepared.val.inputs, prepared.val.targets),
                "batch_size": batch}  # fmt: skip
    started = time.perf_counter()
    model.fit(**feed, epochs=epochs, verbose=0)
    return time.perf_counter() - started


def time_fits(case: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Our `fit_model` against the bare fits, interleaved; the fastest of each, per epoch."""
    from core import runs, training

    run_id = runs.create_run(case["spec"])
    ours, bare, arrays = [], [], []
    for _ in range(repeats):
        model = fresh_model(case)
        started = time.perf_counter()
        history = training.fit_model(run_id, model, case["prepared"], case["params"])
        epochs = len(history.history["loss"])
        ours.append((time.perf_counter() - started) / epochs)
        bare.append(bare_fit(case, epochs, pipeline=True) / epochs)
        arrays.append(bare_fit(case, epochs, pipeline=False) / epochs)
    return {"epoch_s": min(ours), "bare_epoch_s": min(bare),
            "arrays_epoch_s": min(arrays), "overhead": min(ours) / min(bare)}  # fmt: skip


def time_latency(case: dict[str, Any], run_id: str) -> dict[str, float]:
    """Median milliseconds of a whole forecast from the table, and of the model alone."""
    import numpy as np

    from core import runs
    from core.series import bundle as series_bundle
    from core.series.template import forecast_from

    info = runs.read_info(run_id)
    model = runs.load_model(run_id)
    frame = case["frame"]
    window = series_bundle.last_window(series_bundle.regular_series(frame, info), info)
    whole, alone = [], []
    for _ in range(LATENCY_CALLS):
        started = time.perf_counter()
        forecast_from(model, frame, info)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        np.asarray(model(window, training=False))
        alone.append(time.perf_counter() - started)
    return {"forecast_ms": 1e3 * statistics.median(whole),
            "model_ms": 1e3 * statistics.median(alone)}  # fmt: skip


def run_benchmark(quick: bool) -> dict[str, Any]:
    """Runs everything in a temporary workspace and returns the results."""
    from core import workspace

    with tempfile.TemporaryDirectory() as tmp:
        os.environ[workspace.WORKSPACE_ENV] = tmp
        case = prepare_case()
        run = train_once(case)
        fits = time_fits(case, 1 if quick else 3)
        latency = time_latency(case, run["run_id"])
    report = run.pop("evaluation")
    return {
        "sample": SAMPLE, "target": TARGET, **run, **fits, **latency,
        "windows": {k: case["prepared"].info[k] for k in ("n_train", "n_val", "n_test")},
        "metrics": report["metrics"], "baselines": report["baselines"],
        "coverage": report["coverage"]["observed"],
    }  # fmt: skip


def print_report(result: dict[str, Any]) -> None:
    """Prints the numbers and the two verdicts."""
    beats = result["metrics"]["mae"] < result["baselines"]["persistence"]["mae"]
    print(f"{SAMPLE} → {TARGET}: {result['windows']} windows, {result['epochs']} epochs, "
          f"train_run {result['total_s']:.1f} s")  # fmt: skip
    print(f"  test MAE: model {result['metrics']['mae']:.3f}, " + ", ".join(
        f"{k} {v['mae']:.3f}" for k, v in result["baselines"].items()
    ) + f"; 80% range coverage {result['coverage']:.0%}")  # fmt: skip
    print(
        f"  epoch: ours {1e3 * result['epoch_s']:.1f} ms, bare fit (same pipeline) "
        f"{1e3 * result['bare_epoch_s']:.1f} ms, bare fit on arrays "
        f"{1e3 * result['arrays_epoch_s']:.1f} ms → overhead {result['overhead']:.2f}x"
    )
    print(f"  forecast latency: {result['forecast_ms']:.1f} ms from the table "
          f"(model alone {result['model_ms']:.1f} ms)")  # fmt: skip
    print(
        f"  beats persistence: {'PASS' if beats else 'FAIL'}; overhead ≤ "
        f"{MAX_OVERHEAD}x: {'PASS' if result['overhead'] <= MAX_OVERHEAD else 'FAIL'}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = run_benchmark(args.quick)
    print_report(result)
    if args.json:
        RESULTS_FILE.parent.mkdir(exist_ok=True)
        RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
