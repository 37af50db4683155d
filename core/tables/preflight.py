"""The table preflight: a CSV table's data-quality problems in plain words, with the fix.

Missing values, infinite numbers, constant and ID-like columns, numbers in a format the
loader cannot read, zeros that mean 'not measured', duplicates, few rows, imbalance and
likely leakage. scikit-learn is imported inside the leakage check only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.columns import (
    FEATURE_TYPES,
    infinite_mask,
    mask_infinite,
    mixed_columns,
    target_task,
)
from core.findings import Finding
from core.table_reading import string_columns

ZERO_GAP_STEPS = 5  # zeros this many typical steps below the lowest value: impossible
IMBALANCE_RATIO = 0.5  # rarest / largest class below this: imbalanced
# The metric a classifier is judged by when its classes are imbalanced, in words.
METRIC_ADVICE = {
    "average_precision": "average precision (how well it ranks the rare class first)",
    "balanced_accuracy": "balanced accuracy (every class counts the same)",
}
_NUMBER_LIKE = r"[\s$€£¥%+-]*\d[\d.,'\u00a0 ]*[\s$€£¥%]*"


def preflight(
    frame: pd.DataFrame, target: str | None, column_types: Mapping[str, str]
) -> list[Finding]:
    """Lists data-quality problems in plain words, each with the fix that applies.

    Args:
        frame: the table.
        target: the column to predict, if chosen.
        column_types: column name to column type (after overrides).

    Returns:
        Findings, most important first.
    """
    findings = _width_findings(frame) + find_infinite(frame)
    frame = mask_infinite(frame)
    findings += _missing_findings(frame, target)
    findings += _column_findings(frame, target, column_types)
    findings += _zero_findings(frame, column_types)
    findings += _duplicate_findings(frame)
    if target in frame.columns:
        findings += _target_findings(frame, target, column_types)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.level])


def _width_findings(frame: pd.DataFrame) -> list[Finding]:
    if frame.shape[1] > 1:
        return []
    return [
        Finding(
            "error",
            f"The table has only one column ({frame.columns[0]!r}).",
            "A model needs a target column and at least one input column. If your file "
            "uses a separator other than , ; tab or |, save it again as a "
            "comma-separated CSV.",
            "one_column",
        )
    ]


def find_infinite(frame: pd.DataFrame) -> list[Finding]:
    """Finds infinite numbers and numbers too large to compute with, per column.

    `inf`, `-inf`, `Infinity` and values beyond 1.8e308 are read as infinite; values
    beyond 3.4e38 become infinite inside a model (it computes in float32).

    Args:
        frame: raw rows, e.g. a loaded table or rows to score.

    Returns:
        One warning per column that holds such values, naming the column and the first
        data rows (1 is the first row below the header); empty if there are none.
    """
    findings = []
    for column in frame.columns:
        rows = np.flatnonzero(infinite_mask(frame[column]))
        if not len(rows):
            continue
        shown = ", ".join(str(row + 1) for row in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        findings.append(
            Finding(
                "warning",
                f"`{column}` holds {_count(len(rows), 'infinite or too large value')} "
                f"(row {shown}{more}).",
                "They are treated as missing values. If they are errors, fix them in "
                "your file.",
                "infinite",
                column,
            )
        )
    return findings


def _missing_findings(frame: pd.DataFrame, target: str | None) -> list[Finding]:
    findings = []
    for column, count in frame.isna().sum().items():
        if not count or column == target:
            continue
        share = count / len(frame)
        findings.append(
            Finding(
                "warning" if share > 0.3 else "info",
                f"`{column}` has {count} missing values ({share:.0%}).",
                "The app fills missing numbers with the training average and adds a "
                "'was missing' signal; missing categories become their own value.",
                "missing",
                column,
            )
        )
    if target in frame.columns and frame[target].isna().any():
        count = int(frame[target].isna().sum())
        findings.append(
            Finding(
                "warning",
                f"The target `{target}` is missing in {count} rows.",
                "Those rows are left out of training and testing.",
                "missing_target",
            )
        )
    return findings


def _column_findings(
    frame: pd.DataFrame, target: str | None, column_types: Mapping[str, str]
) -> list[Finding]:
    unread = _unread_numbers(frame, target, column_types)
    findings = _unread_number_findings(unread, column_types)
    for column in frame.columns:
        if column == target or column in unread:
            continue
        if frame[column].nunique(dropna=False) <= 1:
            findings.append(
                Finding(
                    "info",
                    f"`{column}` has the same value in every row.",
                    "It carries no information, so the app leaves it out.",
                    "constant",
                    column,
                )
            )
        elif column_types.get(column) == "identifier":
            findings.append(
                Finding(
                    "info",
                    f"`{column}` looks like an ID (almost every value is different).",
                    "The app leaves it out; change "
                    "its type above if it is a real measurement.",
                    "identifier",
                    column,
                )
            )
        elif column_types.get(column) == "date":
            findings.append(
                Finding(
                    "info",
                    f"`{column}` holds dates.",
                    "Table templates "
                    "leave dates out; use the time-series template for them.",
                    "dates",
                    column,
                )
            )
    for column, words in mixed_columns(frame).items():
        findings.append(
            Finding(
                "warning",
                f"`{column}` mixes numbers and words (e.g. {', '.join(map(repr, words))}).",
                "It is treated as a category. If the words mean 'missing', set its type to "
                "number: the words then count as missing values.",
                "mixed",
                column,
            )
        )
    return findings


def _unread_number_findings(
    unread: Mapping[str, str], column_types: Mapping[str, str]
) -> list[Finding]:
    use = {"identifier": "left out as an ID", "category": "treated as categories"}
    treated = {c: use.get(column_types.get(c), "not used as numbers") for c in unread}
    return [
        Finding(
            "warning",
            f"`{column}` looks like numbers (e.g. {example!r}), but not in one format "
            f"the app can read, so it is {treated[column]}.",
            "If it holds amounts, write every value in one format, e.g. 50088.83 or (in "
            "a file separated by ;) 50.088,83, without units or currency signs. If it is "
            "a code (phone number, postcode), ignore this.",
            "unread_numbers",
            column,
        )
        for column, example in unread.items()
    ]


def _unread_numbers(
    frame: pd.DataFrame, target: str | None, column_types: Mapping[str, str]
) -> dict[str, str]:
    """Text columns that look like numbers the loader could not read: column -> example."""
    found = {}
    for column in string_columns(frame):
        values = frame[column].dropna().astype(str).str.strip()
        if (
            column != target
            and column_types.get(column) != "date"
            and _number_like(values)
        ):
            found[column] = values.iloc[0]
    return found


def _number_like(values: pd.Series) -> bool:
    """Mostly number-shaped text (digits, separators, signs) that is not plain numbers."""
    if values.empty or values.str.fullmatch(_NUMBER_LIKE).mean() < 0.9:
        return False
    return pd.to_numeric(values, errors="coerce").notna().mean() < 0.5


def _zero_findings(
    frame: pd.DataFrame, column_types: Mapping[str, str]
) -> list[Finding]:
    findings = []
    numbers = [c for c in frame.columns if column_types.get(c) == "number"]
    for column in numbers:
        if not _has_impossible_zeros(frame[column]):
            continue
        values = frame[column]
        zeros = int((values == 0).sum())
        smallest = values[values > 0].min()
        found = (
            f"`{column}`: {_count(zeros, 'row')} {'is' if zeros == 1 else 'are'} 0, "
            f"far below every other value (the smallest is {smallest:g})."
        )
        findings.append(
            Finding(
                "warning",
                f"{found} For a measurement like this, 0 is impossible; they probably "
                "mean 'missing'.",
                "If 0 means 'not measured', leave those cells empty in your file: the "
                "app then fills them and adds a 'was missing' signal. If 0 is a real "
                "value, ignore this.",
                "zeros_as_missing",
                column,
                found,
            )
        )
    return findings


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _has_impossible_zeros(series: pd.Series) -> bool:
    """True for a measurement that is positive apart from zeros far below its range.

    A count such as `Pregnancies` (0, 1, 2, ...) or a flag is not flagged: there the
    smallest positive value is one step away from 0. A measurement such as insulin
    (0, then 14, 15, 16, 18, ...) is: 0 lies many steps below its lowest values.
    """
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    values = series.dropna()
    if not (values == 0).any() or (values < 0).any():
        return False
    lowest = np.sort(values[values > 0].unique())[:11]
    if len(lowest) < 11:  # too few distinct values for a measurement
        return False
    step = float(np.median(np.diff(lowest)))
    return bool(lowest[0] >= ZERO_GAP_STEPS * step)


def _duplicate_findings(frame: pd.DataFrame) -> list[Finding]:
    count = int(frame.duplicated().sum())
    if not count:
        return []
    return [
        Finding(
            "warning",
            f"{count} rows are exact copies of other rows.",
            "They are kept. If they are copies by mistake, remove them: a copy in "
            "both training and test makes the score look better than it is.",
            "duplicates",
        )
    ]


def _target_findings(
    frame: pd.DataFrame, target: str, column_types: Mapping[str, str]
) -> list[Finding]:
    task = target_task(frame, target)
    findings = []
    labeled = frame[frame[target].notna()]
    features = [
        c for c in frame.columns if c != target and column_types.get(c) in FEATURE_TYPES
    ]
    if len(labeled) < 10 * max(1, len(features)):
        findings.append(
            Finding(
                "warning",
                f"{len(labeled)} rows for {len(features)} input columns is few.",
                "Results will vary a lot between runs; more rows (10 per input column or "
                "more) or fewer columns help.",
                "few_rows",
            )
        )
    if task == "classification":
        findings += _imbalance_findings(labeled[target])
    findings += _leakage_findings(labeled, target, features, task)
    return findings


def headline_metric(labels: pd.Series) -> str:
    """The metric a classifier of these labels is judged by: the data check's advice.

    Plain accuracy, unless the rarest class has under half the rows of the largest:
    then average precision for two classes (the yes/no threshold is chosen later, on
    the Threshold page) and balanced accuracy for more. The table report leads with
    the same metric (`core.tables.report`), as training records it in the run's info.

    Args:
        labels: the target's values in the rows that have one.

    Returns:
        "accuracy", "average_precision" or "balanced_accuracy".
    """
    counts = labels.astype(str).value_counts()
    if len(counts) < 2 or counts.iloc[-1] / counts.iloc[0] >= IMBALANCE_RATIO:
        return "accuracy"
    return "average_precision" if len(counts) == 2 else "balanced_accuracy"


def _imbalance_findings(labels: pd.Series) -> list[Finding]:
    metric = headline_metric(labels)
    if metric == "accuracy":
        return []
    counts = labels.astype(str).value_counts()
    rare = counts.index[-1]
    return [
        Finding(
            "warning",
            f"Classes are imbalanced: `{rare}` has {counts.iloc[-1]} rows, `{counts.index[0]}` "
            f"has {counts.iloc[0]}.",
            "The app weights the rare classes up during training, and Results judge "
            f"the model by {METRIC_ADVICE[metric]}, not plain accuracy.",
            "imbalance",
        )
    ]


def _leakage_findings(
    frame: pd.DataFrame, target: str, features: list[str], task: str
) -> list[Finding]:
    if len(frame) < 20:
        return []
    sample = frame.sample(min(len(frame), 5000), random_state=0)
    findings = []
    for column in features[:200]:
        score = _single_feature_score(sample[column], sample[target], task)
        if score >= 0.98:
            findings.append(
                Finding(
                    "warning",
                    f"`{column}` alone predicts `{target}` almost perfectly (score {score:.2f}).",
                    "This is often a leak: a column that is only known after the answer. "
                    "Leave it out (the button below), unless it is truly available "
                    "when you predict.",
                    "leak",
                    column,
                )
            )
    return findings


def _single_feature_score(feature: pd.Series, target: pd.Series, task: str) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if pd.api.types.is_numeric_dtype(feature):
        x = feature.fillna(feature.median()).to_frame()
    else:
        x = feature.astype(str).astype("category").cat.codes.to_frame()
    if task == "classification":
        y = target.astype(str)
        if y.value_counts().min() < 3:
            return 0.0
        model, scoring = (
            DecisionTreeClassifier(max_depth=4, random_state=0),
            "balanced_accuracy",
        )
    else:
        model, scoring, y = (
            DecisionTreeRegressor(max_depth=6, random_state=0),
            "r2",
            target,
        )
    return float(cross_val_score(model, x, y, cv=3, scoring=scoring).mean())
