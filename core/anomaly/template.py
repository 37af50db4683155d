"""Find unusual rows of a table without labels: `anomaly_detection`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import fixes
from core.anomaly import bundle as anomaly_bundle
from core.columns import mask_infinite, split_indices
from core.errors import DataError
from core.tables.bundle import format_value
from core.tables.template import (
    MIN_ROWS,
    build_schema,
    check_columns,
    example_rows,
    excluded_columns,
    feature_columns,
    fixed_table,
    missing_inputs,
    parse_units,
    preflight_messages,
    write_test_rows,
)
from core.templates import checks
from core.templates.base import Prepared, Split, Template
from core.templates.params import TRAINING_PARAMS, Param
from core.templates.registry import register

INPUT_TYPES = ("number", "category", "boolean")  # free text has no usual value to miss

ANOMALY_PARAMS = TRAINING_PARAMS + (
    Param(
        "label_column",
        "Column for checking only",
        "",
        help="A column that says which rows are known anomalies (e.g. Class). It is "
        "never used to train; the results compare the score with it.",
    ),
    Param(
        "anomaly_share",
        "Expected share of anomalies (0 = from the data)",
        0.0,
        min_value=0.0,
        max_value=0.5,
        help="Flags this share of the rows the model learned from, e.g. 0.01 for 1%. "
        "0 flags rows whose error is far above the rest (Tukey's far-out fence).",
    ),
    Param(
        "normal_column",
        "Learn only from rows where this column...",
        "",
        help="Optional: a column that marks rows known to be normal.",
        advanced=True,
    ),
    Param(
        "normal_value",
        "...has this value",
        "",
        help="The value of that column on normal rows, e.g. 0 or ok.",
        advanced=True,
    ),
    Param(
        "hidden_units",
        "Encoder layer sizes",
        "16,4",
        help="Neurons per encoder layer, comma-separated; the last is the bottleneck "
        "(smaller: only the usual patterns fit through).",
        advanced=True,
    ),
)


def _has_threshold(value: Any) -> bool:
    return isinstance(value, dict) and checks.is_number(value.get("threshold"))


def _has_ranges(value: Any) -> bool:
    ranges = value.get("ranges") if isinstance(value, dict) else None
    return isinstance(ranges, dict) and all(
        isinstance(v, list) and len(v) == 4 and all(map(checks.is_number, v))
        for v in ranges.values()
    )


@register
class AnomalyDetection(Template):
    """An autoencoder learns what usual rows look like; rows it cannot rebuild stand out."""

    name = "anomaly_detection"
    title = "Find unusual rows (no labels needed)"
    description = (
        "Learns what ordinary rows look like and scores how unusual each row is, e.g. "
        "odd card payments or faulty sensor readings, without anyone labelling them."
    )
    task = "anomaly_detection"
    data_kind = "anomaly"
    params = ANOMALY_PARAMS
    bundle_script = "core.anomaly.bundle"
    applies_fixes = True
    predict_input = "your_rows.csv"
    limitations = (
        "The score says how unlike the training rows a row is, not that it is wrong: "
        "new but legitimate patterns score high too.",
        "Free-text columns are not used.",
    )
    usage = (
        "In Python: `keras.saving.load_model('model.keras', compile=False)` takes a dict "
        "of named inputs, one tensor of shape (rows, 1) per column, and returns each "
        "column's reconstruction error in units of the usual error; their mean per row "
        "is the anomaly score (see predict.py)."
    )
    metadata_checks = {
        "schema": (checks.are_form_features, checks.FORM_FEATURES),
        "decision": (_has_threshold, "the decision, with a numeric `threshold`"),
        "anomaly": (_has_ranges, "`ranges`: four numbers per number column"),
    }

    @property
    def sources(self) -> tuple[str, ...]:
        """Trains on stored CSV tables."""
        return ("table",)

    def suggest(self, frame: pd.DataFrame, target: str | None) -> tuple[float, str]:
        """Fits a table when no column is to be predicted."""
        if target is not None:
            return 0.0, ""
        return 0.5, (
            "No column to predict was chosen, so the app learns what usual rows look "
            "like and scores how unusual each row is."
        )

    def example_data(self) -> tuple[pd.DataFrame, None]:
        """40 rows: two numbers (one with gaps) and a category; no target."""
        return example_rows(), None

    def check(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns problems that block training, in plain words."""
        if target is not None:
            return [
                "Finding unusual rows needs no column to predict (the target is "
                f"{target!r}). Choose none; to compare the score with known anomalies, "
                f"name {target!r} as the column for checking only (label_column)."
            ]
        try:
            problems = fixes.fix_problems(frame, None, params.get("fixes", []))
            frame, column_types = fixed_table(frame, params)
            parse_units(params, "16,4")
        except (DataError, ValueError) as err:
            return [str(err)]
        problems += [
            f"Invalid value for argument `{key}`. Expected one of {list(frame.columns)}. "
            f"Received: {key}={params[key]!r}"
            for key in ("label_column", "normal_column")
            if params[key] and params[key] not in frame.columns
        ]
        if problems:
            return problems
        problems += _label_problems(frame, params)
        if len(_normal_rows(frame, params)) < MIN_ROWS:
            problems.append(
                f"Fewer than {MIN_ROWS} rows to learn from; at least {MIN_ROWS} are "
                "needed (check the normal column and value)."
            )
        if not _columns(frame, column_types, params):
            problems.append(
                "No column can be used as an input (all are IDs, dates, free text, "
                "constant or the label). Add columns or change their column_types."
            )
        return problems

    def preflight(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns the data-quality findings as plain sentences."""
        return preflight_messages(frame, None, params)

    def prepare(
        self,
        frame: pd.DataFrame,
        target: str | None,
        params: Mapping[str, Any],
        seed: int,
    ) -> Prepared:
        """Splits rows at random (labels play no part) and keeps normal rows to learn.

        The run's fixes (`core.fixes`) apply first, to every part alike.
        """
        original = frame
        frame, column_types = fixed_table(frame, params)
        frame = frame.reset_index(drop=True)
        columns = _columns(frame, column_types, params)
        numbers = [c for c in columns if column_types[c] == "number"]
        frame[numbers] = mask_infinite(frame[numbers])
        parts = split_indices(
            np.zeros(len(frame)), params["val_fraction"], params["test_fraction"], seed
        )
        normal = set(_normal_rows(frame, params))
        train, val = ([i for i in p if i in normal] for p in parts[:2])
        schema = build_schema(frame.iloc[train], columns, column_types, params)
        batch = int(params["batch_size"])
        splits = [
            Split(_dataset(frame.iloc[p], schema, batch, shuffle), None, frame.iloc[p])
            for p, shuffle in ((train, seed), (val, None), (parts[2], None))
        ]
        info = {
            "task": self.task,
            "target": None,
            "schema": schema,
            "label_column": params["label_column"] or None,
            "normal_rows": _normal_words(params),
            "anomaly": {"ranges": _ranges(frame.iloc[train], numbers)},
            "n_rows": len(frame),
            "n_train": len(train),
            "n_val": len(val),
            "n_test": len(parts[2]),
            "excluded": _excluded(frame, column_types, params, original),
        }
        return Prepared(*splits, info=info)

    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns the compiled autoencoder: raw columns in, per-column errors out."""
        from core.anomaly.model import build_autoencoder

        return build_autoencoder(
            prepared.train.raw,
            prepared.info["schema"],
            parse_units(params, "16,4"),
            float(params["learning_rate"]),
        )

    def calibrate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> None:
        """Scales errors so 1 is the usual row's, then sets the threshold in `info`."""
        from core.anomaly import report
        from core.decision import initial_decision

        seen = pd.concat([prepared.train.raw, prepared.val.raw])
        usual = report.scale_errors(model, seen, prepared.info["schema"])
        scores = anomaly_bundle.anomaly_scores(
            anomaly_bundle.column_errors(model, seen, prepared.info["schema"])
        )
        threshold, how = report.default_threshold(
            scores, float(params["anomaly_share"])
        )
        prepared.info["anomaly"] |= {"usual_error": usual, "threshold_rule": how}
        prepared.info["decision"] = initial_decision(
            threshold, "anomaly", "anomaly score"
        )

    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Scores the test rows; with a label column, beside an isolation forest."""
        from core.anomaly import report

        return report.build_report(model, prepared, int(params["seed"]))

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Writes five raw test rows as a CSV, the input the bundle's predict.py takes."""
        return write_test_rows(prepared, folder)

    def model_mismatch(self, model: Any, metadata: Mapping[str, Any]) -> str:
        """Needs one named input and one output column per schema column."""
        schema = metadata["schema"]
        missing = missing_inputs(model, schema)
        if missing:
            return f"it has no inputs for the columns {missing}."
        width = model.outputs[0].shape[-1]
        if width != len(schema):
            return f"it returns {width} errors for {len(schema)} columns."
        return ""

    def predict_frame(
        self, model: Any, frame: pd.DataFrame, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Scores raw rows and flags those at or over the threshold, worst first."""
        warnings = check_columns(frame, info["schema"])
        errors = anomaly_bundle.column_errors(model, frame, info["schema"])
        return anomaly_bundle.add_scores(frame, errors, dict(info)), warnings


def _dataset(rows: pd.DataFrame, schema: list[dict], batch: int, seed: Any) -> Any:
    """Batches of (raw inputs, zero targets for both outputs), shuffled with `seed`."""
    import tensorflow as tf

    from core.tables.bundle import frame_to_inputs

    zeros = (np.zeros((len(rows), len(schema)), "float32"), np.zeros((len(rows), 1)))
    dataset = tf.data.Dataset.from_tensor_slices(
        (frame_to_inputs(rows, schema), zeros)
    ).cache()
    if seed is not None:
        dataset = dataset.shuffle(max(len(rows), 1), seed=seed)
    return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)


def _label_problems(frame: pd.DataFrame, params: Mapping[str, Any]) -> list[str]:
    label = params["label_column"]
    if not label:
        return []
    counts = frame[label].dropna().map(format_value).value_counts()
    if len(counts) != 2:
        return [
            f"The column for checking only, {label!r}, must hold exactly two values "
            f"(normal and anomaly); it holds {len(counts)}."
        ]
    return []


def _normal_rows(frame: pd.DataFrame, params: Mapping[str, Any]) -> list[int]:
    """Positions of the rows to learn from: all, or those marked normal."""
    column = params["normal_column"]
    if not column:
        return list(range(len(frame)))
    marked = frame[column].map(format_value) == str(params["normal_value"]).strip()
    return list(np.flatnonzero(marked.to_numpy()))


def _normal_words(params: Mapping[str, Any]) -> str:
    column = params["normal_column"]
    if not column:
        return "all rows"
    return f"rows where {column} is {str(params['normal_value']).strip()!r}"


def _columns(
    frame: pd.DataFrame, column_types: Mapping[str, str], params: Mapping[str, Any]
) -> list[str]:
    """The input columns: usable, not constant, neither the label nor the normal marker."""
    left_out = {params["label_column"], params["normal_column"]}
    return [
        c
        for c in feature_columns(frame, "", column_types)
        if c not in left_out and column_types[c] in INPUT_TYPES
    ]


def _excluded(
    frame: pd.DataFrame,
    column_types: Mapping[str, str],
    params: Mapping[str, Any],
    original: pd.DataFrame,
) -> dict[str, str]:
    """Each left-out column with the reason, in plain words."""
    reasons = excluded_columns(frame, "", column_types, original)
    for key, why in (
        ("label_column", "for checking only"),
        ("normal_column", "marks the normal rows"),
    ):
        if params[key]:
            reasons[params[key]] = why
    used = set(_columns(frame, column_types, params))
    reasons |= {c: "free text" for c in frame.columns if c not in used | set(reasons)}
    return reasons


def _ranges(train: pd.DataFrame, numbers: list[str]) -> dict[str, list[float]]:
    """The 1st, 5th, 95th and 99th percentile of each number column's training rows."""
    ranges = {}
    for column in numbers:
        values = pd.to_numeric(train[column], errors="coerce").dropna()
        points = np.percentile(values, [1, 5, 95, 99]) if len(values) else np.zeros(4)
        ranges[column] = [float(v) for v in points]
    return ranges
