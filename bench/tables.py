"""Benchmark: test scores of our table network against HistGradientBoosting and the baseline.

Run from the repository root:

    PYTHONPATH=. python -m bench.tables [--seeds 1 2 3] [--only NAME ...] [--json]

For every real table and seed it splits the rows as a run does (the seed picks the split,
the network's initial weights and the shuffling), trains our default network with
`core.training.fit_model`, and scores it on the test rows beside the gradient-boosting
reference and the most-frequent-class / mean baseline that `core.tables.report` uses. It
prints each score as mean ± spread over the seeds, and a paired bootstrap over the pooled
test rows of all seeds says whether ours differs from the reference beyond noise.
Everything runs in a temporary workspace; the user's workspace is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# The team's shared data folder sits beside the main checkout (worktrees are one deeper).
SHARED = next(
    (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT / "shared" / "data",
)
RESULTS_FILE = ROOT / "bench" / "results" / "tables.json"
SEEDS = (1, 2, 3)
BOOTSTRAP_DRAWS = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Table:
    """One benchmark table: where it comes from, what to predict and with which template."""

    name: str
    target: str
    template: str
    load: Callable[[], pd.DataFrame]
    note: str = ""


def _csv(path: Path, drop: tuple[str, ...] = ()) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from core import table_reading

        frame = table_reading.read_csv_bytes(path.read_bytes(), path.name)
        return frame.drop(columns=list(drop))

    return load


def _sklearn(loader: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        # Keras input names cannot hold "/" (wine's od280/od315_of_diluted_wines).
        frame = bunch.frame.rename(columns=lambda c: c.replace("/", "_"))
        if loader != "load_diabetes":  # class indices as their names
            frame["target"] = np.asarray(bunch.target_names)[bunch.target]
        return frame

    return load


TABLES = (
    Table(
        "heart_disease_uci",
        "num",
        "tabular_classification",
        _csv(ROOT / "bench" / "data" / "heart_disease_uci.csv", drop=("id",)),
        "920 rows, 4 sites, 5 classes, many blanks",
    ),
    Table(
        "heart_disease_cleveland",
        "target",
        "tabular_classification",
        _csv(ROOT / "sample_data" / "heart.csv"),
        "303 rows, 2 classes",
    ),
    Table(
        "seattle_weather",
        "weather",
        "tabular_classification",
        _csv(ROOT / "sample_data" / "seattle_weather.csv"),
        "1461 days, 5 classes, imbalanced",
    ),
    Table(
        "creditcard_fraud_sample",
        "Class",
        "tabular_classification",
        _csv(SHARED / "creditcard_fraud_sample" / "creditcard_sample.csv"),
        "1968 rows, 2 classes (16.7% fraud)",
    ),
    Table(
        "wine", "target", "tabular_classification", _sklearn("load_wine"), "178 rows"
    ),
    Table(
        "breast_cancer",
        "target",
        "tabular_classification",
        _sklearn("load_breast_cancer"),
        "569 rows, 30 numbers",
    ),
    Table(
        "auto_mpg",
        "mpg",
        "tabular_regression",
        _csv(ROOT / "sample_data" / "auto_mpg.csv"),
        "398 rows, 6 blanks",
    ),
    Table(
        "diabetes",
        "target",
        "tabular_regression",
        _sklearn("load_diabetes"),
        "442 rows",
    ),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.tables", description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument(
        "--only", nargs="+", default=None, help="table names to run (default: all)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, e.g. --param hidden_units=128,64",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"also write {RESULTS_FILE.relative_to(ROOT)}",
    )
    return parser.parse_args(argv)


def run_once(
    table: Table, frame: pd.DataFrame, seed: int, overrides: dict[str, str]
) -> dict[str, Any]:
    """Trains our network on one seeded split; returns per-row test scores of all three.

    The per-row score is 1/0 for a right/wrong class (mean: accuracy) and the absolute
    error for numbers (mean: MAE).
    """
    import keras

    from core import datasets, runs, training
    from core.catalog import get_template
    from core.tables import report
    from core.tables.bundle import predict_outputs
    from core.templates.params import resolve_params

    template = get_template(table.template)
    params = resolve_params(template, {**overrides, "seed": seed})
    keras.utils.set_random_seed(seed)
    prepared = template.prepare(frame, table.target, params, seed)
    dataset_id = datasets.store_upload(f"{table.name}.csv", b"bench")
    run_id = runs.create_run(runs.RunSpec(table.template, dataset_id, table.target, {}))
    started = time.perf_counter()
    model = template.build_model(prepared, params)
    history = training.fit_model(run_id, model, prepared, params)
    fit_s = time.perf_counter() - started
    test = prepared.test
    outputs = predict_outputs(model, test.raw, prepared.info["schema"])
    estimator = (
        report.HistGradientBoostingClassifier
        if template.task == "classification"
        else report.HistGradientBoostingRegressor
    )
    reference, ref_s = report._reference(prepared, estimator, seed)  # one thread
    reference_out = reference.predict(report._reference_frame(prepared, test))
    y = test.targets
    if template.task == "classification":
        baseline = np.bincount(prepared.train.targets).argmax()
        rows = {
            "ours": outputs.argmax(axis=1) == y,
            "reference": reference_out == y,
            "baseline": np.full(len(y), baseline) == y,
        }
    else:
        rows = {
            "ours": np.abs(outputs[:, 0] - y),
            "reference": np.abs(reference_out - y),
            "baseline": np.abs(prepared.train.targets.mean() - y),
        }
    return {
        "seed": seed,
        "rows": {k: v.astype("float64") for k, v in rows.items()},
        "fit_s": fit_s,
        "ref_fit_s": ref_s,
        "epochs": len(history.history["loss"]),
        "n_train": prepared.info["n_train"],
    }


def paired_bootstrap(diff: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Returns the `CONFIDENCE` interval of the mean of `diff` over resampled rows."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diff), size=(BOOTSTRAP_DRAWS, len(diff)))
    means = diff[draws].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def summarize(table: Table, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± spread over seeds per model, and the paired verdict ours vs reference."""
    higher_is_better = table.template == "tabular_classification"
    scores = {
        who: [float(r["rows"][who].mean()) for r in results]
        for who in ("ours", "reference", "baseline")
    }
    diff = np.concatenate([r["rows"]["ours"] - r["rows"]["reference"] for r in results])
    low, high = paired_bootstrap(diff)
    if low <= 0 <= high:
        verdict = "within noise"
    else:
        verdict = "ours better" if (low > 0) == higher_is_better else "reference better"
    return {
        "table": table.name,
        "note": table.note,
        "metric": "accuracy" if higher_is_better else "MAE",
        "seeds": [r["seed"] for r in results],
        "scores": scores,
        "diff_ci": [low, high],
        "verdict": verdict,
        "fit_s": float(np.mean([r["fit_s"] for r in results])),
        "ref_fit_s": float(np.mean([r["ref_fit_s"] for r in results])),
        "epochs": float(np.mean([r["epochs"] for r in results])),
        "n_train": results[0]["n_train"],
        "n_test_pooled": len(diff),
    }


def _cell(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    """Formats the summaries as a Markdown table."""
    lines = [
        "| table | metric | ours | reference | baseline | ours − ref (95% CI) "
        "| verdict | fit s (ref s) | epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s, (low, high) = row["scores"], row["diff_ci"]
        lines.append(
            f"| {row['table']} | {row['metric']} | {_cell(s['ours'])} | "
            f"{_cell(s['reference'])} | {_cell(s['baseline'])} | "
            f"{np.mean(s['ours']) - np.mean(s['reference']):+.3f} "
            f"[{low:+.3f}, {high:+.3f}] | {row['verdict']} | "
            f"{row['fit_s']:.1f} ({row['ref_fit_s']:.1f}) | {row['epochs']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs every table over the seeds and prints the Markdown table."""
    args = parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.param)
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as workspace:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = workspace
        rows = []
        for table in TABLES:
            if args.only and table.name not in args.only:
                continue
            try:
                frame = table.load()
            except (OSError, ValueError) as err:
                print(f"skipped {table.name}: {err}")
                continue
            results = [run_once(table, frame, s, overrides) for s in args.seeds]
            rows.append(summarize(table, results))
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    print(f"\nseeds {args.seeds}, overrides {overrides}; mean ± std over the seeds\n")
    print(markdown(rows))
    if args.json:
        RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_FILE.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
