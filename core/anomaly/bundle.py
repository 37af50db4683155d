"""Score a CSV for anomalies with a model exported by Predictive Studio.

Usage (inside an unzipped bundle):
    python predict.py DATA.csv -o scored.csv

Each row gets an `anomaly_score` (its reconstruction error in times the usual error
of the training rows: 1 is typical, 10 is ten times worse than usual), `anomaly`
("yes" when the score reaches the threshold in metadata.json, `decision.threshold`)
and `why`: the columns that were most unusual, in plain words.
Rows come out most unusual first; `row` is their position in the input file (1 =
first data row). Needs: keras>=3, tensorflow, pandas. The app uses the same
functions, so what you download is what ran.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CHUNK_ROWS = 4096
MAX_REASONS = 3
MIN_SHARE = 0.15  # a column must hold this share of the row's error to be named
_LINE_BREAKS = re.compile("[\x1c\x1d\x1e\x85\u2028\u2029]")


def format_value(value: object) -> str:
    """Returns the text the model's lookups expect: `1.0` -> "1", missing -> ""."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip()


def to_numbers(column: pd.Series) -> pd.Series:
    """Parses numbers, also written with thousands separators; anything else -> NaN."""
    if not pd.api.types.is_numeric_dtype(column):
        column = column.astype(str).str.replace(
            r"(?<=\d)[,'\u00a0 ](?=\d{3})", "", regex=True
        )
    return pd.to_numeric(column, errors="coerce")


def frame_to_inputs(frame: pd.DataFrame, schema: list[dict]) -> dict:
    """Raw rows to the model's named inputs, one (rows, 1) tensor per column.

    A copy of `core.tables.bundle.frame_to_inputs`, so this script runs alone.
    """
    import tensorflow as tf

    inputs = {}
    for feature in schema:
        column = frame[feature["name"]]
        if feature["kind"] == "number":
            values = to_numbers(column).to_numpy("float32")
            values = np.where(np.isfinite(values), values, np.float32("nan"))
            dtype = tf.float32
        else:
            values = np.array(
                [_LINE_BREAKS.sub(" ", format_value(v)) for v in column], dtype=object
            )
            dtype = tf.string
        key = feature.get("input", feature["name"])
        inputs[key] = tf.constant(values.reshape(-1, 1), dtype=dtype)
    return inputs


def column_errors(model: Any, frame: pd.DataFrame, schema: list[dict]) -> np.ndarray:
    """Each row's error per schema column, in units of the usual error: (rows, cols)."""
    chunks = [  # the model's first output; the second is only used in training
        np.asarray(
            model(frame_to_inputs(frame.iloc[i : i + CHUNK_ROWS], schema))[0], "float64"
        )
        for i in range(0, len(frame), CHUNK_ROWS)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, len(schema)))


def anomaly_scores(errors: np.ndarray) -> np.ndarray:
    """A row's score: its mean column error (1 = as usual for the training rows)."""
    return errors.mean(axis=1)


def reasons(row: pd.Series, errors: np.ndarray, metadata: dict) -> str:
    """Names the columns holding most of a row's error, in plain words."""
    total = float(errors.sum())
    order = np.argsort(-errors, kind="stable")[:MAX_REASONS]
    words = [
        describe(row, metadata["schema"][i], metadata["anomaly"]["ranges"])
        for i in order
        if total > 0 and errors[i] / total >= MIN_SHARE
    ]
    return "; ".join(words) or "no column stands out"


def describe(row: pd.Series, feature: dict, ranges: dict) -> str:
    """One column of a row in plain words, e.g. "Amount is far above what is usual"."""
    name = feature["name"]
    if feature["kind"] != "number":
        text = format_value(row[name])
        if text not in feature.get("choices", [text]):
            return f"{name} is {text!r}, never seen in training"
        return f"{name} is {text!r}, which is unusual with the other columns"
    value = to_numbers(pd.Series([row[name]])).iloc[0]
    if not np.isfinite(value):
        return f"{name} is missing"
    p1, p5, p95, p99 = ranges[name]
    usual = f"most rows have {_number(p5)} to {_number(p95)}"
    if value > p95 or value < p5:
        far = "far " if value > p99 or value < p1 else ""
        side = "above" if value > p95 else "below"
        return f"{name} is {far}{side} what is usual ({_number(value)}; {usual})"
    return f"{name} is {_number(value)}, which does not fit the other columns"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def add_scores(frame: pd.DataFrame, errors: np.ndarray, metadata: dict) -> pd.DataFrame:
    """Returns the rows with `row`, `anomaly_score`, `anomaly`, `why`, worst first."""
    scores = anomaly_scores(errors)
    flagged = scores >= float(metadata["decision"]["threshold"])
    result = frame.copy()
    result.insert(0, "row", np.arange(1, len(frame) + 1))
    result["anomaly_score"] = scores
    result["anomaly"] = np.where(flagged, "yes", "no")
    result["why"] = [
        reasons(frame.iloc[i], errors[i], metadata) for i in range(len(frame))
    ]
    order = np.lexsort((result["row"].to_numpy(), -scores.round(4)))
    return result.iloc[order].reset_index(drop=True)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns `frame` safe to open in a spreadsheet (no formula injection).

    A copy of core.safe_csv.neutralise, so this script runs alone.
    """
    number = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

    def safe(value: object) -> object:
        if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
            return value
        return value if number.fullmatch(value) else "'" + value

    result = frame.rename(columns=lambda name: safe(str(name)))
    for column in range(result.shape[1]):
        values = result.iloc[:, column]
        if isinstance(values.dtype, (pd.CategoricalDtype, pd.StringDtype)) or (
            getattr(values.dtype, "kind", "") in "OSU"
        ):
            result.isetitem(column, values.astype(object).map(safe))
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: scores a CSV and writes it, most unusual rows first."""
    parser = argparse.ArgumentParser(description="Score a CSV for anomalies.")
    parser.add_argument("data", type=Path, help="CSV file with the input columns")
    parser.add_argument("-o", "--output", type=Path, default=Path("scored.csv"))
    parser.add_argument("--model", type=Path, default=HERE / "model.keras")
    parser.add_argument("--metadata", type=Path, default=HERE / "metadata.json")
    args = parser.parse_args(argv)

    import keras

    metadata = json.loads(args.metadata.read_text())
    frame = pd.read_csv(args.data)
    missing = [f["name"] for f in metadata["schema"] if f["name"] not in frame]
    if missing:
        print(f"error: the CSV lacks the model's columns {missing}", file=sys.stderr)
        return 2
    model = keras.saving.load_model(args.model, compile=False)  # safe mode
    errors = column_errors(model, frame, metadata["schema"])
    scored = add_scores(frame, errors, metadata)
    neutralise(scored).to_csv(args.output, index=False)
    flagged = int((scored["anomaly"] == "yes").sum())
    print(f"Scored {len(frame)} rows, {flagged} flagged, to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
