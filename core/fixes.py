"""Simple fixes a person picks in the data check, applied when a run trains.

A fix is data, `{"fix": "zeros_as_missing", "column": "chol"}` or `{"fix": "drop",
"column": "id"}`, kept in a run's parameters under `fixes` (spec.json), so the
uploaded file is never rewritten. Table templates apply them when they prepare the
rows (the same for training, validation and test rows); zeros counted as missing
also live inside the saved model (`core.tables.model`), so the downloaded .keras
reads a 0 in that column as missing too. pandas only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from core.errors import DataError
from core.findings import Finding

ZEROS_AS_MISSING = "zeros_as_missing"
DROP = "drop"
FIXES = {
    ZEROS_AS_MISSING: "treat 0 in `{column}` as missing",
    DROP: "leave `{column}` out",
}
# The finding kinds (`core.findings.TITLES`) a fix is offered for. IDs, constant
# columns and dates are left out already, so they are offered none.
OFFERED = {
    "zeros_as_missing": ZEROS_AS_MISSING,
    "leak": DROP,
    "unread_numbers": DROP,
    "missing": DROP,  # only where most values are missing: see `offered_fix`
}
LEFT_OUT_REASON = "you asked to leave it out"


def check_fixes(value: Any) -> list[dict[str, str]]:
    """Checks the run parameter `fixes`: a list of `{"fix": ..., "column": ...}`.

    Args:
        value: the parameter as given (spec.json, the app, `--param fixes=[...]`).

    Returns:
        The fixes as plain dicts, each once, in the order given.

    Raises:
        DataError: if it is not a list of such objects with a known fix.
    """
    items = value if isinstance(value, list | tuple) else None
    if items is None or not all(_is_fix(item) for item in items):
        raise DataError(
            "Invalid value for argument `fixes`. Expected a list of objects such as "
            f'{{"fix": "drop", "column": "id"}} with a fix among {list(FIXES)}. '
            f"Received: fixes={value!r}"
        )
    found = [{"fix": item["fix"], "column": item["column"]} for item in items]
    return [dict(pair) for pair in dict.fromkeys(tuple(f.items()) for f in found)]


def _is_fix(item: Any) -> bool:
    return (
        isinstance(item, Mapping)
        and set(item) == {"fix", "column"}
        and item["fix"] in FIXES
        and isinstance(item["column"], str)
        and bool(item["column"])
    )


def columns_with(fixes: Iterable[Mapping[str, str]], fix: str) -> list[str]:
    """The columns `fixes` apply one kind of fix to, in order."""
    return [f["column"] for f in fixes if f["fix"] == fix]


def fix_problems(
    frame: pd.DataFrame, target: str | None, fixes: Sequence[Mapping[str, str]]
) -> list[str]:
    """Says why fixes cannot apply to this table, in plain words; `[]` means they can.

    A fix needs an existing column other than the target; zeros counted as missing
    need a column of numbers.
    """
    problems = []
    for fix in fixes:
        column = fix["column"]
        what = FIXES[fix["fix"]].format(column=column)
        if column not in frame.columns:
            problems.append(
                f"The fix '{what}' names a column the data does not have. Expected "
                f"one of {list(frame.columns)}. Received: column={column!r}"
            )
        elif column == target:
            problems.append(
                f"The fix '{what}' concerns the column to predict; choose another "
                "target or undo the fix."
            )
        elif fix["fix"] == ZEROS_AS_MISSING and not _numeric(frame[column]):
            problems.append(
                f"The fix '{what}' needs a column of numbers, but `{column}` holds "
                "other values."
            )
    return problems


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
        series
    )


def apply_fixes(
    frame: pd.DataFrame, fixes: Sequence[Mapping[str, str]]
) -> pd.DataFrame:
    """Returns a copy of `frame` with the fixes applied; `frame` is left as it was.

    Zeros in a `zeros_as_missing` column become missing values (NaN); a `drop`
    column is removed. Fixes naming absent columns are skipped (see `fix_problems`).

    Args:
        frame: the table as uploaded.
        fixes: checked fixes (`check_fixes`).
    """
    if not fixes:
        return frame
    fixed = frame.copy()
    for column in columns_with(fixes, ZEROS_AS_MISSING):
        if column in fixed.columns and _numeric(fixed[column]):
            fixed[column] = fixed[column].mask(fixed[column] == 0)
    dropped = [c for c in columns_with(fixes, DROP) if c in fixed.columns]
    return fixed.drop(columns=dropped)


def describe(fix: Mapping[str, str]) -> str:
    """A fix in plain words, e.g. "treat 0 in `chol` as missing"."""
    return FIXES[fix["fix"]].format(column=fix["column"])


def asked_lines(fixes: Iterable[Mapping[str, str]]) -> list[str]:
    """One "You asked: ..." sentence per fix, for results, the CLI and the model card."""
    return [f"You asked: {describe(fix)}." for fix in fixes]


def offered_fix(finding: Finding) -> str:
    """The fix the data check offers for a finding ("" for none).

    Missing values are offered `drop` only where most of the column is missing (the
    finding is a warning); fewer are filled well by the model.
    """
    if finding.column is None or (
        finding.code == "missing" and finding.level != "warning"
    ):
        return ""
    return OFFERED.get(finding.code, "")


def toggled(
    fixes: Sequence[Mapping[str, str]], fix: str, columns: Iterable[str], on: bool
) -> list[dict[str, str]]:
    """Returns `fixes` with one kind of fix added to (or removed from) some columns.

    Args:
        fixes: the fixes chosen so far.
        fix: a key of `FIXES`.
        columns: the columns to change.
        on: True adds the fix for each column, False removes it.
    """
    chosen = [dict(f) for f in fixes]
    for column in columns:
        item = {"fix": fix, "column": column}
        if on and item not in chosen:
            chosen.append(item)
        if not on and item in chosen:
            chosen.remove(item)
    return chosen
