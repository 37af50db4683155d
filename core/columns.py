"""The columns of a table: what type each holds, the target and its task, statistics, splits.

pandas and numpy only at import time; scikit-learn is imported inside `split_indices`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.errors import DataError
from core.table_reading import string_columns

FLOAT32_MAX = float(np.finfo(np.float32).max)
BOOLEAN_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
# Column names that usually hold what to predict: the explicit ones, then the specific
# ones, then the generic ones (lower case, letters and digits only: `Sale Price` is
# `saleprice`). Titanic has a `class` column but predicts `survived`; diamonds has `y`.
TARGET_NAMES = (
    "target",
    "label",
    "outcome",
    "survived",
    "churn",
    "diagnosis",
    "isfraud",
    "fraud",
    "spam",
    "sentiment",
    "species",
    "class",
    "quality",
    "price",
    "saleprice",
    "response",
    "result",
    "y",
)
COLUMN_TYPES = ("number", "category", "boolean", "date", "text", "identifier")
FEATURE_TYPES = ("number", "category", "boolean", "text")


def infer_column_types(frame: pd.DataFrame) -> dict[str, str]:
    """Guesses what each column holds: one of `COLUMN_TYPES`.

    Returns:
        A mapping of column name to column type.
    """
    return {column: _infer_type(frame[column]) for column in frame.columns}


def _infer_type(series: pd.Series) -> str:
    values = series.dropna()
    if values.empty:
        return "category"
    if pd.api.types.is_bool_dtype(values) or _is_boolean_text(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return _numeric_type(series, values)
    text = values.astype(str)
    unique_ratio = text.nunique() / len(text)
    if _looks_like_dates(text):
        return "date"
    if text.str.len().mean() >= 30 or text.str.split().str.len().mean() >= 5:
        return "text"
    if unique_ratio > 0.5 and len(text) >= 20:
        return "identifier"
    return "category"


def _numeric_type(series: pd.Series, values: pd.Series) -> str:
    if set(values.unique()) <= {0, 1}:
        return "boolean"
    is_whole = pd.api.types.is_integer_dtype(values) or (values % 1 == 0).all()
    named_like_id = re.search(r"(^|_)id$|^id|uuid|key$", str(series.name).lower())
    if is_whole and values.is_unique and len(values) >= 20:
        if named_like_id or values.is_monotonic_increasing:
            return "identifier"
    return "number"


def _is_boolean_text(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values):
        return False
    lowered = set(values.astype(str).str.strip().str.lower().unique())
    return len(lowered) == 2 and lowered <= BOOLEAN_WORDS


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d").all() or not sample.str.contains(r"[-/:.]").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9


def mixed_columns(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Finds text columns that are mostly numbers with a few words, e.g. '12', 'abc'.

    Returns:
        Column name to up to three of the words found.
    """
    found = {}
    for column in string_columns(frame):
        values = frame[column].dropna().astype(str)
        numeric = pd.to_numeric(values, errors="coerce")
        if len(values) and 0.5 <= numeric.notna().mean() < 1:
            found[column] = list(values[numeric.isna()].unique()[:3])
    return found


def resolve_column_types(
    frame: pd.DataFrame, overrides: Mapping[str, str] | None
) -> dict[str, str]:
    """Returns the inferred column types with the user's overrides applied.

    Args:
        frame: the table.
        overrides: column name to column type, chosen by the user (the run parameter
            `column_kinds`, the file format's name for it).

    Raises:
        DataError: if an override names an unknown column or column type.
    """
    column_types = infer_column_types(frame)
    for column, column_type in (overrides or {}).items():
        if column not in column_types:
            raise DataError(f"Invalid column in `column_kinds`. Received: {column!r}")
        if column_type not in COLUMN_TYPES:
            raise DataError(
                f"Invalid type for column `{column}`. Expected one of {COLUMN_TYPES}. "
                f"Received: {column_type!r}"
            )
        column_types[column] = column_type
    return column_types


def column_stats(frame: pd.DataFrame, column_types: Mapping[str, str]) -> pd.DataFrame:
    """Returns one row per column: type, missing values, distinct values, summary.

    Infinite values count as missing (see `mask_infinite`), so the summary stays finite.
    """
    frame = mask_infinite(frame)
    rows = []
    for column in frame.columns:
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series)
        rows.append(
            {
                "column": column,
                "type": column_types[column],
                "missing": int(series.isna().sum()),
                "distinct": int(series.nunique()),
                "mean": float(series.mean()) if numeric else None,
                "min": float(series.min()) if numeric else None,
                "max": float(series.max()) if numeric else None,
                "most common": str(series.mode().iloc[0])
                if series.notna().any()
                else "",
            }
        )
    return pd.DataFrame(rows)


def mask_infinite(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns `frame` with infinite and too large numbers set to missing (NaN).

    These are the values `core.tables.preflight.find_infinite` reports. `frame` itself
    is left as it was; without such values it is returned as is.
    """
    masks = {column: infinite_mask(frame[column]) for column in frame.columns}
    changed = [column for column, mask in masks.items() if mask.any()]
    if not changed:
        return frame
    masked = frame.copy()
    for column in changed:
        masked[column] = frame[column].mask(masks[column])
    return masked


def infinite_mask(series: pd.Series) -> np.ndarray:
    """True per value that is infinite or beyond float32's range (see `mask_infinite`)."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return np.zeros(len(series), dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.abs(series.to_numpy("float64", na_value=np.nan)) > FLOAT32_MAX


def suggest_target(column_types: Mapping[str, str]) -> str:
    """Suggests the column to predict from the column names and types.

    A usable column (a number, category or yes/no, not an ID, date or free text) named
    like a target wins, in the order of `TARGET_NAMES` (diamonds: `price`, not `y`);
    otherwise the last usable column.

    Args:
        column_types: column name to column type, in file order (see
            `infer_column_types`).

    Returns:
        A column name.
    """
    usable = [
        c for c, t in column_types.items() if t in ("number", "category", "boolean")
    ]
    candidates = usable or list(column_types)
    normalized = {re.sub(r"[^a-z0-9]", "", str(c).lower()): c for c in candidates}
    for name in TARGET_NAMES:
        if name in normalized:
            return normalized[name]
    return candidates[-1]


def target_task(frame: pd.DataFrame, target: str) -> str:
    """Returns the task a target column asks for: "regression" or "classification".

    Numbers with more than 20 different values are a quantity to predict; anything
    else (words, yes/no, a few numbers) is a set of classes.

    Raises:
        DataError: if `target` is not a column of `frame`.
    """
    if target not in frame.columns:
        raise DataError(
            f"Invalid value for argument `target`. Expected one of {list(frame.columns)}. "
            f"Received: target={target!r}"
        )
    values = frame[target].dropna()
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 20:
        return "regression"
    return "classification"


def split_indices(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits row positions into train, validation and test, stratified when labels are given.

    Args:
        labels: the target per row; integer classes give a stratified split, floats
            (regression targets) a plain one. Its length is the row count.
        val_fraction: share of all rows for validation.
        test_fraction: share of all rows for the final test.
        seed: random seed; the same seed gives the same split.

    Returns:
        Three sorted arrays of row positions.
    """
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(labels))
    rest, test = train_test_split(
        positions,
        test_size=test_fraction,
        random_state=seed,
        stratify=_stratify_or_none(labels),
    )
    val_share = val_fraction / (1 - test_fraction)
    train, val = train_test_split(
        rest,
        test_size=val_share,
        random_state=seed,
        stratify=_stratify_or_none(labels[rest]),
    )
    return np.sort(train), np.sort(val), np.sort(test)


def _stratify_or_none(labels: np.ndarray) -> np.ndarray | None:
    if labels.dtype.kind == "f":
        return None
    counts = pd.Series(labels).value_counts()
    return labels if len(counts) > 1 and counts.min() >= 3 else None
