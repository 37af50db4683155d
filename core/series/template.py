"""Forecast the next steps of a dated series (e.g. tomorrow's weather), with a range."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataError
from core.series import baselines, cleaning, dates, windowing
from core.series import bundle as series_bundle
from core.templates import checks
from core.templates.base import Prepared, Split, Template
from core.templates.params import TRAINING_PARAMS, Param, dropout_param
from core.templates.registry import register

FORECAST_PARAMS = (
    Param(
        "time_column",
        "Time column (empty = detect)",
        "",
        help="The column with dates or times; left empty, the first date-like column.",
    ),
    Param(
        "date_format",
        "How the dates are written",
        "auto",
        choices=dates.DATE_FORMATS,
        help="auto: detected. text: dates such as 2024-01-31. Dates written as "
        "numbers: yyyymmdd (19580329), yyyymm (195803), year (1958), decimal_year "
        "(1958.21 = mid-March 1958).",
        advanced=True,
    ),
    Param(
        "horizon",
        "Horizon (steps to forecast, 0 = auto)",
        0,
        min_value=0,
        max_value=1000,
        help="How many steps ahead to forecast; 0 picks one from the frequency "
        "(hourly: 24, daily: 7, weekly: 4, monthly: 12, quarterly: 4, yearly: 5), "
        "shorter if the series is short.",
    ),
    Param(
        "lookback",
        "Lookback (steps the model sees, 0 = auto)",
        0,
        min_value=0,
        max_value=5000,
        help="How many past steps each forecast looks at; 0 picks one from the "
        "frequency (hourly: 72, daily: 14, weekly: 26, monthly: 24, quarterly: 12, "
        "yearly: 20), shorter if the series is short.",
    ),
    Param(
        "architecture",
        "Network",
        "dense",
        choices=("dense", "lstm", "gru", "conv1d"),
        help="dense: fast and strong on short series; lstm/gru: recurrent; conv1d: "
        "1-D convolutions over the window.",
    ),
    Param(
        "covariates",
        "Other numeric columns",
        "all",
        choices=("all", "none"),
        help="Use the past values of the other numeric columns as extra inputs.",
    ),
    Param(
        "fill_gaps",
        "Missing time steps",
        "interpolate",
        choices=("interpolate", "leave"),
        help="interpolate: fill gaps with a straight line; leave: skip forecasts "
        "that would need them.",
    ),
    Param(
        "coverage",
        "Forecast range",
        0.8,
        choices=(0.5, 0.8, 0.9, 0.95),
        help="How often the actual value should fall inside the shaded range.",
    ),
    Param(
        "units",
        "Network width",
        32,
        min_value=4,
        max_value=1024,
        help="Neurons in the learned layer; more can learn more but overfit.",
        advanced=True,
    ),
    dropout_param(0.3),
) + TRAINING_PARAMS


@register
class TimeseriesForecasting(Template):
    """Direct multi-step forecasts with quantile ranges, from a raw window of the past."""

    name = "timeseries_forecasting"
    title = "Forecast a time series"
    description = (
        "Learns from dated measurements, e.g. daily weather or sales, to forecast the "
        "next steps with a range, next to the simple rules a forecaster must beat."
    )
    task = "forecasting"
    data_kind = "series"
    sources = ("table",)
    params = FORECAST_PARAMS
    bundle_script = "core.series.bundle"
    predict_input = "history.csv"
    metadata_checks = {
        "target": (checks.is_text, "the target column's name"),
        "time_column": (checks.is_text, "the time column's name"),
        "time_format": (
            lambda v: v is None or checks.is_text(v),
            "a time format or null",
        ),
        "utc": (lambda v: isinstance(v, bool), "true or false"),
        "freq": (checks.is_frequency, "a pandas frequency such as '1h' or 'D'"),
        "step_seconds": (lambda v: checks.is_number(v) and v > 0, "a positive number"),
        "columns": (checks.are_names, "a list of column names, the target first"),
        "fill_gaps": (checks.is_text, "a gap-filling choice"),
        "lookback": (checks.is_count, "a whole number of steps, 1 or more"),
        "horizon": (checks.is_count, "a whole number of steps, 1 or more"),
        "unit": (checks.is_text, "a time unit's name"),
    }
    limitations = (
        "It forecasts from the past only: other columns are used up to the last known "
        "step, never their future values.",
        "Patterns it never saw (a new climate, a new trend, a break in the data) are "
        "not foreseen; the range only covers the usual uncertainty.",
        "The range's coverage was measured on the test period; in other periods it "
        "may hold the actual value more or less often.",
    )
    usage = (
        "In Python: `keras.saving.load_model('model.keras', compile=False)` takes a "
        "float32 array of shape (1, lookback, features): per step the target, the other "
        "columns in metadata.json `columns`, then the calendar features; it returns "
        "(1, horizon, 3) = lower, forecast, upper. See `feature_matrix` in predict.py."
    )

    def suggest(self, frame: pd.DataFrame, target: str | None) -> tuple[float, str]:
        """Fits best when rows are regular measurements over time of a number."""
        if target not in frame.columns or not pd.api.types.is_numeric_dtype(
            frame[target]
        ):
            return 0.0, ""
        try:
            column = dates.detect_time_column(frame)
            times, _, _ = dates.parse_time_column(frame[column])
            frequency, share = cleaning.infer_frequency(times)
        except DataError:
            return 0.0, ""
        regular = cleaning.REGULAR_SHARE
        if share < regular or times.duplicated().mean() > 1 - regular:
            return 0.0, ""
        return 0.8, (
            f"`{column}` holds {frequency.label} times, so the app can forecast "
            f"`{target}` ahead in time."
        )

    def example_data(self) -> tuple[pd.DataFrame, str]:
        """200 daily steps: y = weekly sine + trend + noise, a covariate and a text column."""
        rng, steps = np.random.default_rng(0), np.arange(200)
        season = 10 * np.sin(2 * np.pi * steps / 7)
        dates = pd.date_range("2021-01-01", periods=200, freq="D")
        frame = pd.DataFrame(
            {
                "date": dates.strftime("%Y-%m-%d"),
                "y": season + 0.05 * steps + rng.normal(size=200),
                "x": rng.normal(size=200),
                "note": rng.choice(["a", "b"], size=200),
            }
        )
        return frame, "y"

    def check(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns the problems that block a forecast, in plain words."""
        try:
            series = cleaning.load_series(frame, target, params)
            lookback, horizon = windowing.resolve_window(params, series)
            windowing.check_length(len(series.regular), lookback, horizon, params)
        except DataError as err:
            return [str(err)]
        return []

    def preflight(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """What was handled (gaps, duplicates, zones) and any strong trend or season."""
        try:
            series = cleaning.load_series(frame, target, params)
        except DataError:
            return []  # `check` reports it
        y = series.regular[target].to_numpy("float64")
        return series.notes + pattern_sentences(y, target, series.frequency)

    def prepare(
        self,
        frame: pd.DataFrame,
        target: str | None,
        params: Mapping[str, Any],
        seed: int,
    ) -> Prepared:
        """Cleans the series, splits it by time and cuts the windows of each segment."""
        series = cleaning.load_series(frame, target, params)
        lookback, horizon = windowing.resolve_window(params, series)
        n_steps = len(series.regular)
        windowing.check_length(n_steps, lookback, horizon, params)
        val_start, test_start = windowing.segment_bounds(
            n_steps, params["val_fraction"], params["test_fraction"]
        )
        meta = {**series.meta, "lookback": lookback, "horizon": horizon}
        block = series_bundle.feature_matrix(series.regular, meta)
        cuts = [
            windowing.windows(block, start, stop, lookback, horizon)
            for start, stop in (
                (0, val_start),
                (val_start, test_start),
                (test_start, n_steps),
            )
        ]
        history = series.regular.reset_index()
        raws = (history.iloc[:val_start], history.iloc[val_start:test_start], history)
        info = self.describe(series, meta, frame, params, block, cuts, val_start)
        info["segments"] = {"val_start": val_start, "test_start": test_start}
        splits = [Split(x, y, raw) for (x, y, _), raw in zip(cuts, raws, strict=True)]
        return Prepared(*splits, info=info)

    def describe(
        self,
        series: cleaning.Series,
        meta: Mapping[str, Any],
        frame: pd.DataFrame,
        params: Mapping[str, Any],
        block: np.ndarray,
        cuts: list,
        val_start: int,
    ) -> dict[str, Any]:
        """Returns the run's JSON-ready info: what the bundle needs and what the UI shows."""
        target = meta["columns"][0]
        train_y = block[:val_start, 0].astype("float64")
        season, strength = baselines.choose_season(train_y, series.frequency)
        calendar = series_bundle.calendar_features(
            series.regular.index[:1], meta["step_seconds"]
        )
        coverage = float(params["coverage"])
        return {
            "task": self.task,
            "target": target,
            **meta,
            "fill_gaps": params["fill_gaps"],
            "covariates": meta["columns"][1:],
            "features": [*meta["columns"], *calendar.columns],
            "frequency": series.frequency.label,
            "unit": series.frequency.unit,
            "coverage": coverage,
            "quantiles": [
                round((1 - coverage) / 2, 4),
                0.5,
                round((1 + coverage) / 2, 4),
            ],
            "season": season,
            "season_strength": strength,
            "moving_average_window": min(meta["lookback"], series.frequency.horizon),
            "scale": baselines.naive_scale(train_y),
            "schema": [
                {"name": meta["time_column"], "kind": "date"},
                *({"name": c, "kind": "number"} for c in meta["columns"]),
            ],
            "excluded": cleaning.excluded_columns(frame, meta),
            "notes": series.notes,
            "first_time": series.regular.index[0].isoformat(),
            "last_time": series.regular.index[-1].isoformat(),
            "n_rows": len(series.regular),
            "n_train": len(cuts[0][0]),
            "n_val": len(cuts[1][0]),
            "n_test": len(cuts[2][0]),
        }

    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns the compiled forecaster; normalization is adapted on training steps."""
        from core.series import model as series_model
        from core.tables import model as tables_model

        info = prepared.info
        train = prepared.train.raw.set_index(info["time_column"])
        model = series_model.build_forecaster(
            series_bundle.feature_matrix(train, info),
            info["lookback"],
            info["horizon"],
            params["architecture"],
            int(params["units"]),
            float(params["dropout"]),
        )
        spe = tables_model.steps_per_execution_for(
            info["n_train"], params["batch_size"]
        )
        return series_model.compile_forecaster(
            model, info["quantiles"], params["learning_rate"], spe
        )

    def calibrate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> None:
        """Rescales each step's range so it holds the stated share of validation values."""
        from core.series import model as series_model

        series_model.calibrate_intervals(
            model, prepared.val.inputs, prepared.val.targets, float(params["coverage"])
        )

    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> dict:
        """The model beside persistence, seasonal naive and moving average on the test period."""
        from core.series import report as series_report

        info = prepared.info
        history = prepared.test.raw
        block = series_bundle.feature_matrix(
            history.set_index(info["time_column"]), info
        )
        inputs, actual, origins = windowing.windows(
            block,
            info["segments"]["test_start"],
            len(history),
            info["lookback"],
            info["horizon"],
        )
        forecasts = np.asarray(model.predict(inputs, verbose=0), dtype="float64")
        return series_report.build_report(forecasts, actual, origins, history, info)

    def score_outputs(self, outputs: Any, targets: Any) -> tuple[str, float]:
        """The mean absolute error of the forecasts (the middle of lower, forecast, upper)."""
        forecast = np.asarray(outputs)[..., 1]
        return "mae", float(np.mean(np.abs(forecast - np.asarray(targets, "float64"))))

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Writes the end of the series, as a user would, for the bundle to forecast from."""
        info = prepared.info
        tail = prepared.test.raw.tail(info["lookback"] + 5).copy()
        tail[info["time_column"]] = format_times(tail[info["time_column"]], info)
        path = folder / "history.csv"
        tail.to_csv(path, index=False)
        return path

    def metadata_conflict(self, metadata: Mapping[str, Any]) -> tuple[str, str] | None:
        """The model's first input column is the target."""
        if metadata["columns"][0] != metadata["target"]:
            return "columns", "the target column first"
        return None

    def model_mismatch(self, model: Any, metadata: Mapping[str, Any]) -> str:
        """The window and the output fit lookback and horizon."""
        window, outputs = model.inputs[0].shape, model.outputs[0].shape
        lookback, horizon = metadata["lookback"], metadata["horizon"]
        if (
            len(outputs) == 3
            and outputs[1] == horizon
            and window[1] in (None, lookback)
        ):
            return ""
        return (
            f"its input shape {tuple(window)} and output shape {tuple(outputs)} do "
            f"not fit lookback={lookback} and horizon={horizon}."
        )

    def predict_frame(
        self, model: Any, frame: pd.DataFrame, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Forecasts the next `horizon` steps after the end of a history table."""
        return forecast_from(model, frame, info)


def format_times(times: pd.Series, info: Mapping[str, Any]) -> pd.Series:
    """Writes times the way the training file did (numbers stay numbers, zones UTC)."""
    if info.get("time_format") in series_bundle.NUMBER_FORMATS:
        return series_bundle.as_numbers(times, info["time_format"])
    if info["utc"]:
        return times.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if info.get("time_format"):
        return times.dt.strftime(info["time_format"])
    return times.dt.strftime("%Y-%m-%dT%H:%M:%S")


def forecast_from(
    model: Any, frame: pd.DataFrame, info: Mapping[str, Any]
) -> tuple[pd.DataFrame, list[str]]:
    """Checks a history table against the model's columns, then forecasts from its end.

    Returns:
        The forecast table and warnings in plain words.

    Raises:
        DataError: if the table has other columns, unreadable dates or too little history.
    """
    missing = series_bundle.missing_columns(frame, dict(info))
    if missing:
        raise DataError(
            f"This file has different columns from the training data: it lacks "
            f"{missing}. Upload a CSV with the columns {[info['time_column'], *info['columns']]} "
            "(newer rows of the same table)."
        )
    dates.parse_time_column(
        frame[info["time_column"]], dates.date_format_of(info.get("time_format"))
    )
    try:
        table = series_bundle.forecast_frame(model, frame, dict(info))
    except series_bundle.ForecastInputError as err:
        raise DataError(str(err)) from None
    used = {info["time_column"], *info["columns"]}
    extra = [c for c in frame.columns if c not in used]
    return table, [f"Ignored columns the model does not use: {extra}."] if extra else []


def pattern_sentences(
    y: np.ndarray, target: str, frequency: cleaning.Frequency
) -> list[str]:
    """States a strong trend or season in words (they are learned, not blocking)."""
    lines = []
    share, slope = baselines.trend_share(y)
    if share >= 0.5:
        direction = "rises" if slope > 0 else "falls"
        lines.append(
            f"`{target}` has a strong trend: it {direction} by about {abs(slope):.3g} per "
            f"{frequency.unit} ({share:.0%} of its variation). Forecasts assume it goes on."
        )
    season, strength = baselines.choose_season(y, frequency)
    if strength >= 0.3:
        lines.append(
            f"`{target}` repeats a pattern every {season} {frequency.unit}s "
            f"({strength:.0%} of its variation); the seasonal-naive baseline uses it."
        )
    return lines


def recent_history(
    frame: pd.DataFrame, info: Mapping[str, Any], steps: int
) -> pd.DataFrame:
    """Returns the last `steps` regular steps of the target, the time column first."""
    regular = series_bundle.regular_series(frame, dict(info))
    return regular[[info["target"]]].tail(steps).reset_index()
