"""Dated series, windowed: lookback and horizon, the time split, and the windows cut.

numpy and pandas at import time; Keras only inside `windows`. Training, validation and
test are consecutive segments of the series, and every segment must get full windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataError
from core.series import cleaning

MIN_TRAIN_WINDOWS = 10
MIN_LOOKBACK = 2


def resolve_window(
    params: Mapping[str, Any], series: cleaning.Series
) -> tuple[int, int]:
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


def describe_window(lookback: int, horizon: int, frequency: cleaning.Frequency) -> str:
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
        if abs(seconds / cleaning.DAY - days) <= 0.02 * days:
            return words
    return ""


def window_plan(
    frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The lookback and horizon a run with `params` would use, for a form to show.

    Args:
        frame: the raw table.
        target: the numeric column to forecast.
        params: the template's params, complete (`core.templates.params.resolve_params`);
            horizon and lookback at 0 get the defaults.

    Returns:
        {"lookback", "horizon", "unit", "frequency", "sentence"}, e.g. for monthly data
        with horizon and lookback left at 0: 24, 12, "month", "monthly", "Forecasts the
        next 12 months (a full year) from the last 24 months."

    Raises:
        DataError: if the table cannot be forecast (see `load_series`).
    """
    series = cleaning.load_series(frame, target, params)
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
