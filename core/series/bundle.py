"""Forecast the next steps of a series with a model exported by Predictive Studio.

Usage (inside an unzipped bundle):
    python predict.py HISTORY.csv -o forecast.csv

HISTORY.csv has the columns the model was trained on (the time column, the target and
any covariates); the forecast starts right after its last time step. Needs: keras>=3,
tensorflow, pandas. This file is copied into every forecasting bundle as `predict.py`,
and the app uses the same functions, so what you download is what ran.
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
DAY = 86400.0
TICK_FREQS = ("h", "D", "min", "s")  # fixed-length steps: bins start at the first row
DECIMAL_YEAR = "decimal_year"
NUMBER_FORMATS = ("%Y%m%d", "%Y%m", "%Y", DECIMAL_YEAR)  # dates written as numbers
YEAR_RANGE = (1000, 2999)  # numbers read as years


class ForecastInputError(ValueError):
    """A history CSV the model cannot forecast from, in plain words."""


def parse_times(column: pd.Series, time_format: str | None, utc: bool) -> pd.Series:
    """Parses a time column as in training: the recorded format first, then ISO 8601.

    Dates written as numbers are read with their format: `%Y%m%d` (19580329), `%Y%m`
    (195803), `%Y` (1958) or `decimal_year` (1958.2027). Time zones are converted to
    UTC and dropped, so daylight-saving changes create neither duplicates nor gaps.
    Values that cannot be read become NaT.
    """
    if time_format == DECIMAL_YEAR:
        return decimal_years(column)
    text = _as_text(column)
    times = pd.to_datetime(
        text, format=time_format or "ISO8601", errors="coerce", utc=utc
    )
    if time_format in NUMBER_FORMATS:
        return times
    if time_format and (times.isna() & text.notna()).any():
        times = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc)
    if utc:
        times = times.dt.tz_convert(None)
    return times


def _as_text(column: pd.Series) -> pd.Series:
    """The values as text; whole numbers without the `.0` that blank cells bring."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = pd.to_numeric(column, errors="coerce").astype("float64")
        whole = numbers.where(np.isfinite(numbers) & (numbers % 1 == 0))
        return whole.astype("Int64").astype("string")
    return column.astype("string").str.strip()


def decimal_years(column: pd.Series) -> pd.Series:
    """Reads decimal years (1958.2027 = 15 March 1958), to the nearest day."""
    values = pd.to_numeric(column, errors="coerce").astype("float64")
    values = values.where(values.between(*YEAR_RANGE))
    years = np.floor(values)
    starts = pd.to_datetime(_as_text(years), format="%Y", errors="coerce")
    length = (starts + pd.offsets.YearBegin(1)) - starts
    return (starts + length * (values - years)).dt.round("D")


def to_decimal_years(times: pd.Series) -> pd.Series:
    """Writes times as decimal years, the inverse of `decimal_years`."""
    starts = pd.to_datetime(_as_text(times.dt.year), format="%Y")
    length = (starts + pd.offsets.YearBegin(1)) - starts
    return (times.dt.year + (times - starts) / length).round(4)


def as_numbers(times: pd.Series, time_format: str | None) -> pd.Series:
    """Writes times as numbers the way the training file did, if it did (19580329)."""
    if time_format == DECIMAL_YEAR:
        return to_decimal_years(times)
    if time_format in NUMBER_FORMATS:
        return times.dt.strftime(time_format).astype("int64")
    return times


def regular_series(frame: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Returns the numeric columns on a regular time grid, indexed by time.

    Values the data uses to mark a missing measurement (`meta["missing_markers"]`,
    e.g. -99.99) are treated as missing. Rows are sorted by time; rows sharing a time
    step are averaged; missing steps and values are filled by straight-line
    interpolation when `meta["fill_gaps"]` is "interpolate", else left empty.

    Args:
        frame: raw rows with the time column and `meta["columns"]`.
        meta: the model's metadata (time_column, time_format, utc, freq, columns).
    """
    times = parse_times(
        frame[meta["time_column"]], meta.get("time_format"), meta["utc"]
    )
    values = frame[meta["columns"]].apply(pd.to_numeric, errors="coerce")
    for column, markers in meta.get("missing_markers", {}).items():
        values[column] = values[column].mask(values[column].isin(markers))
    values.index = pd.DatetimeIndex(times, name=meta["time_column"])
    values = values[values.index.notna()].sort_index()
    regular = time_bins(values, meta["freq"]).mean()
    if meta["fill_gaps"] == "interpolate":
        regular = regular.interpolate(method="linear", limit_direction="both")
    return regular


def time_bins(values: pd.DataFrame | pd.Series, freq: str) -> Any:
    """Groups rows into regular steps of `freq`; fixed-length steps start at the first row."""
    origin = "start" if freq.lstrip("0123456789") in TICK_FREQS else "start_day"
    return values.resample(freq, origin=origin)


def calendar_features(times: pd.DatetimeIndex, step_seconds: float) -> pd.DataFrame:
    """Returns sin/cos of the hour of day, day of week and time of year that vary.

    A cycle is used only when the series has several steps per cycle: hourly data gets
    all three, daily data day of week and time of year, weekly and monthly data time
    of year.
    """
    hours = times.hour + times.minute / 60 + times.second / 3600
    cycles = {}
    if step_seconds < DAY:
        cycles["hour"] = hours / 24
    if step_seconds < 7 * DAY:
        cycles["weekday"] = (times.dayofweek + hours / 24) / 7
    if step_seconds < 180 * DAY:
        cycles["year"] = (times.day_of_year - 1 + hours / 24) / 365.25
    columns = {}
    for name, phase in cycles.items():
        angle = 2 * np.pi * np.asarray(phase, dtype="float64")
        columns[f"{name}_sin"], columns[f"{name}_cos"] = np.sin(angle), np.cos(angle)
    return pd.DataFrame(columns, index=times)


def feature_matrix(regular: pd.DataFrame, meta: dict) -> np.ndarray:
    """Returns the model's input features per time step: the columns, then the calendar.

    Column 0 is always the target.
    """
    calendar = calendar_features(regular.index, meta["step_seconds"])
    joined = np.concatenate(
        [regular[meta["columns"]].to_numpy("float64"), calendar.to_numpy("float64")],
        axis=1,
    )
    return joined.astype("float32")


def last_window(regular: pd.DataFrame, meta: dict) -> np.ndarray:
    """Returns the model input for the last `lookback` steps, shape (1, lookback, features).

    Raises:
        ForecastInputError: if the history is too short or its last steps have gaps.
    """
    lookback = meta["lookback"]
    if len(regular) < lookback:
        raise ForecastInputError(
            f"The history has {len(regular)} time steps after cleaning; the model needs "
            f"the last {lookback} to forecast. Provide a longer history."
        )
    window = feature_matrix(regular.iloc[-lookback:], meta)
    if not np.isfinite(window).all():
        raise ForecastInputError(
            f"The last {lookback} time steps have gaps or empty values. Fill them, or "
            "train with 'fill gaps' set to interpolate."
        )
    return window[np.newaxis]


def future_times(last: pd.Timestamp, meta: dict) -> pd.DatetimeIndex:
    """Returns the `horizon` time steps that follow `last`."""
    return pd.date_range(last, periods=meta["horizon"] + 1, freq=meta["freq"])[1:]


def forecast_table(outputs: np.ndarray, last: pd.Timestamp, meta: dict) -> pd.DataFrame:
    """Turns the model's (horizon, 3) output into the forecast table.

    Columns: the time column, `step`, `forecast` (the median), `lower` and `upper`
    (the interval that should hold the actual value `coverage` of the time).
    """
    return pd.DataFrame(
        {
            meta["time_column"]: future_times(last, meta),
            "step": np.arange(1, meta["horizon"] + 1),
            "forecast": outputs[:, 1].astype("float64"),
            "lower": outputs[:, 0].astype("float64"),
            "upper": outputs[:, 2].astype("float64"),
        }
    )


def forecast_frame(model: Any, frame: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Forecasts the next `horizon` steps after the end of `frame`.

    Raises:
        ForecastInputError: if the history cannot be used (see `last_window`).
    """
    regular = regular_series(frame, meta)
    if regular.empty:
        raise ForecastInputError(
            f"No row has a readable time in `{meta['time_column']}`."
        )
    window = last_window(regular, meta)
    outputs = np.asarray(model(window, training=False), dtype="float64")[0]
    return forecast_table(outputs, regular.index[-1], meta)


def missing_columns(frame: pd.DataFrame, meta: dict) -> list[str]:
    """Returns the columns the model needs that `frame` lacks."""
    needed = [meta["time_column"], *meta["columns"]]
    return [c for c in needed if c not in frame.columns]


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
    """Command-line entry point: forecasts from the end of a CSV and writes a CSV."""
    parser = argparse.ArgumentParser(description="Forecast with the bundled model.")
    parser.add_argument("data", type=Path, help="CSV with the history to forecast from")
    parser.add_argument("-o", "--output", type=Path, default=Path("forecast.csv"))
    parser.add_argument("--model", type=Path, default=HERE / "model.keras")
    parser.add_argument("--metadata", type=Path, default=HERE / "metadata.json")
    args = parser.parse_args(argv)

    import keras

    meta = json.loads(args.metadata.read_text())
    frame = pd.read_csv(args.data)
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # a column became the index
        print(
            "error: the CSV's rows have more values than its header has names; "
            'put texts that hold a comma in double quotes ("...").',
            file=sys.stderr,
        )
        return 2
    missing = missing_columns(frame, meta)
    if missing:
        print(f"error: the CSV lacks the model's columns {missing}", file=sys.stderr)
        return 2
    # safe_mode=True: no code is run on load; the training loss is not needed here.
    model = keras.saving.load_model(args.model, compile=False)
    try:
        table = forecast_frame(model, frame, meta)
    except ForecastInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    time_column = meta["time_column"]
    table[time_column] = as_numbers(table[time_column], meta.get("time_format"))
    neutralise(table).to_csv(args.output, index=False)
    print(f"Wrote a {len(table)}-step forecast to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
