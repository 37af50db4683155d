"""Dated series, the time column: find it, parse it strictly and name its date format.

pandas at import time. Dates may be text (2024-01-31, with or without time zones) or
numbers (yyyymmdd, yyyymm, year, decimal year); every unreadable column raises a
`DataError` that names the rows and says what to fix.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from core.errors import DataError
from core.series import bundle as series_bundle

TIME_NAME = re.compile(
    r"date|time|timestamp|year|yyyy|^yr$|^ds$|^day$|^period$|^month$|^week$", re.I
)
NUMBER_FORMATS = {  # date_format choice → the time format the bundle parses with
    "yyyymmdd": "%Y%m%d",
    "yyyymm": "%Y%m",
    "year": "%Y",
    "decimal_year": series_bundle.DECIMAL_YEAR,
}
DATE_FORMATS = ("auto", "text", *NUMBER_FORMATS)
MONTHS = "January February March April May June July August September October November December"
TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)$"
DISTINCT_SHARE = 0.9  # share of distinct values a column of number dates needs


def detect_time_column(
    frame: pd.DataFrame, requested: str = "", date_format: str = "auto"
) -> str:
    """Returns the column holding dates or times: `requested`, or the first that looks so.

    Columns named like times (date, time, year, ...) are tried first. A numeric column
    counts when its numbers are dates in one of `NUMBER_FORMATS` (or in `date_format`
    when it names one): by name, or unnamed when written yyyymmdd or yyyymm in time
    order, so prices or counts are never taken for years.

    Raises:
        DataError: if `requested` is not a column, or no column looks like dates.
    """
    if requested:
        if requested not in frame.columns:
            raise DataError(
                f"Invalid value for argument `time_column`. Expected one of "
                f"{list(frame.columns)}. Received: time_column={requested!r}"
            )
        return requested
    named = [c for c in frame.columns if TIME_NAME.search(str(c))]
    for column in named + [c for c in frame.columns if c not in named]:
        if _looks_like_times(frame[column], column in named, date_format):
            return column
    if date_format in NUMBER_FORMATS:
        raise DataError(
            f"No column holds dates written as {date_format}. Set `date_format` to "
            "auto or to how the dates are written, or name the column with "
            f"`time_column`. Columns: {list(frame.columns)}."
        )
    raise DataError(
        "No column looks like dates or times (e.g. 2024-01-31, 2024-01-31 14:00, or "
        "numbers such as 19580329, 195803, 1958 or 1958.21 in a column named like "
        "`date` or `year`), so there is no time order to forecast along. Columns: "
        f"{list(frame.columns)}. Add a date column, or name it with `time_column`."
    )


def _looks_like_times(column: pd.Series, by_name: bool, date_format: str) -> bool:
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return date_format != "text" and _number_dates(column, by_name, date_format)
    text = column.dropna().astype("string").head(200)
    if text.empty:
        return False
    if by_name:
        return True  # named like a date: parse it and report what is wrong
    if not text.str.contains(r"\d").all():
        return False
    parsed = pd.to_datetime(text, format="mixed", errors="coerce", utc=True)
    return parsed.notna().mean() >= 0.8


def _number_dates(column: pd.Series, by_name: bool, date_format: str) -> bool:
    if date_format in NUMBER_FORMATS:
        return number_format_fits(column, date_format)
    guessed = guess_number_format(column)
    present = column.dropna()
    if guessed is None or present.nunique() < DISTINCT_SHARE * len(present):
        return False  # e.g. the year of monthly rows: another column is finer
    return by_name or (
        guessed in ("yyyymmdd", "yyyymm") and present.is_monotonic_increasing
    )


def guess_number_format(column: pd.Series) -> str | None:
    """Returns the `NUMBER_FORMATS` key every number in `column` fits, or None."""
    for choice in NUMBER_FORMATS:
        if number_format_fits(column, choice):
            return choice
    return None


def number_format_fits(column: pd.Series, date_format: str) -> bool:
    """Whether every value is a date written as a number in `date_format`."""
    numbers = pd.to_numeric(column, errors="coerce").dropna()
    whole = bool((numbers % 1 == 0).all())
    if numbers.empty or whole == (date_format == "decimal_year"):
        return False
    if not column.dropna().astype("string").str.strip().str.match(r"^-?[\d.]+$").all():
        return False
    times = series_bundle.parse_times(numbers, NUMBER_FORMATS[date_format], False)
    return bool(times.dt.year.between(*series_bundle.YEAR_RANGE).all())


def date_format_of(time_format: str | None) -> str:
    """The `date_format` choice a recorded time format came from."""
    choices = {fmt: choice for choice, fmt in NUMBER_FORMATS.items()}
    return choices.get(time_format or "", "text")


def parse_time_column(
    column: pd.Series, date_format: str = "auto"
) -> tuple[pd.Series, str | None, bool]:
    """Parses a time column strictly, so days and months are never silently swapped.

    Args:
        column: the raw time column.
        date_format: one of `DATE_FORMATS`: "auto" reads text dates, and numbers in
            the first of `NUMBER_FORMATS` they fit.

    Returns:
        The times (naive; UTC when the text carried zones), the one format all values
        share (`None` if pandas cannot name it) and whether zones were converted.

    Raises:
        DataError: for numbers that are not dates, values that are not dates, or
            mixed date formats.
    """
    _check_date_format(date_format)
    numeric = pd.api.types.is_numeric_dtype(column)
    if date_format == "auto" and numeric:
        date_format = guess_number_format(column) or "text"
    if date_format in NUMBER_FORMATS:
        return (
            _parse_number_dates(column, date_format),
            NUMBER_FORMATS[date_format],
            False,
        )
    if numeric:
        raise DataError(
            f"Column `{column.name}` holds numbers, not dates: e.g. "
            f"{column.dropna().iloc[0]!r} is not a date written as a number (19580329, "
            "195803, 1958 or 1958.21). Choose a column with dates as `time_column`, "
            "or set `date_format` if the numbers are dates."
        )
    return _parse_text_dates(column)


def _check_date_format(date_format: str) -> None:
    if date_format not in DATE_FORMATS:
        raise DataError(
            f"Invalid value for argument `date_format`. Expected one of "
            f"{list(DATE_FORMATS)}. Received: date_format={date_format!r}"
        )


def _parse_number_dates(column: pd.Series, date_format: str) -> pd.Series:
    times = series_bundle.parse_times(column, NUMBER_FORMATS[date_format], False)
    low, high = series_bundle.YEAR_RANGE
    times = times.where(times.dt.year.between(low, high))
    unparsed = _unparsed(column, times)
    if unparsed:
        rows, first = unparsed
        raise DataError(
            f"Column `{column.name}` has values that are not dates written as "
            f"{date_format} (years {low} to {high}): line(s) {rows} of the file hold "
            f"{first!r}. Fix those rows, or set `date_format` to how the dates "
            f"are written ({', '.join(DATE_FORMATS[1:])})."
        )
    if column.dropna().empty:
        raise DataError(
            f"Column `{column.name}` is empty; it cannot give the time order."
        )
    return times


def _parse_text_dates(column: pd.Series) -> tuple[pd.Series, str | None, bool]:
    name = column.name
    text = column.astype("string").str.strip()
    present = text.dropna()
    if present.empty:
        raise DataError(f"Column `{name}` is empty; it cannot give the time order.")
    utc = bool(present.str.contains(TZ_SUFFIX).any())
    loose = pd.to_datetime(text, format="mixed", errors="coerce", utc=utc)
    _refuse_unparseable(text, loose, name)
    fmt = guess_datetime_format(str(present.iloc[0]))
    if fmt:
        strict = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
        _refuse_mixed_formats(text, strict, name)
    times = series_bundle.parse_times(column, fmt, utc)
    return times, fmt, utc


def number_dates_note(column: pd.Series, time_format: str) -> str:
    """Says in plain words how a column of numbers was read as dates."""
    choice = date_format_of(time_format)
    example = column.dropna().iloc[0]
    shown = f"{example:.0f}" if float(example) % 1 == 0 else repr(float(example))
    when = series_bundle.parse_times(pd.Series([example]), time_format, False)[0]
    month = MONTHS.split()[when.month - 1]
    words = {
        "yyyymmdd": f"dates written as numbers (yyyymmdd), e.g. {shown} = "
        f"{when.day} {month} {when.year}",
        "yyyymm": f"months written as numbers (yyyymm), e.g. {shown} = {month} "
        f"{when.year}",
        "year": f"years written as numbers, e.g. {shown} = the year {when.year}",
        "decimal_year": f"decimal years (the fraction is the part of the year gone "
        f"by), e.g. {shown} = {when.day} {month} {when.year}",
    }
    return (
        f"`{column.name}` holds {words[choice]}. If that is wrong, set `date_format` "
        "to how the dates are written."
    )


def _refuse_unparseable(text: pd.Series, times: pd.Series, name: str) -> None:
    unparsed = _unparsed(text, times)
    if unparsed:
        rows, first = unparsed
        raise DataError(
            f"Column `{name}` has values that are not dates: line(s) {rows} of the "
            f"file hold {first!r}. Fix or delete those rows."
        )


def _unparsed(values: pd.Series, times: pd.Series) -> tuple[str, Any] | None:
    """The file lines (first five) of values that did not parse, and the first value."""
    bad = values[values.notna() & times.isna()]
    if bad.empty:
        return None
    return ", ".join(str(i + 2) for i in bad.index[:5]), bad.iloc[0]


def _refuse_mixed_formats(text: pd.Series, strict: pd.Series, name: str) -> None:
    odd = text[text.notna() & strict.isna()]
    if len(odd):
        first = text.dropna()
        raise DataError(
            f"Column `{name}` mixes date formats: line {first.index[0] + 2} is written "
            f"{first.iloc[0]!r} but line {odd.index[0] + 2} {odd.iloc[0]!r}. Write every "
            "date the same way (e.g. 2024-01-31) so days and months cannot be confused."
        )
