"""Benchmark: scoring throughput (rows/s) of a fraud model through the CLI, 100k rows.

Run from the repository root:

    PYTHONPATH=. python -m bench.scoring [--data CARDS.csv] [--rows 100000] [--json]

It trains a `tabular_classification` run on the card sample (target `Class`) in a
temporary workspace, makes `--rows` rows by drawing the sample's rows with replacement
(without `Class`), and times:

- `python -m core predict RUN_ID rows.csv -o out.csv` in a fresh process: what a user
  of the command line waits for (Python and TensorFlow start, model load, CSV read,
  scoring, CSV write);
- the same scoring in-process (`core.prediction.predict_frame` on the loaded model), the
  steady-state speed an app or a service gets;
- the reference: scikit-learn's HistGradientBoosting (fitted on the sample, one thread
  as `core.tables.report` fits it) `predict_proba` on the same rows, in-process.

It also checks that the CLI flagged exactly the rows the run's threshold flags.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "scoring.json"
DEFAULT_DATA = Path("../shared/data/creditcard_fraud_sample/creditcard_sample.csv")
TARGET = "Class"
TRAIN_PARAMS = {"epochs": 60, "patience": 10}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scoring", description=__doc__
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="card sample CSV"
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows to score")
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"also write {RESULTS_FILE.relative_to(ROOT)}",
    )
    return parser.parse_args(argv)


def train(data_path: Path) -> str:
    """Trains the fraud run in the current workspace; returns its id."""
    from core import datasets, runs, training

    dataset_id = datasets.store_upload(data_path.name, data_path.read_bytes())
    spec = runs.RunSpec("tabular_classification", dataset_id, TARGET, TRAIN_PARAMS)
    run_id = runs.create_run(spec)
    if training.train_run(run_id) != "completed":
        raise SystemExit(f"training failed: {runs.read_status(run_id).error}")
    return run_id


def time_cli(run_id: str, rows_csv: Path, out: Path) -> float:
    """Seconds for `python -m core predict` in a fresh process (start to exit)."""
    command = [
        sys.executable,
        "-m",
        "core",
        "predict",
        run_id,
        str(rows_csv),
        "-o",
        str(out),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=1800)
    return time.perf_counter() - started


def time_in_process(run_id: str, rows: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """Seconds for `core.prediction.predict_frame` on an already loaded model."""
    from core import prediction, runs

    model = runs.load_model(run_id)
    prediction.predict_frame(run_id, rows.head(100), model=model)  # warm up the graph
    started = time.perf_counter()
    scored, _ = prediction.predict_frame(run_id, rows, model=model)
    return time.perf_counter() - started, scored


def time_reference(sample: pd.DataFrame, rows: pd.DataFrame) -> float:
    """Seconds for HistGradientBoosting's predict_proba on the same rows (one thread)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        model = HistGradientBoostingClassifier(random_state=0)
        model.fit(sample.drop(columns=TARGET), sample[TARGET])
        started = time.perf_counter()
        model.predict_proba(rows[model.feature_names_in_])
        return time.perf_counter() - started


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Trains, scores and times; returns the results."""
    from core import runs

    sample = pd.read_csv(args.data)
    rows = sample.drop(columns=TARGET).sample(args.rows, replace=True, random_state=0)
    rows = rows.reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = str(Path(tmp) / "workspace")
        run_id = train(args.data)
        rows_csv, out = Path(tmp) / "rows.csv", Path(tmp) / "out.csv"
        rows.to_csv(rows_csv, index=False)
        cli_s = time_cli(run_id, rows_csv, out)
        cli_flags = pd.read_csv(out)["prediction"].astype(str)
        memory_s, scored = time_in_process(run_id, rows)
        threshold = runs.read_info(run_id)["decision"]["threshold"]
        metrics = runs.read_evaluation(run_id)
    reference_s = time_reference(sample, rows)
    same = cli_flags.tolist() == scored["prediction"].astype(str).tolist()
    return {
        "rows": args.rows,
        "threshold": threshold,
        "flagged": int((cli_flags == "1").sum()),
        "cli_flags_match_in_process": same,
        "cli_s": cli_s,
        "cli_rows_per_s": args.rows / cli_s,
        "in_process_rows_per_s": args.rows / memory_s,
        "reference_rows_per_s": args.rows / reference_s,
        "average_precision": metrics["metrics"]["average_precision"],
        "reference_average_precision": metrics["reference"]["average_precision"],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }


def main(argv: list[str] | None = None) -> int:
    """Prints the throughput table (and writes JSON with `--json`)."""
    args = parse_args(argv)
    result = run(args)
    print(f"Scoring {result['rows']:,} card rows ({result['machine']})")
    print(f"{'path':<44} {'rows/s':>10}")
    for label, key in (
        ("python -m core predict (fresh process, CSV)", "cli_rows_per_s"),
        ("predict_frame, model loaded (in-process)", "in_process_rows_per_s"),
        ("HistGradientBoosting predict_proba", "reference_rows_per_s"),
    ):
        print(f"{label:<44} {result[key]:>10,.0f}")
    print(
        f"CLI took {result['cli_s']:.1f} s; flagged {result['flagged']:,} rows at threshold "
        f"{result['threshold']:g} (same flags in-process: {result['cli_flags_match_in_process']}); "
        f"average precision {result['average_precision']:.3f} vs reference "
        f"{result['reference_average_precision']:.3f}."
    )
    if args.json:
        RESULTS_FILE.parent.mkdir(exist_ok=True)
        RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return 0 if result["cli_flags_match_in_process"] else 1


if __name__ == "__main__":
    sys.exit(main())
