"""Time series in: find and parse the time column, regularize, window, and score baselines.

pandas and numpy at import time; Keras only inside `windows`. Everything a user should
know about their series (duplicates, gaps, irregular spacing, time zones, missing values)
is reported as plain sentences, and every unusable input raises a `DataError` that says
what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from core.errors import DataError
from core.series import bundle as bundle_forecast

TIME_NAME = re.compile(
    r"date|time|timestamp|year|yyyy|^yr$|^ds$|^day$|^period$|^month$|^week$", re.I
)
NUMBER_FORMATS = {  # date_format choice → the time format the bundle parses with
    "yyyymmdd": "%Y%m%d",
    "yyyymm": "%Y%m",
    "year": "%Y",
    "decimal_year": bundle_forecast.DECIMAL_YEAR,
}
DATE_FORMATS = ("auto", "text", *NUMBER_FORMATS)
MONTHS = "January February March April May June July August September October November December"
TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)$"
NINES = r"^-?9+\.?9*$"  # how missing-value markers such as -99.99 are written
MIN_TRAIN_WINDOWS = 10
MIN_LOOKBACK = 2
REGULAR_SHARE = 0.9
DAY = 86400.0
CALENDAR_STEPS = {  # step lengths (seconds) that count as one calendar step, ± a day
    "monthly": (27 * DAY, 32 * DAY),  # as decimal years (1958.2027) are rounded
    "quarterly": (88 * DAY, 93 * DAY),
    "yearly": (364 * DAY, 367 * DAY),
}


@dataclass(frozen=True)
class Frequency:
    """How often the series is measured, with the defaults that go with it."""

    alias: str  # pandas offset alias: "D", "h", "W-SUN", "MS", "15min", ...
    label: str  # "daily", "hourly", ... or "every 15 minutes"
    unit: str  # one step in words: "day", "hour", "15 minutes"
    seconds: float  # the usual step length (months: 30.4 days)
    horizon: int
    lookback: int
    seasons: tuple[int, ...]  # candidate season lengths in steps


NAMED_FREQUENCIES = {  # step seconds → (alias, label, unit, horizon, lookback, seasons)
    3600.0: ("h", "hourly", "hour", 24, 72, (24, 168)),
    DAY: ("D", "daily", "day", 7, 14, (7, 365)),
}


@dataclass
class Series:
    """A cleaned, regular series with what was done to it."""

    regular: pd.DataFrame  # indexed by time; the target first, then covariates
    meta: dict[str, Any]  # what `bundle_forecast` needs to repeat the cleaning
    frequency: Frequency
    notes: list[str] = field(default_factory=list)


# --- the time column ------------------------------------------------------------------


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
    if guessed is None or present.nunique() < REGULAR_SHARE * len(present):
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
    times = bundle_forecast.parse_times(numbers, NUMBER_FORMATS[date_format], False)
    return bool(times.dt.year.between(*bundle_forecast.YEAR_RANGE).all())


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
    times = bundle_forecast.parse_times(column, NUMBER_FORMATS[date_format], False)
    low, high = bundle_forecast.YEAR_RANGE
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
    times = bundle_forecast.parse_times(column, fmt, utc)
    return times, fmt, utc


def number_dates_note(column: pd.Series, time_format: str) -> str:
    """Says in plain words how a column of numbers was read as dates."""
    choice = date_format_of(time_format)
    example = column.dropna().iloc[0]
    shown = f"{example:.0f}" if float(example) % 1 == 0 else repr(float(example))
    when = bundle_forecast.parse_times(pd.Series([example]), time_format, False)[0]
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


def infer_frequency(times: pd.Series) -> tuple[Frequency, float]:
    """Returns the series' frequency and the share of steps that have the usual length.

    Raises:
        DataError: if every timestamp is the same.
    """
    unique = pd.DatetimeIndex(times.dropna().unique()).sort_values()
    if len(unique) < 2:
        raise DataError(
            f"Every row has the same time ({unique[0] if len(unique) else 'none'}); "
            "a forecast needs measurements at different times."
        )
    steps = pd.Series(unique).diff().dt.total_seconds().dropna()
    usual = float(steps.round().mode().iloc[0])
    frequency = _frequency(usual, unique)
    low, high = CALENDAR_STEPS.get(frequency.label, (usual, usual))
    share = float(steps.round().between(low, high).mean())
    return frequency, share


def _frequency(seconds: float, times: pd.DatetimeIndex) -> Frequency:
    if seconds in NAMED_FREQUENCIES:
        alias, label, unit, horizon, lookback, seasons = NAMED_FREQUENCIES[seconds]
        return Frequency(alias, label, unit, seconds, horizon, lookback, seasons)
    if seconds == 7 * DAY:
        anchor = times[0].day_name()[:3].upper()
        return Frequency(f"W-{anchor}", "weekly", "week", seconds, 4, 26, (52,))
    if 28 * DAY <= seconds <= 31 * DAY:
        alias = "ME" if times.is_month_end.all() else "MS"
        return Frequency(alias, "monthly", "month", 30.44 * DAY, 12, 24, (12,))
    if 89 * DAY <= seconds <= 92 * DAY:
        return Frequency("QS", "quarterly", "quarter", 91.3 * DAY, 4, 12, (4,))
    if 365 * DAY <= seconds <= 366 * DAY:
        return Frequency("YS", "yearly", "year", 365.25 * DAY, 5, 20, ())
    return _custom_frequency(seconds)


def _custom_frequency(seconds: float) -> Frequency:
    unit = _duration(seconds)
    per_day = DAY / seconds
    seasons = (int(per_day),) if per_day > 1 and per_day.is_integer() else ()
    alias = f"{int(seconds // 60)}min" if seconds % 60 == 0 else f"{int(seconds)}s"
    return Frequency(alias, f"every {unit}", unit, seconds, 12, 48, seasons)


def _duration(seconds: float) -> str:
    for size, name in ((DAY, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {name}s" if count > 1 else name
    return f"{seconds:g} seconds"


# --- cleaning ---------------------------------------------------------------------------


def load_series(
    frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
) -> Series:
    """Checks, parses and regularizes a table into the series the model learns from.

    Args:
        frame: the raw table.
        target: the numeric column to forecast.
        params: the template's params (time_column, date_format, covariates,
            fill_gaps).

    Raises:
        DataError: for every input that cannot be forecast, in plain words.
    """
    _check_target(frame, target)
    date_format = str(params.get("date_format") or "auto")
    time_column = detect_time_column(
        frame, str(params.get("time_column") or ""), date_format
    )
    if time_column == target:
        raise DataError(f"`{target}` cannot be both the time column and the target.")
    times, fmt, utc = parse_time_column(frame[time_column], date_format)
    frequency, share = infer_frequency(times)
    columns = [target, *covariate_columns(frame, target, time_column, params)]
    meta = {
        "time_column": time_column,
        "time_format": fmt,
        "utc": utc,
        "freq": frequency.alias,
        "step_seconds": frequency.seconds,
        "columns": columns,
        "missing_markers": missing_markers(frame, columns),
        "fill_gaps": params.get("fill_gaps", "interpolate"),
    }
    regular = bundle_forecast.regular_series(frame, meta)
    notes = _notes(frame, target, times, regular, frequency, share, meta)
    if regular[target].nunique() < 2:
        raise DataError(
            f"`{target}` has the same value at every time step; there is nothing to "
            "forecast."
        )
    return Series(regular, meta, frequency, notes)


def _check_target(frame: pd.DataFrame, target: str | None) -> None:
    if target not in frame.columns:
        raise DataError(
            f"Invalid value for argument `target`. Expected one of "
            f"{list(frame.columns)}. Received: target={target!r}"
        )
    column = frame[target]
    if column.isna().all():
        raise DataError(
            f"`{target}` is empty in every row; choose a column with measurements."
        )
    if not pd.api.types.is_numeric_dtype(column):
        example = column.dropna().iloc[0]
        raise DataError(
            f"`{target}` holds text (e.g. {example!r}), not numbers; a forecast needs "
            "a numeric column such as a temperature, a count or an amount."
        )


def covariate_columns(
    frame: pd.DataFrame, target: str, time_column: str, params: Mapping[str, Any]
) -> list[str]:
    """Returns the other numeric, non-constant columns when covariates are wanted."""
    if params.get("covariates", "all") == "none":
        return []
    return [
        c
        for c in frame.columns
        if c not in (target, time_column)
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and frame[c].nunique() > 1
    ]


def missing_markers(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[float]]:
    """Returns, per column, the values that mark a missing measurement (e.g. -99.99).

    A marker is written with nines only (-9.99, -99.99, -999, 9999) and lies far outside
    the column's other values: further from them than their whole range.
    """
    found = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        unique = pd.Series(values.unique())
        nines = unique[
            (unique.abs() >= 9.9) & unique.map(lambda v: f"{v:g}").str.match(NINES)
        ]
        rest = values[~values.isin(nines)]
        if rest.empty or nines.empty:
            continue
        spread = rest.max() - rest.min()
        far = nines[(rest.min() - nines > spread) | (nines - rest.max() > spread)]
        if len(far):
            found[column] = sorted(float(v) for v in far)
    return found


def excluded_columns(frame: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, str]:
    """Returns each column the model does not use, with the reason in plain words."""
    used = {meta["time_column"], *meta["columns"]}
    return {
        c: "not numeric" if not pd.api.types.is_numeric_dtype(frame[c]) else "not used"
        for c in frame.columns
        if c not in used
    }


def _notes(
    frame: pd.DataFrame,
    target: str,
    times: pd.Series,
    regular: pd.DataFrame,
    frequency: Frequency,
    share: float,
    meta: Mapping[str, Any],
) -> list[str]:
    notes = [f"The data is {frequency.label}: one row per {frequency.unit}."]
    if meta["time_format"] in bundle_forecast.NUMBER_FORMATS:
        notes.append(number_dates_note(frame[meta["time_column"]], meta["time_format"]))
    if meta["utc"]:
        notes.append(
            "The timestamps carry time zones; they were converted to UTC so that "
            "daylight-saving changes create no duplicates or gaps. Forecast times are UTC."
        )
    duplicated = int(times.dropna().duplicated().sum())
    if duplicated:
        notes.append(
            f"{duplicated} rows repeat a timestamp already seen; rows with the same "
            "time were averaged."
        )
    if share < REGULAR_SHARE:
        notes.append(
            f"The timestamps are irregularly spaced: only {share:.0%} of them are one "
            f"{frequency.unit} apart. Values were averaged into regular {frequency.label} "
            "steps."
        )
    notes += _gap_notes(frame, target, times, regular, frequency, meta)
    return notes


def _gap_notes(
    frame: pd.DataFrame,
    target: str,
    times: pd.Series,
    regular: pd.DataFrame,
    frequency: Frequency,
    meta: Mapping[str, Any],
) -> list[str]:
    filled = meta["fill_gaps"] == "interpolate"
    handled = (
        "filled by straight-line interpolation"
        if filled
        else "left empty; forecasts that would need them are skipped"
    )
    rows = bundle_forecast.time_bins(pd.Series(1.0, index=times.dropna()), meta["freq"])
    counts = rows.count()
    notes = []
    gaps = int((counts == 0).sum())
    if gaps:
        notes.append(
            f"{gaps} of {len(counts)} {frequency.unit} steps have no row (gaps, the "
            f"longest {_longest_run(counts.to_numpy() == 0)} steps); they were {handled}."
        )
    empty = int(frame[target].isna().sum())
    if empty:
        notes.append(f"{empty} rows have no `{target}` value; they were {handled}.")
    for column, markers in meta["missing_markers"].items():
        count = int(frame[column].isin(markers).sum())
        written = " or ".join(f"{m:g}" for m in markers)
        notes.append(
            f"`{column}` uses {written} to mark a missing value ({count} rows); those "
            f"were treated as missing and {handled}."
        )
    return notes


def _longest_run(flags: np.ndarray) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def resolve_window(params: Mapping[str, Any], series: Series) -> tuple[int, int]:
    """Returns (lookback, horizon): the params, or where 0 the frequency's defaults.

    The defaults cover a season where the frequency has a short one (monthly: the next
    12 months from the last 24; hourly: the next 24 hours), and shrink to fit a short
    series, so that training, validation and test each get full windows.
    """
    frequency, n_steps = series.frequency, len(series.regular)
    val_start, test_start = segment_bounds(
        n_steps, params["val_fraction"], params["test_fraction"]
    )
    horizon = int(params.get("horizon") or 0)
    if not horizon:
        room = min(test_start - val_start, n_steps - test_start)
        horizon = max(1, min(frequency.horizon, room))
    lookback = int(params.get("lookback") or 0)
    if not lookback:
        room = val_start - horizon + 1 - MIN_TRAIN_WINDOWS
        lookback = max(MIN_LOOKBACK, min(frequency.lookback, room))
    return lookback, horizon


def describe_window(lookback: int, horizon: int, frequency: Frequency) -> str:
    """Says in the data's own units what a forecast covers.

    E.g. "Forecasts the next 12 months (a full year) from the last 24 months."
    """
    covers = _period_words(horizon * frequency.seconds)
    return (
        f"Forecasts the next {_steps(horizon, frequency.unit)}"
        f"{f' ({covers})' if covers and horizon > 1 else ''} from the last "
        f"{_steps(lookback, frequency.unit)}."
    )


def _steps(count: int, unit: str) -> str:
    if unit[0].isdigit():
        return f"{count} steps of {unit}"
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _period_words(seconds: float) -> str:
    for days, words in ((1, "a full day"), (7, "a full week"), (365.25, "a full year")):
        if abs(seconds / DAY - days) <= 0.02 * days:
            return words
    return ""


def window_plan(
    frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The lookback and horizon a run with `params` would use, for a form to show.

    Args:
        frame: the raw table.
        target: the numeric column to forecast.
        params: the template's params, complete (`templates.base.resolve_params`);
            horizon and lookback at 0 get the defaults.

    Returns:
        {"lookback", "horizon", "unit", "frequency", "sentence"}, e.g. for monthly data
        with horizon and lookback left at 0: 24, 12, "month", "monthly", "Forecasts the
        next 12 months (a full year) from the last 24 months."

    Raises:
        DataError: if the table cannot be forecast (see `load_series`).
    """
    series = load_series(frame, target, params)
    lookback, horizon = resolve_window(params, series)
    return {
        "lookback": lookback,
        "horizon": horizon,
        "unit": series.frequency.unit,
        "frequency": series.frequency.label,
        "sentence": describe_window(lookback, horizon, series.frequency),
    }


def segment_bounds(
    n_steps: int, val_fraction: float, test_fraction: float
) -> tuple[int, int]:
    """Returns where validation and test start: train is `[0, a)`, val `[a, b)`, test `[b, n)`."""
    n_test = int(round(n_steps * test_fraction))
    n_val = int(round(n_steps * val_fraction))
    return n_steps - n_val - n_test, n_steps - n_test


def check_length(
    n_steps: int, lookback: int, horizon: int, params: Mapping[str, Any]
) -> None:
    """Checks every segment gets full windows.

    Raises:
        DataError: if the series is too short for the lookback and horizon.
    """
    val_start, test_start = segment_bounds(
        n_steps, params["val_fraction"], params["test_fraction"]
    )
    if (
        val_start - lookback - horizon + 1 >= MIN_TRAIN_WINDOWS
        and test_start - val_start >= horizon
        and n_steps - test_start >= horizon
    ):
        return
    train_share = 1 - params["val_fraction"] - params["test_fraction"]
    needed = max(
        int(np.ceil((lookback + horizon + MIN_TRAIN_WINDOWS - 1) / train_share)),
        int(np.ceil(horizon / min(params["val_fraction"], params["test_fraction"]))),
    )
    raise DataError(
        f"The series has {n_steps} time steps, too short for a lookback of {lookback} "
        f"and a horizon of {horizon}: training, validation and test each need full "
        f"windows, so at least {needed} steps are needed. Choose a shorter lookback or "
        "horizon, or use a longer series."
    )


# --- windows ----------------------------------------------------------------------------


def windows(
    block: np.ndarray, first_target: int, stop: int, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cuts the windows whose forecast steps all lie in `[first_target, stop)`.

    Inputs may reach back before `first_target` (that history is known when the
    forecast is made); targets never cross the segment's end. Windows with gaps are
    dropped. Uses `keras.utils.timeseries_dataset_from_array`, in time order.

    Args:
        block: the features per step, shape (steps, features); column 0 is the target.
        first_target: the first step a forecast may target.
        stop: one past the last step a forecast may target.
        lookback: steps the model sees.
        horizon: steps it forecasts.

    Returns:
        Inputs (n, lookback, features), targets (n, horizon) and each window's origin
        (the index of its last input step).
    """
    import keras

    start = max(0, first_target - lookback)
    length = lookback + horizon
    if stop - start < length:
        return _no_windows(block, lookback, horizon)
    dataset = keras.utils.timeseries_dataset_from_array(
        block[start:stop], None, sequence_length=length, batch_size=4096
    )
    cuts = np.concatenate([np.asarray(batch) for batch in dataset])
    origins = np.arange(len(cuts)) + start + lookback - 1
    keep = np.isfinite(cuts).all(axis=(1, 2))
    cuts, origins = cuts[keep], origins[keep]
    return cuts[:, :lookback], cuts[:, lookback:, 0], origins


def _no_windows(
    block: np.ndarray, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.zeros((0, lookback, block.shape[1]), "float32"),
        np.zeros((0, horizon), "float32"),
        np.zeros(0, int),
    )


# --- baselines and scores ---------------------------------------------------------------


def seasonal_strength(values: np.ndarray, period: int) -> float:
    """Share of the detrended variance explained by a repeating profile (0 to 1).

    The residual variance is corrected for the profile's degrees of freedom, so a
    long period with few cycles does not look seasonal by chance.
    """
    y = values[np.isfinite(values)]
    if period < 2 or len(y) < 2 * period:
        return 0.0
    steps = np.arange(len(y))
    detrended = y - np.polyval(np.polyfit(steps, y, 1), steps)
    phase = steps % period
    profile = pd.Series(detrended).groupby(phase).transform("mean").to_numpy()
    residual = (detrended - profile).var() * len(y) / max(len(y) - period, 1)
    total = detrended.var()
    return float(max(0.0, 1 - residual / total)) if total > 0 else 0.0


def choose_season(train: np.ndarray, frequency: Frequency) -> tuple[int, float]:
    """Returns the candidate season with the strongest pattern in training, and its strength."""
    scored = [(seasonal_strength(train, m), m) for m in frequency.seasons]
    scored = [(s, m) for s, m in scored if len(train) >= 2 * m]
    if not scored:
        return 1, 0.0
    strength, season = max(scored)
    return season, strength


def trend_share(values: np.ndarray) -> tuple[float, float]:
    """Returns the R² of a straight line through the series and its slope per step."""
    y = values[np.isfinite(values)]
    steps = np.arange(len(y))
    slope, intercept = np.polyfit(steps, y, 1)
    residual = y - (slope * steps + intercept)
    return float(1 - residual.var() / y.var()) if y.var() > 0 else 0.0, float(slope)


def baseline_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int, window: int
) -> dict[str, np.ndarray]:
    """The simple rules a forecaster must beat, each (windows, horizon).

    - persistence: every future step equals the last value;
    - seasonal_naive: each step equals the same step one season earlier;
    - moving_average: every step equals the mean of the last `window` values.
    """
    steps = np.arange(1, horizon + 1)
    last = y[origins]
    lag = season * np.ceil(steps / season).astype(int)
    source = origins[:, None] + steps[None, :] - lag[None, :]
    seasonal = np.where(source >= 0, y[np.clip(source, 0, None)], np.nan)
    recent = (
        np.stack([y[max(0, o - window + 1) : o + 1].mean() for o in origins])
        if len(origins)
        else np.zeros(0)
    )
    return {
        "persistence": np.repeat(last[:, None], horizon, axis=1),
        "seasonal_naive": seasonal,
        "moving_average": np.repeat(recent[:, None], horizon, axis=1),
    }


def naive_scale(train: np.ndarray) -> float:
    """The in-sample error of 'next step = this step' on training: MASE's yardstick."""
    changes = np.abs(np.diff(train))
    scale = float(np.nanmean(changes)) if np.isfinite(changes).any() else 0.0
    return scale or 1.0


def forecast_metrics(
    actual: np.ndarray, predicted: np.ndarray, scale: float
) -> dict[str, float]:
    """MAE, RMSE and MASE (MAE over the one-step naive error in training; < 1 beats it)."""
    ok = np.isfinite(actual) & np.isfinite(predicted)
    error = actual[ok] - predicted[ok]
    if not error.size:
        return {"mae": float("nan"), "rmse": float("nan"), "mase": float("nan")}
    mae = float(np.abs(error).mean())
    return {
        "mae": mae,
        "rmse": float(np.sqrt((error**2).mean())),
        "mase": mae / scale,
    }


def per_step_errors(
    actual: np.ndarray, forecasts: Mapping[str, np.ndarray]
) -> list[dict[str, float]]:
    """Mean absolute error per horizon step, for the model and each baseline."""
    rows = []
    for step in range(actual.shape[1]):
        row = {"step": step + 1}
        for name, predicted in forecasts.items():
            error = np.abs(actual[:, step] - predicted[:, step])
            row[name] = float(np.nanmean(error)) if np.isfinite(error).any() else None
        rows.append(row)
    return rows
