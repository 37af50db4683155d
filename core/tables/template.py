"""What the two table templates share: checks, the seeded split, the schema, the model."""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import fixes
from core.columns import (
    FEATURE_TYPES,
    mask_infinite,
    resolve_column_types,
    split_indices,
    target_task,
)
from core.errors import DataError
from core.tables import bundle as tables_bundle
from core.tables.bundle import format_value
from core.tables.preflight import preflight
from core.templates import checks
from core.templates.base import Prepared, Split, Template
from core.templates.params import TRAINING_PARAMS, Param, dropout_param

MIN_ROWS = 20
MAX_CHOICES = 50
TABLE_PARAMS = TRAINING_PARAMS + (
    Param(
        "hidden_units",
        "Hidden layer sizes",
        "64,32",
        help="Neurons per hidden layer, comma-separated; more can learn more but overfit.",
        advanced=True,
    ),
    dropout_param(0.1),
)

_KERAS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Names the table models' own layers take (see core.tables.model, core.anomaly.model),
# with Keras' `_1`, `_2` suffixes: an input of the same name would clash with them.
_LAYER_NAME = re.compile(
    r"(input_layer|dense|dropout|encode|decode|normalization|string_lookup|"
    r"integer_lookup|text_vectorization|concatenate|rescaling|identity|features|"
    r"probabilities|standardized|prediction|reconstruction|errors|column_errors|"
    r"capped_error|usual_range|functional|anomaly_autoencoder)(_\d+)?"
)


class TableTemplate(Template):
    """Base for templates that predict one column of a table from the others."""

    data_kind = "table"
    bundle_script = "core.tables.bundle"
    predict_input = "your_rows.csv"
    limitations = ("Categories never seen in training are treated as 'unknown'.",)
    usage = (
        "In Python: `keras.saving.load_model('model.keras')` takes a dict of named inputs, "
        "one tensor of shape (rows, 1) per column (strings for categories), keyed by the "
        "model input names listed under Inputs; see `frame_to_inputs` in predict.py."
    )
    params = TABLE_PARAMS
    task = ""
    applies_fixes = True
    metadata_checks = {
        "schema": (checks.are_form_features, checks.FORM_FEATURES),
        "target": (checks.is_text, "the target column's name"),
    }

    def check(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns problems that block training on this table, in plain words."""
        if target not in frame.columns:
            return [
                f"Invalid value for argument `target`. Expected one of "
                f"{list(frame.columns)}. Received: target={target!r}"
            ]
        try:
            problems = fixes.fix_problems(frame, target, params.get("fixes", []))
            frame, column_types = fixed_table(frame, params)
            parse_units(params)
        except (DataError, ValueError) as err:
            return [str(err)]
        if problems:
            return problems
        labeled = frame[frame[target].notna()]
        if labeled.empty:
            return [
                f"The target `{target}` is empty in every row; choose a column with values."
            ]
        problems = self.check_target(labeled[target], column_types[target])
        if len(labeled) < MIN_ROWS:
            problems.append(
                f"Only {len(labeled)} rows have a `{target}` value; at least "
                f"{MIN_ROWS} are needed to train and then test a model."
            )
        if not feature_columns(frame, target, column_types):
            problems.append(
                f"No column besides `{target}` can be used as an input (all are "
                "IDs, dates or constant). Add columns or change their column_types."
            )
        return problems

    def suggest(self, frame: pd.DataFrame, target: str | None) -> tuple[float, str]:
        """Fits when the target asks for this task (see `core.columns.target_task`)."""
        if target is None or target_task(frame, target) != self.task:
            return 0.0, ""
        return 0.6, self.suggest_reason(frame[target].dropna())

    @abstractmethod
    def suggest_reason(self, target: pd.Series) -> str:
        """Says in plain words why this template suits the target column."""

    @abstractmethod
    def check_target(self, target: pd.Series, column_type: str) -> list[str]:
        """Returns problems with the target column itself (task specific).

        Args:
            target: the target's values, in the rows that have one.
            column_type: the target column's type (`core.columns.COLUMN_TYPES`).
        """

    @abstractmethod
    def encode_target(self, target: pd.Series) -> tuple[np.ndarray, dict[str, Any]]:
        """Returns the target as model-ready numbers and facts about it for `info`."""

    def prepare(
        self,
        frame: pd.DataFrame,
        target: str | None,
        params: Mapping[str, Any],
        seed: int,
    ) -> Prepared:
        """Splits rows (stratified for classes) and builds model inputs for each part.

        The run's fixes (`core.fixes`) apply first, to every part alike.
        """
        from core.tables.bundle import frame_to_inputs

        original = frame
        frame, column_types = fixed_table(frame, params)
        labeled = frame[frame[target].notna()].reset_index(drop=True)
        columns = feature_columns(labeled, target, column_types)
        numbers = [c for c in columns if column_types[c] == "number"]
        labeled[numbers] = mask_infinite(labeled[numbers])  # as scoring does
        y, target_info = self.encode_target(labeled[target])
        parts = split_indices(
            y if self.task == "classification" else y.astype("float64"),
            params["val_fraction"],
            params["test_fraction"],
            seed,
        )
        train_rows = labeled.iloc[parts[0]]
        schema = build_schema(train_rows, columns, column_types, params)
        splits = [
            Split(frame_to_inputs(labeled.iloc[p], schema), y[p], labeled.iloc[p])
            for p in parts
        ]
        info = {
            "task": self.task,
            "target": target,
            "schema": schema,
            **target_info,
            "n_rows": len(labeled),
            "n_train": len(parts[0]),
            "n_val": len(parts[1]),
            "n_test": len(parts[2]),
            "excluded": excluded_columns(frame, target, column_types, original),
            "dropped_rows": len(frame) - len(labeled),
        }
        return Prepared(*splits, info=info, class_weight=self.class_weight(y[parts[0]]))

    def class_weight(self, y_train: np.ndarray) -> dict[int, float] | None:
        """Returns per-class loss weights when classes are imbalanced, else `None`."""
        return None

    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns the compiled end-to-end model: raw columns in, predictions out."""
        import keras

        from core.tables import model as tables_model

        inputs, features = tables_model.build_table_inputs(
            prepared.train.raw, prepared.info["schema"]
        )
        body = tables_model.dense_body(features, parse_units(params), params["dropout"])
        model = keras.Model(inputs, self.head(body, prepared.info), name=self.name)
        spe = tables_model.steps_per_execution_for(
            prepared.info["n_train"], params["batch_size"]
        )
        return tables_model.compile_for(model, self.task, params["learning_rate"], spe)

    @abstractmethod
    def head(self, body: Any, info: Mapping[str, Any]) -> Any:
        """Returns the output tensor for this task."""

    def preflight(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns the data-quality findings as plain sentences."""
        return preflight_messages(frame, target, params)

    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> dict:
        """Test metrics beside the baseline and the gradient-boosting reference."""
        from core.tables import report

        return report.evaluate(model, prepared, seed=int(params["seed"]))

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Writes five raw test rows as a CSV, the input the bundle's predict.py takes."""
        return write_test_rows(prepared, folder)

    def model_mismatch(self, model: Any, metadata: Mapping[str, Any]) -> str:
        """Every schema column needs its named model input."""
        missing = missing_inputs(model, metadata["schema"])
        return f"it has no inputs for the columns {missing}." if missing else ""

    def predict_frame(
        self, model: Any, frame: pd.DataFrame, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Appends predictions to raw rows; returns them with warnings."""
        warnings = check_columns(frame, info["schema"])
        warnings += tables_bundle.infinite_cells(frame, info["schema"])
        outputs = tables_bundle.predict_outputs(model, frame, info["schema"])
        return tables_bundle.add_predictions(frame, outputs, dict(info)), warnings


def check_columns(frame: pd.DataFrame, schema: list[dict]) -> list[str]:
    """Checks raw rows against the model's schema; returns warnings.

    Raises:
        DataError: if columns are missing or a number column holds words.
    """
    missing = tables_bundle.missing_columns(frame, schema)
    if missing:
        raise DataError(
            f"The data lacks the model's input columns {missing}. Add them (empty "
            "values are allowed) and try again."
        )
    for feature in (f for f in schema if f["kind"] == "number"):
        column = frame[feature["name"]]
        words = column[column.notna() & tables_bundle.to_numbers(column).isna()]
        if len(words):
            rows = ", ".join(str(i + 1) for i in words.index[:5])
            raise DataError(
                f"Column `{feature['name']}` should hold numbers, but row(s) {rows} "
                f"hold {words.iloc[0]!r}. Fix the value or leave it empty."
            )
    extra = [c for c in frame.columns if c not in {f["name"] for f in schema}]
    return [f"Ignored columns the model does not use: {extra}."] if extra else []


def input_names(columns: list[str]) -> list[str]:
    """Returns a Keras-safe, unique model input name for each column.

    A column whose name already suits Keras, TF and ONNX (an ASCII letter, then
    letters, digits and underscores, at most 64 characters) keeps it: `Glucose` stays
    `Glucose`. Others become their position plus their ASCII letters, digits and
    underscores: `od280/od315` in third place becomes `c2_od280_od315`. Names that
    a layer of the model takes (`dense_0`, `features`, `normalization`), or that
    another column already has in any case, are treated the same way.
    """
    kept, taken = [], set()
    for column in map(str, columns):
        usable = _KERAS_NAME.fullmatch(column) and not _LAYER_NAME.fullmatch(
            column.lower()
        )
        kept.append(column if usable and column.lower() not in taken else "")
        taken.add(column.lower())
    names = []
    for index, (column, name) in enumerate(zip(columns, kept, strict=True)):
        if not name:
            slug = re.sub(r"[^0-9A-Za-z_]+", "_", str(column)).strip("_")[:40]
            name = base = f"c{index}_{slug}" if slug else f"c{index}"
            while name.lower() in taken:  # another column is already named so
                name = f"{name}_{base}"
            taken.add(name.lower())
        names.append(name)
    return names


def parse_units(params: Mapping[str, Any], example: str = "64,32") -> list[int]:
    """Returns the layer sizes in `params["hidden_units"]` (comma-separated).

    Args:
        params: the run's parameters.
        example: a valid value, quoted in the error message.

    Raises:
        ValueError: if a size is not a whole number from 1 to 4096, or none is given.
    """
    text = str(params["hidden_units"])
    try:
        units = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        units = []
    if not units or min(units) < 1 or max(units) > 4096:
        raise ValueError(
            "Invalid value for argument `hidden_units`. Expected comma-separated sizes "
            f"between 1 and 4096 such as {example!r}. Received: hidden_units={text!r}"
        )
    return units


def preflight_messages(
    frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
) -> list[str]:
    """Returns the data-quality findings on a table, after its fixes, as sentences."""
    frame, column_types = fixed_table(frame, params)
    return [f.message for f in preflight(frame, target, column_types)]


def fixed_table(
    frame: pd.DataFrame, params: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The table with the run's fixes applied (`core.fixes`), and its column types.

    Args:
        frame: the table as uploaded.
        params: the run's parameters: `fixes` and `column_kinds` (types chosen for
            columns a fix leaves out are not needed any more).

    Returns:
        The fixed table (a copy when a fix applies) and its column types.

    Raises:
        DataError: if `column_kinds` names an unknown column or column type.
    """
    chosen = params.get("fixes", [])
    dropped = set(fixes.columns_with(chosen, fixes.DROP))
    kinds = params.get("column_kinds") or {}
    fixed = fixes.apply_fixes(frame, chosen)
    return fixed, resolve_column_types(
        fixed, {c: t for c, t in kinds.items() if c not in dropped}
    )


def write_test_rows(prepared: Prepared, folder: Path) -> Path:
    """Writes five raw test rows of the schema's columns to `rows.csv` in `folder`."""
    columns = [feature["name"] for feature in prepared.info["schema"]]
    path = folder / "rows.csv"
    prepared.test.raw[columns].head(5).to_csv(path, index=False)
    return path


def missing_inputs(model: Any, schema: list[dict]) -> list[str]:
    """Returns the schema columns that have no named input in the model."""
    inputs = {t.name for t in model.inputs}
    return [f["name"] for f in schema if tables_bundle.input_name(f) not in inputs]


def feature_columns(
    frame: pd.DataFrame, target: str, column_types: Mapping[str, str]
) -> list[str]:
    """Returns the columns used as model inputs: usable types, not constant, not the target."""
    return [
        c
        for c in frame.columns
        if c != target
        and column_types[c] in FEATURE_TYPES
        and frame[c].nunique(dropna=False) > 1
    ]


def excluded_columns(
    frame: pd.DataFrame,
    target: str | None,
    column_types: Mapping[str, str],
    original: pd.DataFrame | None = None,
) -> dict:
    """Returns each left-out column with the reason, in plain words.

    Args:
        frame: the table the model learns from (after the run's fixes).
        target: the column to predict.
        column_types: the column types of `frame`.
        original: the table as uploaded, when fixes left columns out of `frame`.
    """
    used = set(feature_columns(frame, target, column_types)) | {target}
    found = {
        c: (
            "the same in every row"
            if frame[c].nunique(dropna=False) <= 1
            else f"type is {column_types[c]}"
        )
        for c in frame.columns
        if c not in used
    }
    gone = [] if original is None else original.columns.difference(frame.columns)
    return found | {c: fixes.LEFT_OUT_REASON for c in gone}


def build_schema(
    train: pd.DataFrame,
    columns: list[str],
    column_types: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Describes each input column from the training rows: type, default, choices, range.

    Each entry keeps the column type under the key "kind", the name info.json and a
    bundle's metadata.json have always used for it (see `core.templates.base.Info`).
    A number column whose zeros the run treats as missing (`core.fixes`) is marked
    `"zeros_missing": true`: its model input reads 0 as missing.
    """
    zeros = set(
        fixes.columns_with((params or {}).get("fixes", []), fixes.ZEROS_AS_MISSING)
    )
    schema = []
    for column, key in zip(columns, input_names(columns), strict=True):
        column_type = column_types[column]
        if column_type == "boolean":
            column_type = "category"
        if column_type == "number":
            values = pd.to_numeric(train[column], errors="coerce").dropna()
            schema.append(
                {
                    "name": column,
                    "input": key,
                    "kind": column_type,
                    "default": float(values.median()) if len(values) else 0.0,
                    "min": float(values.min()) if len(values) else 0.0,
                    "max": float(values.max()) if len(values) else 0.0,
                    **({"zeros_missing": True} if column in zeros else {}),
                }
            )
        else:
            counts = pd.Series([format_value(v) for v in train[column]]).value_counts()
            schema.append(
                {
                    "name": column,
                    "input": key,
                    "kind": column_type,
                    "default": str(counts.index[0]),
                    "choices": [str(v) for v in counts.index[:MAX_CHOICES]],
                }
            )
    return schema


def example_rows(n: int = 40) -> pd.DataFrame:
    """Tiny input columns for `example_data`: two numbers (one with gaps), a category."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": np.where(np.arange(n) % 7 == 0, np.nan, rng.normal(size=n)),
            "color": rng.choice(["red", "green", "blue"], size=n),
        }
    )
