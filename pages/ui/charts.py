"""Plotly figure builders for the pages: data in (evaluation dict, DataFrame), figure out.

Plotly only, no Streamlit, so every builder can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pages.ui.text import percent, plot_text

LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white"}
NUMBER_HOVER = ",.4~r"  # d3: 4 significant digits, thousands separators, no 1e+04
MAX_BARS = 30
METRIC_COLUMNS = ("accuracy", "mae", "auc", "rmse", "mse")
SPLIT_STYLES = {  # the same colour per split in every panel
    "training": {"color": "#2563eb"},
    "validation": {"color": "#f97316", "dash": "dash"},
}


def _figure(title: str, x: str, y: str) -> go.Figure:
    """An empty figure whose number axes show hover values for people."""
    fig = go.Figure()
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, **LAYOUT)
    return people_hover(fig)


def people_hover(fig: go.Figure, numeric_x: bool = True) -> go.Figure:
    """Hover values like `14,250` and `32.35` on the y axes, and x unless it holds dates.

    Category axes ignore the format.
    """
    fig.update_yaxes(hoverformat=NUMBER_HOVER)
    if numeric_x:
        fig.update_xaxes(hoverformat=NUMBER_HOVER)
    return fig


def target_distribution(values: pd.Series, column_type: str) -> go.Figure:
    """A histogram for a number target, bar counts for a class target."""
    name = plot_text(values.name)
    if column_type == "number":
        fig = _figure(f"Distribution of `{name}`", name, "rows")
        fig.add_trace(go.Histogram(x=values.dropna(), nbinsx=40, name=name))
        return fig
    counts = values.astype("string").fillna("(missing)").map(plot_text).value_counts()
    title = f"Rows per value of `{name}`"
    if len(counts) > MAX_BARS:
        title += f" (the {MAX_BARS} most common of {len(counts)})"
        counts = counts.head(MAX_BARS)
    fig = _figure(title, name, "rows")
    fig.add_trace(go.Bar(x=counts.index.tolist(), y=counts.to_numpy(), name=name))
    fig.update_xaxes(type="category")
    return fig


def learning_curves(metrics: pd.DataFrame) -> go.Figure:
    """Loss and the task's metric per epoch, training vs validation."""
    metric = next((m for m in METRIC_COLUMNS if m in metrics), None)
    panels = ["loss"] + ([metric] if metric else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)
    for col, name in enumerate(panels, start=1):
        for column, label in ((name, "training"), (f"val_{name}", "validation")):
            if column in metrics:
                fig.add_trace(
                    go.Scatter(
                        x=metrics["epoch"],
                        y=metrics[column],
                        mode="lines+markers",
                        name=label,
                        line=SPLIT_STYLES[label],
                        legendgroup=label,
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(title="Learning curves", height=360, **LAYOUT)
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
    return people_hover(fig)


def confusion_matrix(evaluation: Mapping[str, Any]) -> go.Figure:
    """Counts of true class (rows) against predicted class (columns)."""
    names = [str(n) for n in evaluation["class_names"]]
    fig = _figure("Confusion matrix (test rows)", "predicted", "actual")
    fig.add_trace(
        go.Heatmap(
            z=evaluation["confusion_matrix"],
            x=names,
            y=names,
            colorscale="Blues",
            texttemplate="%{z}",
            showscale=False,
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def roc_curves(evaluation: Mapping[str, Any]) -> go.Figure:
    """ROC curve per class, with the diagonal of a random guess."""
    fig = _figure("ROC curve", "false positive rate", "true positive rate")
    for curve in evaluation.get("curves", []):
        fig.add_trace(
            go.Scatter(x=curve["fpr"], y=curve["tpr"], name=str(curve["class"]))
        )
    fig.add_trace(_diagonal([0, 1], "random guess"))
    return fig


def pr_curves(evaluation: Mapping[str, Any]) -> go.Figure:
    """Precision against recall per class."""
    fig = _figure("Precision-recall curve", "recall", "precision")
    for curve in evaluation.get("curves", []):
        fig.add_trace(
            go.Scatter(
                x=curve["recall"], y=curve["precision"], name=str(curve["class"])
            )
        )
    return fig


def _diagonal(span: list[float], name: str) -> go.Scatter:
    return go.Scatter(
        x=span, y=span, mode="lines", name=name, line={"dash": "dash", "color": "gray"}
    )


def _points(x: list[float], y: list[float], name: str) -> go.Scattergl:
    """Many points drawn with WebGL, so every test row fits in the browser."""
    marker = {"size": 5, "opacity": 0.5 if len(x) > 1000 else 0.8}
    return go.Scattergl(x=x, y=y, mode="markers", name=name, marker=marker)


def _rows_title(title: str, evaluation: Mapping[str, Any]) -> str:
    shown, total = len(evaluation["actual"]), evaluation.get("n_test", 0)
    if total > shown:
        return f"{title} ({shown:,} of {total:,} test rows, spread over the range)"
    return f"{title} (test rows)"


def predicted_vs_actual(evaluation: Mapping[str, Any]) -> go.Figure:
    """Each test row as a point; perfect predictions lie on the diagonal."""
    actual, predicted = evaluation["actual"], evaluation["predicted"]
    title = _rows_title("Predicted vs actual", evaluation)
    fig = _figure(title, "actual", "predicted")
    fig.add_trace(_points(actual, predicted, "test rows"))
    values = actual + predicted
    fig.add_trace(_diagonal([min(values), max(values)], "perfect prediction"))
    return fig


def residuals(evaluation: Mapping[str, Any]) -> go.Figure:
    """Prediction error (predicted − actual) against the prediction."""
    predicted = evaluation["predicted"]
    errors = [p - a for p, a in zip(predicted, evaluation["actual"], strict=True)]
    title = _rows_title("Residuals", evaluation)
    fig = _figure(title, "predicted", "predicted − actual")
    fig.add_trace(_points(predicted, errors, "error"))
    fig.add_hline(y=0, line_dash="dash", line_color="gray")
    return fig


def importance(evaluation: Mapping[str, Any]) -> go.Figure:
    """Permutation importance: how much the score drops when a column is shuffled."""
    rows = list(reversed(evaluation.get("importance", [])))
    fig = _figure("Which columns matter (permutation importance)", "score drop", "")
    fig.add_trace(
        go.Bar(
            x=[r["importance"] for r in rows],
            y=[r["feature"] for r in rows],
            error_x={"type": "data", "array": [r["std"] for r in rows]},
            orientation="h",
        )
    )
    fig.update_layout(height=max(300, 28 * len(rows) + 120))
    return fig


def class_probabilities(probabilities: Mapping[str, float]) -> go.Figure:
    """One bar per class with the model's probability for it."""
    fig = _figure("Probability per class", "class", "probability")
    fig.add_trace(
        go.Bar(
            x=[str(k) for k in probabilities],
            y=list(probabilities.values()),
            text=[percent(v) for v in probabilities.values()],
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", hoverformat=".1%")
    return fig


def threshold_tradeoff(
    sweep: Mapping[str, list[float]], threshold: float, cheapest: float | None
) -> go.Figure:
    """Alerts per 1,000 rows (and the expected cost) over thresholds, both marked."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=sweep["threshold"], y=sweep["alerts_per_1000"], name="alerts per 1,000"
        )
    )
    if "cost" in sweep:
        fig.add_trace(
            go.Scatter(x=sweep["threshold"], y=sweep["cost"], name="expected cost"),
            secondary_y=True,
        )
    fig.add_vline(x=threshold, line_dash="dash", annotation_text="chosen")
    if cheapest is not None:
        fig.add_vline(x=cheapest, line_color="green", annotation_text="lowest cost")
    fig.update_layout(
        title="What each threshold costs", xaxis_title="threshold", **LAYOUT
    )
    fig.update_yaxes(title_text="alerts per 1,000 rows", secondary_y=False)
    fig.update_yaxes(title_text="expected cost (test rows)", secondary_y=True)
    return people_hover(fig)


def reliability(curve: Mapping[str, Any]) -> go.Figure:
    """Predicted probability against how often it happened; on the diagonal is honest."""
    fig = _figure(
        f"Reliability (calibration error {curve['ece']:.3f})",
        "predicted probability",
        "share that were positive",
    )
    fig.add_trace(
        go.Scatter(
            x=curve["predicted"],
            y=curve["observed"],
            mode="lines+markers",
            name="this model",
            customdata=curve["rows"],
            hovertemplate="%{x:.2f} predicted, %{y:.2f} observed (%{customdata} rows)",
        )
    )
    fig.add_trace(_diagonal([0, 1], "perfectly calibrated"))
    return fig
