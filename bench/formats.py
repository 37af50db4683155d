"""Benchmark: every export format on the bundled samples, verified, with sizes and speed.

Run from the repository root:

    PYTHONPATH=. python -m bench.formats [--epochs N] [--json]

It trains one run per sample (face masks, Seattle weather forecast of `temp_max`, the
number columns of car fuel economy, heart disease with its yes/no columns) in a
temporary workspace, then exports each to the bundle, SavedModel, TFLite (four
precisions) and ONNX with `core.formats.export_format`: converted in its own process,
verified in a fresh one with its own runtime. It prints each file's size, its median
single-prediction latency, its test score beside the Keras model's, and its largest
difference from the Keras model on the check inputs, or the sentence of a refusal.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "formats.json"
SAMPLES = ROOT / "sample_data"
NUMBER_COLUMNS = ["mpg", "cylinders", "displacement", "horsepower", "weight",
                  "acceleration", "model_year"]  # fmt: skip
FORMAT_NAMES = ("bundle", "savedmodel", "tflite", "onnx")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.formats", description=__doc__
    )
    parser.add_argument(
        "--epochs", type=int, help="cap every training (default: the templates')"
    )
    parser.add_argument("--json", action="store_true", help="also write the results")
    return parser.parse_args(argv)


def cases() -> dict[str, tuple[str, str, str | None]]:
    """Stores the samples; returns name -> (template, dataset id, target)."""
    from core import datasets
    from core.vision import ingest

    numbers = pd.read_csv(SAMPLES / "auto_mpg.csv")[NUMBER_COLUMNS]
    faces = ingest.store_sample()
    return {
        "face masks (photos)": ("image_classification", faces, None),
        "Seattle temp_max forecast": (
            "timeseries_forecasting",
            datasets.store_sample("seattle_weather.csv"),
            "temp_max",
        ),
        "car fuel economy, numbers": (
            "tabular_regression",
            datasets.store_upload(
                "auto_mpg_numbers.csv", numbers.to_csv(index=False).encode()
            ),
            "mpg",
        ),
        "heart disease (yes/no columns)": (
            "tabular_classification",
            datasets.store_sample("heart.csv"),
            "target",
        ),
    }


def train(
    template: str, dataset_id: str, target: str | None, epochs: int | None
) -> str:
    """Trains one run with the template's defaults (epochs capped if asked)."""
    from core import runs, training

    params = {"epochs": epochs} if epochs else {}
    run_id = runs.create_run(runs.RunSpec(template, dataset_id, target, params))
    state = training.train_run(run_id)
    if state != "completed":
        raise RuntimeError(f"{run_id} ended {state}: {runs.read_status(run_id).error}")
    return run_id


def rows_for(sample: str, run_id: str) -> list[dict[str, Any]]:
    """Exports every format of one run; one row per file (or refusal)."""
    from core import formats

    rows = []
    for name in FORMAT_NAMES:
        result = formats.export_format(run_id, name, force=True)
        keras = result.get("keras", {}).get("score")
        variants = result.get("variants") or [{"file": result.get("file"), **result}]
        for variant in variants if result["ok"] else [result]:
            rows.append(_row(sample, name, result, variant, keras))
    return rows


def _row(sample: str, fmt: str, result: dict, variant: dict, keras: Any) -> dict:
    score = variant.get("score")
    return {
        "sample": sample,
        "format": fmt,
        "file": variant.get("file") or "-",
        "ok": bool(result["ok"]) and not variant.get("error"),
        "size_kb": round(variant["size_bytes"] / 1024, 1) if variant.get("size_bytes") else None,
        "latency_ms": round(variant["latency_ms"], 3) if variant.get("latency_ms") else None,
        "score": f"{score[0]} {score[1]:.4g}" if score else "-",
        "keras_score": f"{keras[1]:.4g}" if keras else "-",
        "max_abs_diff": variant.get("max_abs_diff"),
        "note": "" if result["ok"] else result["message"],
    }  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    """A Markdown table for the README."""
    print("| sample | format | file | size | latency | test score (Keras) | max diff |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["note"]:
            print(f"| {r['sample']} | {r['format']} | refused: {r['note']} | | | | |")
            continue
        diff = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        print(
            f"| {r['sample']} | {r['format']} | {r['file']} | {r['size_kb']} KB | "
            f"{r['latency_ms']} ms | {r['score']} ({r['keras_score']}) | {diff} |"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = tmp
        rows = []
        for sample, (template, dataset_id, target) in cases().items():
            run_id = train(template, dataset_id, target, args.epochs)
            rows += rows_for(sample, run_id)
    print_table(rows)
    if args.json:
        RESULTS_FILE.parent.mkdir(exist_ok=True)
        RESULTS_FILE.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
