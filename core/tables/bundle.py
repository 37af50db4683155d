"""Score a CSV with a model exported by Predictive Studio.

Usage (inside an unzipped bundle):
    python predict.py DATA.csv -o predictions.csv

Needs: keras>=3, tensorflow, pandas. This file is copied into every bundle as
`predict.py`, and the app uses the same functions, so what you download is what ran.
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


def model_strings(column: pd.Series) -> np.ndarray:
    """Returns a column as the text the model's lookups take, one Python string per row.

    Rare line separators (U+0085, U+2028, ...) become spaces: the model splits text into
    words at spaces and common line breaks only, and Keras saves its word list as lines,
    so a word holding one of them would make the saved model fail to load.
    """
    return np.array(
        [_LINE_BREAKS.sub(" ", format_value(v)) for v in column], dtype=object
    )


def missing_columns(frame: pd.DataFrame, schema: list[dict]) -> list[str]:
    """Returns the model's input columns that `frame` lacks."""
    return [f["name"] for f in schema if f["name"] not in frame.columns]


def input_name(feature: dict) -> str:
    """Returns the model's input name for a schema column (its own name in old models)."""
    return feature.get("input", feature["name"])


def frame_to_inputs(frame: pd.DataFrame, schema: list[dict]) -> dict:
    """Turns raw table rows into the model's named inputs, one (rows, 1) tensor each.

    Infinite numbers count as missing. Text goes in as Python strings (an object array),
    so memory grows with the text itself, not with rows times the longest cell.
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
            values = model_strings(column)
            dtype = tf.string
        inputs[input_name(feature)] = tf.constant(values.reshape(-1, 1), dtype=dtype)
    return inputs


def infinite_cells(frame: pd.DataFrame, schema: list[dict]) -> list[str]:
    """Returns one warning per number column holding infinite values, naming the rows.

    Values beyond 3.4e38 count too: the model computes in float32, where they are
    infinite.
    """
    warnings = []
    for feature in (f for f in schema if f["kind"] == "number"):
        values = to_numbers(frame[feature["name"]]).to_numpy("float64")
        rows = np.flatnonzero(np.abs(values) > np.finfo("float32").max) + 1
        if len(rows):
            shown = ", ".join(str(r) for r in rows[:5]) + (
                ", ..." if len(rows) > 5 else ""
            )
            warnings.append(
                f"Column `{feature['name']}` holds an infinite or too large number in "
                f"row(s) {shown}; the model treated those cells as missing."
            )
    return warnings


def to_numbers(column: pd.Series) -> pd.Series:
    """Parses numbers, also written with thousands separators; anything else -> NaN."""
    if not pd.api.types.is_numeric_dtype(column):  # "1,234" -> 1234, as in training
        column = column.astype(str).str.replace(
            r"(?<=\d)[,'\u00a0 ](?=\d{3})", "", regex=True
        )
    return pd.to_numeric(column, errors="coerce")


def predict_outputs(model: Any, frame: pd.DataFrame, schema: list[dict]) -> np.ndarray:
    """Runs the model on raw rows in chunks and returns its outputs as one array."""
    chunks = []
    for start in range(0, len(frame), 4096):
        inputs = frame_to_inputs(frame.iloc[start : start + 4096], schema)
        chunks.append(np.asarray(model(inputs, training=False), dtype="float64"))
    return np.concatenate(chunks) if chunks else np.zeros((0, 1))


def add_predictions(
    frame: pd.DataFrame, outputs: np.ndarray, metadata: dict
) -> pd.DataFrame:
    """Returns `frame` with a `prediction` column (and class probabilities if any)."""
    result = frame.copy()
    classes = metadata.get("class_names")
    if metadata["task"] == "classification":
        result["prediction"] = [
            classes[i] for i in predicted_classes(outputs, metadata)
        ]
        for index, name in enumerate(classes):
            result[f"probability_{name}"] = outputs[:, index].round(6)
    else:
        result["prediction"] = outputs[:, 0]
    return result


def predicted_classes(outputs: np.ndarray, metadata: dict) -> np.ndarray:
    """Returns each row's class index, by the run's decision threshold if it has one.

    In a yes/no run whose decision names one of its classes, a row gets that class
    when its probability is at or above the threshold; otherwise (more classes, or
    class names edited since) the most probable class wins.
    """
    decision = metadata.get("decision")
    classes = metadata["class_names"]
    if not decision or len(classes) != 2 or decision["positive_label"] not in classes:
        return outputs.argmax(axis=1)
    positive = classes.index(decision["positive_label"])
    flagged = outputs[:, positive] >= decision["threshold"]
    return np.where(flagged, positive, 1 - positive)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns `frame` safe to open in a spreadsheet (no formula injection).

    Text cells and headers that start like a formula (`= + - @`, tab, CR) get a
    leading `'` (OWASP); numbers are kept. A copy of core.safe_csv.neutralise, so
    this script runs alone.
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
    """Command-line entry point: scores a CSV and writes the predictions CSV."""
    parser = argparse.ArgumentParser(description="Score a CSV with the bundled model.")
    parser.add_argument("data", type=Path, help="CSV file with the input columns")
    parser.add_argument("-o", "--output", type=Path, default=Path("predictions.csv"))
    parser.add_argument("--model", type=Path, default=HERE / "model.keras")
    parser.add_argument("--metadata", type=Path, default=HERE / "metadata.json")
    args = parser.parse_args(argv)

    import keras

    metadata = json.loads(args.metadata.read_text())
    frame = pd.read_csv(args.data)
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # a column became the index
        print(
            "error: the CSV's rows have more values than its header has names; "
            'put texts that hold a comma in double quotes ("...").',
            file=sys.stderr,
        )
        return 2
    missing = missing_columns(frame, metadata["schema"])
    if missing:
        print(
            f"error: the CSV lacks the model's input columns {missing}", file=sys.stderr
        )
        return 2
    for warning in infinite_cells(frame, metadata["schema"]):
        print(f"warning: {warning}", file=sys.stderr)
    model = keras.saving.load_model(
        args.model
    )  # safe_mode=True: no code is run on load
    outputs = predict_outputs(model, frame, metadata["schema"])
    neutralise(add_predictions(frame, outputs, metadata)).to_csv(
        args.output, index=False
    )
    print(f"Wrote {len(frame)} predictions to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
