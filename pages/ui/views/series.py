"""Views for dated series: the horizon on Train, the forecast report, forecasting.

The figure builders are plain plotly; the view functions draw widgets and call core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import datasets, runs, table_reading
from core.catalog import get_template
from core.errors import UserError
from core.series import report as series_report
from core.series import template as series_template
from core.series import windowing
from core.templates.params import resolve_params
from pages.ui import charts
from pages.ui.cache import load_model_cached
from pages.ui.glossary import LABELS, show_meanings
from pages.ui.text import people_table, plain, plot_text
from pages.ui.widgets import csv_download, show_summary

COLOURS = {
    "model": "#2563eb",
    "persistence": "#f97316",
    "seasonal_naive": "#16a34a",
    "moving_average": "#9333ea",
}
BAND = "rgba(37, 99, 235, 0.18)"
HISTORY_STEPS = 90


# --- figures ----------------------------------------------------------------------------


def band_figure(
    title: str, time: list, lower: list, forecast: list, upper: list
) -> go.Figure:
    """A forecast line inside its shaded range."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=time, y=upper, line={"width": 0}, showlegend=False))
    fig.add_trace(
        go.Scatter(
            x=time, y=lower, fill="tonexty", fillcolor=BAND, line={"width": 0},
            name="forecast range",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=time, y=forecast, name="forecast", line={"color": COLOURS["model"]}
        )
    )
    fig.update_layout(title=title, **charts.LAYOUT)
    fig.update_layout(legend={"orientation": "h", "y": -0.2, "x": 0})
    return charts.people_hover(fig, numeric_x=False)


def test_period_figure(
    evaluation: Mapping[str, Any], step: int, target: str
) -> go.Figure:
    """Actual test values against the forecasts made `step` steps ahead, with the range."""
    plot = evaluation["test_plot"]
    chosen = plot["steps"][step - 1]
    fig = band_figure(
        f"Test period: {plot_text(target)} forecast {step} step(s) ahead vs actual",
        chosen["time"], chosen["lower"], chosen["forecast"], chosen["upper"],
    )  # fmt: skip
    actual = plot["actual"]
    fig.add_trace(
        go.Scatter(
            x=actual["time"],
            y=actual["value"],
            name="actual",
            line={"color": "#111827"},
        )
    )
    return fig


def per_step_figure(evaluation: Mapping[str, Any], unit: str) -> go.Figure:
    """Mean absolute error per horizon step, the model beside each baseline."""
    rows = pd.DataFrame(evaluation["per_step"])
    fig = go.Figure()
    for name, colour in COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=rows["step"], y=rows[name], name=name.replace("_", " "),
                mode="lines+markers", line={"color": colour},
            )
        )  # fmt: skip
    fig.update_layout(
        title="Error by horizon step (lower is better)",
        xaxis_title=f"{unit}s ahead",
        yaxis_title="mean absolute error",
        **charts.LAYOUT,
    )
    return charts.people_hover(fig)


def forecast_figure(
    history: pd.DataFrame, table: pd.DataFrame, target: str
) -> go.Figure:
    """The recent history, then the forecast with its range."""
    time = table.columns[0]
    fig = band_figure(
        f"Forecast of {plot_text(target)}",
        table[time], table["lower"], table["forecast"], table["upper"],
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=history.iloc[:, 0], y=history[target], name="history",
            line={"color": "#111827"},
        )
    )  # fmt: skip
    return fig


# --- train ------------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner=False)
def window_plan(
    dataset_id: str, target: str, template_name: str
) -> dict[str, Any] | None:
    """The forecast window a run would start from (see `windowing.window_plan`).

    Returns:
        {"lookback", "horizon", "unit", "frequency", "sentence"}, or None when the
        table is not a series of `target`.
    """
    params = resolve_params(get_template(template_name), {})
    try:
        return windowing.window_plan(datasets.load_table(dataset_id), target, params)
    except UserError:
        return None


def train_extra(
    dataset_id: str, target: str | None, template: Any
) -> dict[str, Callable[[Any], Any]]:
    """The forecast horizon, asked under the Train button in the data's own steps."""
    plan = window_plan(dataset_id, target, template.name) if target else None
    return {"horizon": horizon_widget(plan)} if plan else {}


def horizon_widget(plan: dict[str, Any]) -> Callable[[Any], int]:
    """The forecast horizon in the series' own steps ("Forecast the next … months").

    Args:
        plan: the suggested horizon with its unit and frequency (see `window_plan`).
    """
    unit, suggested = plan["unit"], int(plan["horizon"])
    steps = unit if unit.endswith("s") else f"{unit}s"

    def widget(param: Any) -> int:
        return st.number_input(
            f"Forecast the next … {steps}",
            min_value=1,
            max_value=int(param.max_value or 1000),
            value=suggested,
            step=1,
            help=f"Your data has one value per {unit}. The model forecasts this many "
            f"{steps} after the last row; {suggested} suits {plan['frequency']} data. "
            "Further ahead is harder to get right.",
            key=f"_w_param_horizon_{unit.replace(' ', '_')}",
        )

    return widget


# --- results ----------------------------------------------------------------------------


def scores_table(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """The model and the three baselines side by side, one row per metric."""
    columns = {"this model": evaluation["metrics"], **evaluation["baselines"]}
    table = pd.DataFrame(columns)
    table.columns = [c.replace("_", " ") for c in table.columns]
    table.index = [LABELS.get(m, m) for m in table.index]
    return table


def results_view(run_id: str, evaluation: Mapping[str, Any]) -> None:
    """The forecasting report: verdict, scores, test-period plot, horizon, backtest."""
    info = runs.load_info(run_id)
    show_summary(evaluation)

    st.subheader("Scores on the test period")
    rules = series_report.describe_baselines(info)
    st.caption(
        "Baselines: " + "; ".join(f"**{k.replace('_', ' ')}** = {v}" for k, v in rules.items())
        + f". Errors are in {plain(info['target'])}'s units; MASE below 1 beats the naive "
        "one-step forecast."
    )  # fmt: skip
    st.dataframe(people_table(scores_table(evaluation)))
    show_meanings(evaluation["metrics"])

    step = st.slider(
        "Horizon step to plot", 1, int(info["horizon"]), 1, key="_w_forecast_step"
    )
    st.plotly_chart(test_period_figure(evaluation, step, info["target"]))
    coverage = evaluation["coverage"]
    st.caption(
        f"Shaded: the {coverage['nominal']:.0%} range. It held the actual value "
        f"{coverage['per_step'][step - 1]:.0%} of the time at this step, "
        f"{coverage['observed']:.0%} over all steps."
    )
    st.plotly_chart(per_step_figure(evaluation, info["unit"]))
    _render_backtest(evaluation)
    with st.expander("How the data was prepared"):
        for note in info.get("notes", []):
            st.markdown(f"- {plain(note)}")
        st.markdown(
            f"- Inputs per step: {plain(', '.join(info['features']))}; "
            f"{info['lookback']} steps in, {info['horizon']} out."
        )
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def _render_backtest(evaluation: Mapping[str, Any]) -> None:
    st.markdown("**Backtest from several starting points in the test period**")
    st.caption(
        "Each row is one forecast of the whole horizon; the model is not retrained "
        "between them. The average error of each."
    )
    table = pd.DataFrame(evaluation["backtest"])
    table["origin"] = pd.to_datetime(table["origin"])  # ISO text in the JSON report
    table.columns = [c.replace("_", " ") for c in table.columns]
    st.dataframe(people_table(table), hide_index=True)


# --- predict ----------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner="Forecasting…")
def forecast_cached(
    run_id: str, content: bytes | None, name: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Forecasts from the end of an uploaded CSV, or of the run's own data if none."""
    info = runs.load_info(run_id)
    if content is None:
        frame = datasets.load_table(runs.load_spec(run_id)["dataset_id"])
    else:
        frame = table_reading.read_csv_bytes(content, name)
    model = load_model_cached(run_id)
    table, warnings = series_template.forecast_from(model, frame, info)
    history = series_template.recent_history(frame, info, HISTORY_STEPS)
    return history, table, warnings


def predict_view(run_id: str, info: Mapping[str, Any]) -> None:
    """Forecast the next steps after the training data, or after a newer CSV."""
    columns = [info["time_column"], *info["columns"]]
    st.subheader(f"Forecast the next {info['horizon']} {info['unit']}s")
    st.caption(
        f"Upload a newer CSV with the columns {plain(', '.join(columns))} to forecast "
        "from its end; "
        "without one, the forecast starts after the training data."
    )
    upload = st.file_uploader(
        "Newer data (CSV)", type=["csv"], key="_w_forecast_upload"
    )
    has_data = bool(runs.read_spec(run_id).get("dataset_id"))
    if upload is None and not has_data:
        st.info("This model was imported; upload a CSV with its history to forecast.")
        return
    content, name = (upload.getvalue(), upload.name) if upload else (None, "")
    try:
        history, table, warnings = forecast_cached(run_id, content, name)
    except UserError as err:
        st.error(plain(err))
        return
    for warning in warnings:
        st.warning(plain(warning))
    st.plotly_chart(forecast_figure(history, table, info["target"]))
    st.caption(
        f"The shaded range should hold the actual value {info['coverage']:.0%} of the "
        "time (see Results for how often it did on the test period)."
    )
    st.dataframe(people_table(table), hide_index=True)
    csv_download(table, "forecast.csv", "Download forecast (CSV)")
