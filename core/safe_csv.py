"""CSV files that are safe to open in a spreadsheet (no formula injection).

A cell such as `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` in a CSV runs as a formula
when the file is opened in Excel or LibreOffice. Following OWASP, every text cell and
header that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
`'`, so the spreadsheet shows it as text. Numbers stay numbers (`-3.5` stays `-3.5`).

The bundle scripts (`bundle_predict.py`, ...) must run alone, so each keeps a copy of
`neutralise`; the app and the CLI use this one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_text(value: object) -> object:
    """Returns `value` with a leading `'` if a spreadsheet would run it as a formula.

    Non-text values and plain numbers written as text (`"-3.5"`) are returned as is.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    return value if _NUMBER.fullmatch(value) else "'" + value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns a copy of `frame` whose text cells and headers cannot run as formulas."""
    safe = frame.rename(columns=lambda name: neutralise_text(str(name)))
    for column in range(safe.shape[1]):
        values = safe.iloc[:, column]
        if _holds_text(values.dtype):
            safe.isetitem(column, values.astype(object).map(neutralise_text))
    return safe


def _holds_text(dtype: object) -> bool:
    """True for columns that may hold text (numbers, dates and booleans cannot)."""
    return isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)) or (
        getattr(dtype, "kind", "") in "OSU"
    )


def to_csv(frame: pd.DataFrame, path: Path | None = None) -> str | None:
    """Writes `frame` as an injection-safe CSV to `path`, or returns the text if None."""
    return neutralise(frame).to_csv(path, index=False)
