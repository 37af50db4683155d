"""Keras building blocks for forecasts: the window network, quantile heads, pinball loss.

Imported only inside the forecasting template's methods (STYLE C2), like `core.tables.model`.
The loss and metric are registered, so a training process can reload a compiled model;
prediction never needs them (`load_model(..., compile=False)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

PACKAGE = "predictive_studio"


@keras.saving.register_keras_serializable(package=PACKAGE)
class PinballLoss(keras.losses.Loss):
    """Quantile (pinball) loss for outputs of shape (batch, horizon, quantiles).

    Args:
        quantiles: the quantile each output channel estimates, e.g. (0.1, 0.5, 0.9).
    """

    def __init__(
        self,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        name: str = "pinball",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.quantiles = tuple(float(q) for q in quantiles)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        if len(y_true.shape) == len(y_pred.shape) - 1:
            y_true = ops.expand_dims(y_true, -1)
        q = ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype)
        error = y_true - y_pred
        return ops.mean(ops.maximum(q * error, (q - 1.0) * error), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "quantiles": list(self.quantiles)}


@keras.saving.register_keras_serializable(package=PACKAGE)
def median_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """Mean absolute error of the middle (median) output channel, in target units."""
    y_pred = ops.convert_to_tensor(y_pred)
    median = y_pred[..., y_pred.shape[-1] // 2]
    return ops.mean(ops.abs(ops.cast(y_true, median.dtype) - median), axis=-1)


def window_body(x: Any, architecture: str, units: int) -> Any:
    """Returns the learned summary of a normalized window (batch, lookback, features)."""
    if architecture == "lstm":
        return layers.LSTM(units, name="lstm")(x)
    if architecture == "gru":
        return layers.GRU(units, name="gru")(x)
    if architecture == "conv1d":
        x = layers.Conv1D(units // 2, 3, padding="causal", activation="relu")(x)
        x = layers.Conv1D(units // 2, 3, padding="causal", dilation_rate=2)(x)
        x = layers.Activation("relu")(x)
        return layers.Flatten(name="conv_features")(x)
    if architecture == "dense":
        x = layers.Flatten(name="window_flat")(x)
        return layers.Dense(units, activation="relu", name="dense_0")(x)
    raise ValueError(
        "Invalid value for argument `architecture`. Expected one of ['lstm', 'gru', "
        f"'conv1d', 'dense']. Received: architecture={architecture!r}"
    )


def quantile_head(x: Any, horizon: int, mean: float, std: float) -> Any:
    """Returns (batch, horizon, 3): lower, median and upper, in the target's units.

    The bounds are the median minus/plus a softplus (never negative) gap, so they
    never cross it.
    """
    median = layers.Dense(horizon, dtype="float32", name="median")(x)
    below = _calibration(horizon, "below")(
        layers.Dense(horizon, "softplus", dtype="float32", name="gap_below")(x)
    )
    above = _calibration(horizon, "above")(
        layers.Dense(horizon, "softplus", dtype="float32", name="gap_above")(x)
    )
    lower = layers.Subtract(dtype="float32", name="lower")([median, below])
    upper = layers.Add(dtype="float32", name="upper")([median, above])
    parts = [
        layers.Reshape((horizon, 1), dtype="float32", name=f"{name}_column")(t)
        for name, t in (("lower", lower), ("median", median), ("upper", upper))
    ]
    stacked = layers.Concatenate(axis=-1, dtype="float32", name="quantiles")(parts)
    return layers.Rescaling(scale=std, offset=mean, dtype="float32", name="forecast")(
        stacked
    )


def _calibration(horizon: int, side: str) -> layers.Dense:
    """A fixed diagonal scale per step for one side's gap: identity until calibrated."""
    return layers.Dense(
        horizon,
        use_bias=False,
        trainable=False,
        kernel_initializer="identity",
        dtype="float32",
        name=f"calibrate_{side}",
    )


def calibrate_intervals(
    model: keras.Model, windows: np.ndarray, targets: np.ndarray, coverage: float
) -> dict[str, list[float]]:
    """Rescales each step's range so it holds `coverage` of the validation targets.

    Split-conformal calibration: for each horizon step and side, the factor is the
    empirical quantile of how far the actual value fell from the median, measured in
    units of the predicted gap. Stored as the fixed diagonal `calibrate_*` kernels, so
    the saved model carries it.

    Returns:
        The factor per step for each side (1.0 means the quantile loss was right).
    """
    outputs = np.asarray(model.predict(windows, verbose=0), "float64")
    lower, median, upper = (outputs[..., i] for i in range(3))
    level = min(1.0, (1 + coverage) / 2 * (1 + 1 / max(len(targets), 1)))
    factors = {}
    for side, distance, gap in (
        ("below", median - targets, median - lower),
        ("above", targets - median, upper - median),
    ):
        ratio = distance / np.maximum(gap, 1e-9)
        scale = np.clip(np.nanquantile(ratio, level, axis=0), 0.05, 20.0)
        layer = model.get_layer(f"calibrate_{side}")
        layer.set_weights([np.diag(scale * np.diag(layer.get_weights()[0]))])
        factors[side] = [round(float(v), 4) for v in scale]
    return factors


def build_forecaster(
    train_steps: np.ndarray,
    lookback: int,
    horizon: int,
    architecture: str,
    units: int,
    dropout: float = 0.0,
) -> keras.Model:
    """Builds the end-to-end forecaster: raw window in, horizon × (lower, median, upper) out.

    Args:
        train_steps: the training segment's features per step (steps, features),
            target first; normalization statistics come from these rows only.
        lookback: steps per input window.
        horizon: steps forecast at once (direct multi-step output).
        architecture: "lstm", "gru", "conv1d" or "dense".
        units: width of the learned layers.
        dropout: share of features switched off while learning, against overfitting.
    """
    finite = train_steps[np.isfinite(train_steps).all(axis=1)]
    inputs = keras.Input((lookback, train_steps.shape[1]), name="window")
    normalizer = layers.Normalization(axis=-1, name="normalization")
    normalizer.adapt(finite)
    x = normalizer(inputs)
    body = window_body(x, architecture, units)
    linear = layers.Flatten(name="linear_window")(x)  # a direct autoregressive path
    joined = layers.Concatenate(name="features")([body, linear])
    if dropout:
        joined = layers.Dropout(dropout, name="dropout")(joined)
    target = finite[:, 0].astype("float64")
    outputs = quantile_head(
        joined, horizon, float(target.mean()), float(target.std()) or 1.0
    )
    return keras.Model(inputs, outputs, name="timeseries_forecasting")


def compile_forecaster(
    model: keras.Model,
    quantiles: Sequence[float],
    learning_rate: float,
    steps_per_execution: int,
) -> keras.Model:
    """Compiles with the pinball loss and the median's absolute error as metric."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=PinballLoss(quantiles),
        metrics=[keras.metrics.MeanMetricWrapper(median_absolute_error, name="mae")],
        steps_per_execution=steps_per_execution,
    )
    return model
