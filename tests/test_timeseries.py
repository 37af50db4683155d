"""Time-series forecasting: series cleaning, bad inputs, windows, baselines, runs and pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import datasets, evaluation, export, prediction, runs, workspace
from core.catalog import get_template
from core.errors import DataError
from core.series import baselines, dates, windowing
from core.series import bundle as series_bundle
from core.series import cleaning as series_cleaning
from core.templates.params import resolve_params
from pages.ui.text import plain
from tests.conftest import FAST_PARAMS, tiny_series, train_here

APP = Path(__file__).parents[1] / "app.py"
TEMPLATE = get_template("timeseries_forecasting")


def params(**overrides):
    return resolve_params(TEMPLATE, {**FAST_PARAMS, **overrides})


def problems(frame, target="y", **overrides) -> str:
    return " ".join(TEMPLATE.check(frame, target, params(**overrides)))


# --- bad input: each gets a specific message ----------------------------------------------


def test_no_date_column():
    frame = tiny_series().drop(columns="date")
    assert "No column looks like dates or times" in problems(frame)


def test_unparseable_dates():
    frame = tiny_series()
    frame.loc[5, "date"] = "not a date"
    assert "values that are not dates: line(s) 7" in problems(frame)


def test_mixed_date_formats():
    frame = tiny_series()
    frame.loc[10, "date"] = "01/12/2021"
    assert "mixes date formats" in problems(frame)


def test_all_timestamps_equal():
    frame = tiny_series()
    frame["date"] = "2021-01-01"
    assert "Every row has the same time" in problems(frame)


def test_series_shorter_than_lookback_and_horizon():
    frame = tiny_series(40)
    message = problems(frame, lookback=30, horizon=7)
    assert "too short for a lookback of 30 and a horizon of 7" in message


def test_text_target():
    assert "holds text" in problems(tiny_series(), target="note")


def test_all_missing_target():
    frame = tiny_series()
    frame["y"] = np.nan
    assert "empty in every row" in problems(frame)


def test_constant_series():
    frame = tiny_series()
    frame["y"] = 3.0
    assert "same value at every time step" in problems(frame)


def test_unknown_time_column():
    assert "Invalid value for argument `time_column`" in problems(
        tiny_series(), time_column="when"
    )


@pytest.mark.trains
def test_forecast_csv_with_different_columns(forecast_run):
    model = runs.load_model(forecast_run)
    other = tiny_series().rename(columns={"x": "pressure"})
    path = workspace.root() / "other.csv"
    other.to_csv(path, index=False)
    with pytest.raises(DataError, match="different columns.*lacks \\['x'\\]"):
        TEMPLATE.predict_file(model, path, runs.read_info(forecast_run))


# --- cleaning -------------------------------------------------------------------------------


def test_clean_series_is_detected_and_needs_no_notes_beyond_frequency():
    frame = tiny_series().sample(frac=1, random_state=0)  # shuffled rows get sorted
    series = series_cleaning.load_series(frame, "y", params())
    assert series.meta["time_column"] == "date"
    assert series.frequency.label == "daily"
    assert series.regular.index.is_monotonic_increasing
    assert series.meta["columns"] == ["y", "x"]  # the text column is not a covariate
    assert series.notes == ["The data is daily: one row per day."]


def test_gaps_duplicates_and_missing_values_are_reported_and_filled():
    frame = tiny_series().drop(index=[20, 21, 22])
    frame = pd.concat([frame, frame.iloc[[50]]])
    frame.loc[60, "y"] = np.nan
    series = series_cleaning.load_series(frame, "y", params())
    text = " ".join(series.notes)
    assert "3 of 200 day steps have no row" in text and "longest 3" in text
    assert "1 rows repeat a timestamp" in text
    assert "1 rows have no `y` value" in text
    assert series.regular["y"].notna().all()
    assert len(series.regular) == 200


def test_leave_gaps_skips_windows_that_need_them():
    frame = tiny_series().drop(index=[30])
    prepared = TEMPLATE.prepare(frame, "y", params(fill_gaps="leave"), seed=0)
    assert np.isfinite(prepared.train.inputs).all()
    full = TEMPLATE.prepare(tiny_series(), "y", params(), seed=0)
    assert prepared.info["n_train"] < full.info["n_train"]


def test_time_zones_are_converted_to_utc():
    frame = tiny_series(60)
    times = pd.date_range("2021-03-20", periods=60, freq="h", tz="Europe/Berlin")
    frame["date"] = [t.isoformat() for t in times]
    series = series_cleaning.load_series(frame, "y", params())
    assert series.frequency.label == "hourly"
    assert series.meta["utc"] is True
    assert "converted to UTC" in " ".join(series.notes)
    assert series.regular.index[0] == pd.Timestamp("2021-03-19 23:00")


@pytest.mark.parametrize(
    ("freq", "label", "horizon"),
    [("h", "hourly", 24), ("W-MON", "weekly", 4), ("MS", "monthly", 12)],
)
def test_frequency_and_defaults(freq, label, horizon):
    times = pd.Series(pd.date_range("2020-01-06", periods=50, freq=freq))
    frequency, share = series_cleaning.infer_frequency(times)
    assert (frequency.label, frequency.horizon, share) == (label, horizon, 1.0)


def test_irregular_spacing_is_reported():
    frame = tiny_series()
    frame = frame.drop(index=range(1, 200, 3))
    series = series_cleaning.load_series(frame, "y", params())
    assert "irregularly spaced" in " ".join(series.notes)


def test_calendar_features_follow_the_step():
    times = pd.date_range("2021-01-01", periods=3, freq="D")
    names = list(series_bundle.calendar_features(times, 86400.0).columns)
    assert names == ["weekday_sin", "weekday_cos", "year_sin", "year_cos"]


# --- dates written as numbers (NOAA CO2, SILSO sunspots) -----------------------------------


def co2_monthly(months: int = 240) -> pd.DataFrame:
    """NOAA's Mauna Loa monthly file: yyyymmdd dates, decimal years, -99.99 = missing."""
    rng = np.random.default_rng(0)
    starts = pd.date_range("1958-03-01", periods=months, freq="MS")
    steps = np.arange(months)
    mid = (starts.day_of_year + 14) / np.where(starts.is_leap_year, 366, 365)
    frame = pd.DataFrame(
        {
            "year": starts.year,
            "month": starts.month,
            "date": starts.strftime("%Y%m%d").astype(int),
            "decimal date": (starts.year + mid).round(4),
            "average": 315
            + 0.1 * steps
            + 3 * np.sin(2 * np.pi * starts.month / 12)
            + rng.normal(0, 0.3, months),
        }
    )
    frame.loc[[3, 4, 15], "average"] = -99.99
    return frame


def sunspots_yearly(first: int = 1700, last: int = 2000) -> pd.DataFrame:
    """SILSO's yearly sunspot numbers: one integer year per row, an 11-year cycle."""
    years = np.arange(first, last + 1)
    cycle = (0.5 - 0.5 * np.cos(2 * np.pi * (years - first) / 11)) ** 1.5
    noise = np.random.default_rng(0).gamma(2, 4, len(years))
    return pd.DataFrame({"year": years, "sunspots": (100 * cycle + noise).round(1)})


def test_yyyymmdd_dates_and_missing_markers_are_read_and_said():
    series = series_cleaning.load_series(co2_monthly(), "average", params())
    assert series.meta["time_column"] == "date"  # not `year` (12 rows per year)
    assert series.frequency.label == "monthly"
    text = " ".join(series.notes)
    assert (
        "`date` holds dates written as numbers (yyyymmdd), e.g. 19580301 = 1 March "
        "1958" in text
    )
    assert "`average` uses -99.99 to mark a missing value (3 rows)" in text
    assert series.regular["average"].min() > 300  # markers were interpolated over
    assert "irregularly" not in text


def test_decimal_years_are_read_as_monthly_steps():
    frame = co2_monthly().drop(columns=["year", "month", "date"])
    series = series_cleaning.load_series(frame, "average", params())
    assert series.meta["time_format"] == "decimal_year"
    assert series.frequency.label == "monthly"
    assert series.regular.index[0] == pd.Timestamp("1958-03-01")
    assert "decimal years" in " ".join(series.notes)
    assert "irregularly" not in " ".join(series.notes)
    score, _ = get_template("timeseries_forecasting").suggest(frame, "average")
    assert score > 0


def test_integer_years_forecast_with_yearly_defaults():
    plan = windowing.window_plan(sunspots_yearly(), "sunspots", params())
    assert (plan["lookback"], plan["horizon"], plan["unit"]) == (20, 5, "year")
    assert plan["sentence"] == "Forecasts the next 5 years from the last 20 years."
    short = windowing.window_plan(sunspots_yearly(1971), "sunspots", params())
    assert short["lookback"] < 20  # 30 years: the lookback shrinks to fit
    assert TEMPLATE.check(sunspots_yearly(1971), "sunspots", params()) == []


def test_mid_year_decimal_years_are_yearly_steps():
    frame = sunspots_yearly().assign(year=lambda f: f["year"] + 0.5)  # SILSO's 1700.5
    series = series_cleaning.load_series(frame, "sunspots", params())
    assert (series.meta["time_format"], series.frequency.label) == (
        "decimal_year",
        "yearly",
    )
    assert series.regular.index[0] == pd.Timestamp("1700-01-01")
    assert len(series.regular) == 301


def test_monthly_default_horizon_covers_the_yearly_season():
    plan = windowing.window_plan(co2_monthly(), "average", params())
    assert (plan["lookback"], plan["horizon"]) == (24, 12)
    assert plan["sentence"] == (
        "Forecasts the next 12 months (a full year) from the last 24 months."
    )


def test_numbers_that_are_not_dates_are_not_taken_for_dates():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "price": rng.integers(1700, 2100, 60),  # in the range of years
            "id": np.arange(1000, 1060),  # years in time order, but not named so
            "date": tiny_series(60)["date"],
            "y": rng.normal(size=60),
        }
    )
    assert dates.detect_time_column(frame) == "date"
    with pytest.raises(DataError, match="No column looks like dates"):
        dates.detect_time_column(frame.drop(columns="date"))


def test_date_format_overrides_the_detection():
    frame = sunspots_yearly().rename(columns={"year": "t"})
    assert "No column looks like dates" in problems(frame, target="sunspots")
    series = series_cleaning.load_series(frame, "sunspots", params(date_format="year"))
    assert (series.meta["time_column"], series.frequency.label) == ("t", "yearly")
    message = problems(sunspots_yearly(), target="sunspots", date_format="yyyymmdd")
    assert "No column holds dates written as yyyymmdd" in message
    message = problems(
        sunspots_yearly(), "sunspots", time_column="year", date_format="yyyymmdd"
    )
    assert "not dates written as yyyymmdd (years 1000 to 2999): line(s) 2" in message
    message = problems(sunspots_yearly(), target="sunspots", date_format="text")
    assert "No column looks like dates" in message


def test_a_numeric_time_column_that_holds_no_dates_is_refused():
    frame = tiny_series().assign(step=np.arange(200) * 0.5)
    message = problems(frame, time_column="step")
    assert "holds numbers, not dates" in message and "`date_format`" in message


def test_numbers_are_written_back_as_they_came():
    times = pd.Series(pd.to_datetime(["1958-03-01", "1958-04-01"]))
    assert series_bundle.as_numbers(times, "%Y%m%d").tolist() == [19580301, 19580401]
    assert series_bundle.as_numbers(times, "%Y").tolist() == [1958, 1958]
    decimal = series_bundle.as_numbers(times, "decimal_year")
    again = series_bundle.parse_times(decimal, "decimal_year", False)
    assert again.tolist() == times.tolist()


# --- split, windows, baselines ------------------------------------------------------------


def test_windows_never_cross_the_split_and_normalization_uses_train_only():
    frame = tiny_series()
    frame.loc[150:, "y"] += 1000.0  # the later segments sit far away
    prepared = TEMPLATE.prepare(frame, "y", params(lookback=10, horizon=3), seed=0)
    info = prepared.info
    val_start = info["segments"]["val_start"]
    assert len(prepared.train.raw) == val_start
    assert prepared.train.targets.max() < 500  # no target from val/test in training
    assert prepared.test.targets.min() > 500
    model = TEMPLATE.build_model(prepared, params(lookback=10, horizon=3))
    mean = float(np.ravel(model.get_layer("normalization").mean)[0])
    assert mean == pytest.approx(prepared.train.raw["y"].mean(), rel=1e-4)


def test_baselines_on_a_known_series():
    y = np.arange(20, dtype="float64")
    result = baselines.baseline_forecasts(
        y, np.array([9]), horizon=3, season=5, window=4
    )
    np.testing.assert_allclose(result["persistence"], [[9, 9, 9]])
    np.testing.assert_allclose(result["seasonal_naive"], [[5, 6, 7]])
    np.testing.assert_allclose(result["moving_average"], [[7.5, 7.5, 7.5]])


def test_metrics_and_mase():
    scores = baselines.forecast_metrics(np.array([1.0, 3.0]), np.array([2.0, 2.0]), 2.0)
    assert scores == {"mae": 1.0, "rmse": 1.0, "mase": 0.5}


def test_strong_season_is_stated():
    warnings = TEMPLATE.preflight(tiny_series(), "y", params())
    assert any("repeats a pattern every 7 days" in w for w in warnings)


# --- a real run: report, CLI-level predict, bundle, pages -------------------------------


def _train_series(name: str, frame: pd.DataFrame, target: str) -> str:
    spec = runs.RunSpec(
        TEMPLATE.name,
        datasets.store_upload(name, frame.to_csv(index=False).encode()),
        target,
        {"epochs": 3, "patience": 2, "batch_size": 16},
        dataset_name=name,
    )
    return train_here(spec)


@pytest.fixture
def forecast_run(trained_workspace, monkeypatch) -> str:
    def train() -> str:
        return _train_series("series.csv", tiny_series(), "y")

    return trained_workspace("forecast", train).use(monkeypatch)


@pytest.mark.trains
def test_report_has_metrics_baselines_and_plot_data(forecast_run):
    report = runs.read_evaluation(forecast_run)
    assert report["task"] == "forecasting"
    assert set(report["metrics"]) == {"mae", "rmse", "mase"}
    assert set(report["baselines"]) == {
        "persistence",
        "seasonal_naive",
        "moving_average",
    }
    horizon = runs.read_info(forecast_run)["horizon"]
    assert [row["step"] for row in report["per_step"]] == list(range(1, horizon + 1))
    assert 0 <= report["coverage"]["observed"] <= 1
    assert len(report["backtest"]) >= 2
    assert len(report["test_plot"]["steps"]) == horizon
    assert any("persistence" in s for s in report["summary"])
    verdict = report["verdict"]
    assert report["summary"][0] == verdict["sentence"]
    assert verdict["metric"] == "mae" and verdict["n"] == report["n_test"]
    block = max(horizon, 3)
    enough = verdict["n"] // block >= evaluation.MIN_BLOCKS
    expected = f"block bootstrap ({block} neighbouring" if enough else "full range"
    assert expected in verdict["method"]


def _windows(n: int, horizon: int) -> np.ndarray:
    """Overlapping test windows of a random walk, as `windowing.windows` cuts them."""
    y = np.cumsum(np.random.default_rng(0).normal(size=n + horizon))
    return np.stack([y[i + 1 : i + 1 + horizon] for i in range(n)])


@pytest.mark.parametrize(("noise", "beats"), [(0.0, True), (1.0, False)])
def test_forecast_verdict_against_the_best_simple_rule(noise, beats):
    from core.series import report as series_report

    actual = _windows(60, 4)
    persistence = np.repeat(actual[:, :1] - 1.0, 4, axis=1)  # always off by 1
    rng = np.random.default_rng(1)
    median = persistence + rng.normal(scale=noise, size=actual.shape) + 1.0 - noise
    rules = {"persistence": persistence, "seasonal_naive": persistence + 3}
    report = {
        "baselines": {
            name: baselines.forecast_metrics(actual, values, 1.0)
            for name, values in rules.items()
        }
    }
    info = {"horizon": 4, "unit": "day", "season": 7, "moving_average_window": 7}
    verdict = series_report.verdict(median, actual, rules, report, info)
    assert verdict["beats_baseline"] is beats
    assert "(persistence, the best of three)" in verdict["sentence"]


@pytest.mark.trains
def test_predict_file_forecasts_after_the_end(forecast_run, tmp_path):
    path = tmp_path / "newer.csv"
    tiny_series(120).to_csv(path, index=False)
    table, warnings = prediction.predict_path(forecast_run, path)
    assert list(table.columns) == ["date", "step", "forecast", "lower", "upper"]
    assert str(table["date"].iloc[0].date()) == "2021-05-01"  # the day after row 120
    assert (table["lower"] <= table["forecast"]).all()
    assert (table["forecast"] <= table["upper"]).all()
    assert warnings == ["Ignored columns the model does not use: ['note']."]


@pytest.mark.trains
def test_bundle_is_verified_in_a_fresh_process(forecast_run):
    check = export.build_bundle(forecast_run)
    assert check["ok"], check["message"]


def open_page(page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


@pytest.mark.trains
def test_results_page_shows_the_forecast_report(forecast_run):
    at = open_page("pages/results.py", active_run_id=forecast_run)
    verdict = runs.read_evaluation(forecast_run)["verdict"]
    headline = at.success if verdict["beats_baseline"] else at.warning
    assert headline[0].value == plain(verdict["sentence"])
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "this model",
        "persistence",
        "seasonal naive",
        "moving average",
    ]
    assert len(at.get("plotly_chart")) >= 3
    at.slider(key="_w_forecast_step").set_value(2).run()
    assert not at.exception


@pytest.mark.trains
def test_predict_page_forecasts_and_refuses_other_columns(forecast_run):
    at = open_page("pages/predict.py", active_run_id=forecast_run)
    assert "Forecast the next" in at.subheader[0].value
    assert len(at.dataframe[0].value) == runs.read_info(forecast_run)["horizon"]
    other = tiny_series().rename(columns={"x": "pressure"}).to_csv(index=False)
    at.file_uploader[0].set_value(("other.csv", other.encode(), "text/csv")).run()
    assert not at.exception
    assert "different columns" in at.error[0].value


def test_train_page_suggests_forecasting_for_the_weather_sample():
    dataset_id = datasets.store_sample("seattle_weather.csv")
    at = open_page("pages/train.py", dataset_id=dataset_id, target_column="temp_max")
    assert at.radio(key="_w_template_temp_max").value == TEMPLATE.name
    assert "holds daily times" in at.info[0].value
    assert at.text_input(key="_w_param_time_column").value == ""


@pytest.mark.trains
def test_yearly_series_trains_evaluates_exports_and_predicts(
    trained_workspace, monkeypatch, tmp_path
):
    def train() -> str:
        return _train_series("sunspots.csv", sunspots_yearly(), "sunspots")

    run_id = trained_workspace("yearly", train).use(monkeypatch)
    report = runs.read_evaluation(run_id)
    assert np.isfinite(report["baselines"]["seasonal_naive"]["mae"])  # no season
    assert export.build_bundle(run_id)["ok"]
    path = tmp_path / "newer.csv"
    sunspots_yearly(1950, 1990).to_csv(path, index=False)
    table, _ = prediction.predict_path(run_id, path)
    assert table["year"].dt.year.tolist() == [1991, 1992, 1993, 1994, 1995]


def test_calibration_makes_ranges_hold_their_coverage_on_validation():
    from core.series import model as series_model

    rng = np.random.default_rng(0)
    steps = rng.normal(size=(300, 2)).astype("float32")
    model = series_model.build_forecaster(steps, 5, 3, "dense", 8)
    windows = rng.normal(size=(400, 5, 2)).astype("float32")
    targets = rng.normal(scale=3.0, size=(400, 3))
    factors = series_model.calibrate_intervals(model, windows, targets, 0.8)
    outputs = model.predict(windows, verbose=0)
    held = (outputs[..., 0] <= targets) & (targets <= outputs[..., 2])
    assert 0.75 <= held.mean() <= 0.9
    assert len(factors["below"]) == len(factors["above"]) == 3
    assert not np.allclose(
        model.get_layer("calibrate_below").get_weights()[0], np.eye(3)
    )
