"""The forecasting report: the model beside the baselines on the test period, in plain words.

numpy and pandas only; the template passes in the model's test forecasts. Everything
returned is JSON-ready; pages turn it into charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.series import baselines

MAX_PLOT_WINDOWS = 1000
BACKTEST_ORIGINS = 6
COVERAGE_SLACK = 0.05


def build_report(
    forecasts: np.ndarray,
    actual: np.ndarray,
    origins: np.ndarray,
    history: pd.DataFrame,
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """Scores test forecasts against the actual values and the three baselines.

    Args:
        forecasts: the model's test forecasts, (windows, horizon, 3): lower, median, upper.
        actual: the actual values, (windows, horizon).
        origins: each window's last input step (row of `history`).
        history: the whole regular series, the time column first.
        info: the run's info (target, horizon, season, scale, ...).

    Returns:
        metrics, baselines, per-step errors, coverage, backtest, plot data and summary.
    """
    y = history[info["target"]].to_numpy("float64")
    rules = baselines.baseline_forecasts(
        y, origins, info["horizon"], info["season"], info["moving_average_window"]
    )
    median = forecasts[..., 1]
    scale = info["scale"]
    report = {
        "task": "forecasting",
        "metrics": baselines.forecast_metrics(actual, median, scale),
        "baselines": {
            name: baselines.forecast_metrics(actual, values, scale)
            for name, values in rules.items()
        },
        "per_step": baselines.per_step_errors(actual, {"model": median, **rules}),
        "coverage": coverage(forecasts, actual, info["coverage"]),
        "backtest": backtest(median, actual, origins, rules, history),
        "test_plot": plot_data(forecasts, origins, history, info),
        "n_test": int(len(actual)),
        "n_train": int(info["n_train"]),
        "n_val": int(info["n_val"]),
    }
    report["verdict"] = verdict(median, actual, rules, report, info)
    report["summary"] = summarize(report, info)
    return report


def verdict(
    median: np.ndarray,
    actual: np.ndarray,
    baselines: Mapping[str, np.ndarray],
    report: Mapping[str, Any],
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """Does the model beat the best simple rule beyond the noise of the test period?

    Each test window's average error is one row; neighbouring windows share most of
    their actual values, so the bootstrap draws blocks of at least `horizon` windows.
    """
    from core import evaluation

    best = min(baselines, key=lambda name: report["baselines"][name]["mae"])
    block = max(int(info["horizon"]), round(len(actual) ** (1 / 3)))
    return evaluation.verdict(
        _window_errors(actual, median),
        _window_errors(actual, baselines[best]),
        metric="mae",
        baseline_text=f"the simple rule '{describe_baselines(info)[best]}' ({best}, "
        "the best of three)",
        baseline_name="the simple rules",
        rows="test forecasts",
        block=block,
    )


def _window_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    error = np.abs(actual - predicted)
    counts = np.isfinite(error).sum(axis=1)
    total = np.where(np.isfinite(error), error, 0.0).sum(axis=1)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def coverage(
    forecasts: np.ndarray, actual: np.ndarray, nominal: float
) -> dict[str, Any]:
    """How often the actual value fell inside the forecast range, overall and per step."""
    inside = (actual >= forecasts[..., 0]) & (actual <= forecasts[..., 2])
    return {
        "nominal": float(nominal),
        "observed": float(inside.mean()) if inside.size else float("nan"),
        "per_step": [float(v) for v in inside.mean(axis=0)] if inside.size else [],
        "mean_width": float((forecasts[..., 2] - forecasts[..., 0]).mean()),
    }


def backtest(
    median: np.ndarray,
    actual: np.ndarray,
    origins: np.ndarray,
    baselines: Mapping[str, np.ndarray],
    history: pd.DataFrame,
) -> list[dict[str, Any]]:
    """Errors of whole-horizon forecasts from several origins spread over the test period.

    The model is not retrained between origins: this shows how the error varies with
    the starting point, not how a refreshed model would do.
    """
    count = min(BACKTEST_ORIGINS, len(origins))
    picks = np.unique(np.linspace(0, len(origins) - 1, count).round().astype(int))
    times = history.iloc[:, 0]
    rows = []
    for i in picks:
        row = {"origin": _iso(times.iloc[origins[i]])}
        for name, values in {"model": median, **baselines}.items():
            row[name] = _mae(actual[i], values[i])
        rows.append(row)
    return rows


def _mae(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    error = np.abs(actual - predicted)
    return float(np.nanmean(error)) if np.isfinite(error).any() else None


def plot_data(
    forecasts: np.ndarray,
    origins: np.ndarray,
    history: pd.DataFrame,
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """Actual test values, and per horizon step the forecast with its range, by time."""
    keep = slice(max(0, len(origins) - MAX_PLOT_WINDOWS), None)
    forecasts, origins = forecasts[keep], origins[keep]
    times = history.iloc[:, 0]
    first = int(origins[0]) + 1 if len(origins) else len(history)
    shown = history.iloc[first:]
    steps = []
    for step in range(info["horizon"]):
        at = origins + step + 1
        steps.append(
            {
                "step": step + 1,
                "time": [_iso(t) for t in times.iloc[at]],
                "lower": _rounded(forecasts[:, step, 0]),
                "forecast": _rounded(forecasts[:, step, 1]),
                "upper": _rounded(forecasts[:, step, 2]),
            }
        )
    return {
        "actual": {
            "time": [_iso(t) for t in shown.iloc[:, 0]],
            "value": _rounded(shown[info["target"]].to_numpy("float64")),
        },
        "steps": steps,
    }


def _iso(value: pd.Timestamp) -> str:
    return pd.Timestamp(value).isoformat()


def _rounded(values: np.ndarray) -> list[float | None]:
    return [float(f"{v:.6g}") if np.isfinite(v) else None for v in values]


def describe_baselines(info: Mapping[str, Any]) -> dict[str, str]:
    """Each baseline's rule in plain words."""
    unit, season = info["unit"], info["season"]
    seasonal = (
        "the same as one step earlier (no season found)"
        if season == 1
        else f"the same as one season ({season} {unit}s) earlier"
    )
    return {
        "persistence": "repeat the last value",
        "seasonal_naive": seasonal,
        "moving_average": f"the average of the last {info['moving_average_window']} "
        f"{unit}s",
    }


def summarize(report: Mapping[str, Any], info: Mapping[str, Any]) -> list[str]:
    """Plain sentences: the result, the honest comparison, the range, the horizon."""
    from core.evaluation import number_text

    target, unit, horizon = info["target"], info["unit"], info["horizon"]
    ours = report["metrics"]["mae"]
    base = {name: m["mae"] for name, m in report["baselines"].items()}
    rules = describe_baselines(info)
    lines = [
        report["verdict"]["sentence"],
        f"On the test period ({report['n_test']} forecasts the model never saw in "
        f"training), forecasts of `{target}` for the next {horizon} {unit}s are off by "
        f"{number_text(ours)} on average; the rule 'repeat the last value' (persistence) is off "
        f"by {number_text(base['persistence'])}.",
    ]
    best = min(base, key=lambda name: base[name])
    outcome = report["verdict"]["outcome"]
    if outcome == "worse":
        lines.append(
            f"Honest note: the simple rule '{rules[best]}' ({best}) does better, with an "
            f"average error of {number_text(base[best])} against our "
            f"{number_text(ours)}. For this series, trust that rule, or try more data, "
            "another lookback or architecture."
        )
    elif outcome == "unclear":
        lines.append(
            f"Honest note: the simple rule '{rules[best]}' ({best}) does about as well "
            f"({number_text(base[best])} against our {number_text(ours)}; the gap is "
            "within the noise of the test period), and it is simpler to trust."
        )
    else:
        skill = 1 - ours / base["persistence"] if base["persistence"] else 0.0
        lines.append(
            f"That is {skill:.0%} less error than persistence; the model also beats "
            f"'{rules['seasonal_naive']}' ({number_text(base['seasonal_naive'])}) and "
            f"'{rules['moving_average']}' ({number_text(base['moving_average'])})."
        )
    lines.append(_coverage_sentence(report["coverage"]))
    steps = report["per_step"]
    if len(steps) > 1:
        lines.append(
            f"Errors grow with the horizon: {number_text(steps[0]['model'])} one {unit} ahead, "
            f"{number_text(steps[-1]['model'])} {len(steps)} {unit}s ahead."
        )
    return lines


def _coverage_sentence(result: Mapping[str, Any]) -> str:
    nominal, observed = result["nominal"], result["observed"]
    sentence = (
        f"The {nominal:.0%} range held the actual value {observed:.0%} of the time in "
        "the test period"
    )
    if observed < nominal - COVERAGE_SLACK:
        return sentence + "; it is too narrow, so treat it as optimistic."
    if observed > nominal + COVERAGE_SLACK:
        return sentence + "; it is wider than needed (cautious)."
    return sentence + ", as intended."
