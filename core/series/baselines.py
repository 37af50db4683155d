"""Dated series, judged: trend and season, the simple rules a forecast must beat, scores.

numpy and pandas only. The season and the error scale are chosen on the training
segment; the rules (persistence, seasonal naive, moving average) and the scores (MAE,
RMSE, MASE) are what the report sets the model beside.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.series import cleaning


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


def choose_season(
    train: np.ndarray, frequency: cleaning.Frequency
) -> tuple[int, float]:
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
