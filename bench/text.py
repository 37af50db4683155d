"""Benchmark: text classification beside the TF-IDF + logistic regression reference.

Run from the repository root:

    PYTHONPATH=. python -m bench.text [--seeds 1,2,3] [--full] [--json]

`--full` reads ../shared/data next to the checkout (or the folder in $SHARED_DATA).

Reports, in one run:
- for the sentiment and language samples (with `--full`, also the whole data sets in
  ../shared/data): test accuracy of full training runs (`core.training.train_run`,
  default parameters) per seed, beside the reference fitted on the same rows and the
  majority baseline, with training and reference-fit seconds;
- single-text prediction latency of the saved model, warm (target <= 20 ms on 2 CPUs);
- memory and time to score 100,000 short texts.
Everything runs in a temporary workspace; the user's workspace is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS_FILE = ROOT / "bench" / "results" / "text.json"
DATASETS = {  # name -> (path, target)
    "sentiment sample": (ROOT / "sample_data" / "sentiment_sentences.csv", "label"),
    "language sample": (ROOT / "sample_data" / "language_detection.csv", "Language"),
}
FULL_DATASETS = {
    "sentiment (3,000)": (
        SHARED / "sentiment_labelled_sentences" / "sentiment_sentences.csv",
        "label",
    ),
    "language (7,235)": (
        SHARED / "language_detection" / "language_detection.csv",
        "Language",
    ),
}
LATENCY_CALLS = 50
MANY_TEXTS = 100_000
LATENCY_TARGET_MS = 20


def full_run(path: Path, target: str, seed: int) -> dict[str, Any]:
    """Trains one run end to end with the default parameters; returns its scores."""
    from core import datasets, runs, training

    dataset_id = datasets.store_upload(path.name, path.read_bytes())
    spec = runs.RunSpec("text_classification", dataset_id, target, {"seed": seed})
    run_id = runs.create_run(spec)
    started = time.perf_counter()
    state = training.train_run(run_id)
    report = runs.read_evaluation(run_id)
    return {
        "run_id": run_id,
        "state": state,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "epochs_run": runs.read_status(run_id).epoch,
        "architecture": report["architecture"],
        "accuracy": report["metrics"]["accuracy"],
        "reference_accuracy": report["reference"]["accuracy"],
        "baseline_accuracy": report["baseline"]["accuracy"],
        "reference_fit_seconds": round(report["reference_fit_seconds"], 2),
        "reference_comparison": report["reference_comparison"]["winner"],
        "n_test": report["n_test"],
    }


def summarize_runs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds of ours and the reference."""

    def spread(key: str) -> str:
        values = [r[key] for r in rows]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {std:.3f}"

    return {
        "ours": spread("accuracy"),
        "reference": spread("reference_accuracy"),
        "baseline": f"{rows[0]['baseline_accuracy']:.3f}",
        "train_seconds": spread("seconds"),
        "reference_fit_seconds": spread("reference_fit_seconds"),
        "comparisons": [r["reference_comparison"] for r in rows],
    }


def latency(run_id: str) -> dict[str, Any]:
    """Warm single-text latency and the cost of 100,000 short texts."""
    from core import runs
    from core.text import bundle as text_bundle

    model = runs.load_model(run_id)
    text = "The battery lasts all day and the screen is lovely."
    for _ in range(5):
        text_bundle.predict_proba(model, [text])
    times = []
    for _ in range(LATENCY_CALLS):
        started = time.perf_counter()
        text_bundle.predict_proba(model, [text])
        times.append((time.perf_counter() - started) * 1000)
    texts = [f"{text} Review number {i}." for i in range(MANY_TEXTS)]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    proba = text_bundle.predict_proba(model, texts)
    seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "single_text_ms_median": round(statistics.median(times), 2),
        "single_text_ms_p90": round(sorted(times)[int(0.9 * len(times))], 2),
        "target_ms": LATENCY_TARGET_MS,
        "texts_scored": len(proba),
        "many_texts_seconds": round(seconds, 2),
        "many_texts_peak_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark, prints it, and writes bench/results/text.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--full", action="store_true", help="also ../shared/data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    chosen = {**DATASETS, **(FULL_DATASETS if args.full else {})}
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, Any] = {"cpus": os.cpu_count(), "datasets": {}}
    with tempfile.TemporaryDirectory() as workspace:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = workspace
        for name, (path, target) in chosen.items():
            rows = [full_run(path, target, seed) for seed in seeds]
            results["datasets"][name] = {"runs": rows, **summarize_runs(rows)}
            print(name, json.dumps(summarize_runs(rows)), flush=True)
        first = results["datasets"]["sentiment sample"]["runs"][0]["run_id"]
        results["latency"] = latency(first)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2))
    print(json.dumps(results if args.json else results["latency"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
