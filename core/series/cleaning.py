"""Dated series, cleaned: its frequency, the regular series the model learns from, and notes.

pandas and numpy at import time. Everything a user should know about their series
(duplicates, gaps, irregular spacing, time zones, missing values) is reported as plain
sentences, and every unusable input raises a `DataError` that says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataError
from core.series import bundle as series_bundle
from core.series import dates

NINES = r"^-?9+\.?9*$"  # how missing-value markers such as -99.99 are written
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


# --- frequency --------------------------------------------------------------------------


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
    time_column = dates.detect_time_column(
        frame, str(params.get("time_column") or ""), date_format
    )
    if time_column == target:
        raise DataError(f"`{target}` cannot be both the time column and the target.")
    times, fmt, utc = dates.parse_time_column(frame[time_column], date_format)
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
    regular = series_bundle.regular_series(frame, meta)
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
    if meta["time_format"] in series_bundle.NUMBER_FORMATS:
        notes.append(
            dates.number_dates_note(frame[meta["time_column"]], meta["time_format"])
        )
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
    rows = series_bundle.time_bins(pd.Series(1.0, index=times.dropna()), meta["freq"])
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
