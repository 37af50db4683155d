"""The autoencoder: raw columns in, how badly each column was reconstructed out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import layers, ops

from core.tables.bundle import frame_to_inputs
from core.tables.model import encode_columns, steps_per_execution_for

ROW_ERROR_CAP = 2.0  # rows worse than this (robust units) no longer teach the model


def build_autoencoder(
    train: pd.DataFrame,
    schema: Sequence[Mapping[str, Any]],
    hidden_units: Sequence[int],
    learning_rate: float,
    dropout: float = 0.0,
) -> keras.Model:
    """Returns the compiled end-to-end autoencoder, its preprocessing adapted on `train`.

    The rows are encoded as the table models encode them (normalized numbers with a
    'was missing' flag, one-hot categories), then rescaled robustly (median and
    interquartile range of the training rows). The encoder sees each value capped
    at its training quartiles, so only the usual part of a row fits through
    `hidden_units` (the last size is the bottleneck); the decoder rebuilds the whole
    row, and how far a value lies outside the usual range stays as error.

    Outputs: `column_errors`, one squared error per column, shape (rows, columns),
    divided by a fixed factor that `set_usual_error` sets after training; and
    `capped_error`, the row's mean error capped at ROW_ERROR_CAP, the only one
    trained (target zero): rows the model already finds very unusual (anomalies
    among the training rows) stop pulling it towards them.

    Args:
        train: the raw training rows.
        schema: one dict per input column (`core.tables.template.build_schema`).
        hidden_units: encoder layer sizes, e.g. (16, 4); the decoder mirrors them.
        learning_rate: Adam's learning rate.
        dropout: dropout after each hidden layer of the encoder but the last.

    Returns:
        The model: one named input per column, outputs as above.
    """
    inputs, columns = encode_columns(train, schema)
    parts = [tensor for tensors in columns.values() for tensor in tensors]
    joined = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    encoded = np.asarray(
        keras.Model(inputs, joined)(frame_to_inputs(train, list(schema))), "float64"
    )
    robust, capped = _robust_layers(encoded)
    scaled = robust(joined)
    reconstruction = _coder(ops.clip(capped(scaled), -1.0, 1.0), hidden_units, dropout)
    errors, row_error = _column_errors(scaled, reconstruction, columns)
    model = keras.Model(inputs, [errors, row_error], name="anomaly_autoencoder")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=["mae", "mae"],
        loss_weights=[0.0, 1.0],
        steps_per_execution=steps_per_execution_for(len(train), 32),
        jit_compile=False,  # string lookups cannot be compiled with XLA
    )
    return model


def _robust_layers(encoded: np.ndarray) -> tuple[Any, Any]:
    """Fixed layers: robust scaling, then the quartiles (or range) mapped to [-1, 1]."""
    q1, median, q3 = np.percentile(encoded, [25, 50, 75], axis=0)
    spread = np.where(q3 - q1 > 1e-6, (q3 - q1) / 1.349, encoded.std(axis=0))
    spread = np.where(spread > 1e-6, spread, 1.0)
    wide = q3 - q1 > 1e-6  # else a flag or one-hot slot: its whole range
    low = (np.where(wide, q1, encoded.min(axis=0)) - median) / spread
    high = (np.where(wide, q3, encoded.max(axis=0)) - median) / spread
    robust = layers.Normalization(
        mean=median.astype("float32"), variance=(spread**2).astype("float32")
    )
    half = np.maximum((high - low) / 2, 1e-3)
    capped = layers.Normalization(
        mean=((high + low) / 2).astype("float32"),
        variance=(half**2).astype("float32"),
        name="usual_range",
    )
    return robust, capped


def _coder(features: Any, hidden_units: Sequence[int], dropout: float) -> Any:
    """Encoder down to the last size of `hidden_units`, decoder back to the width."""
    x = features
    for index, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", name=f"encode_{index}")(x)
        if dropout and index < len(hidden_units) - 1:
            x = layers.Dropout(dropout, name=f"dropout_{index}")(x)
    for index, units in enumerate(reversed(hidden_units[:-1])):
        x = layers.Dense(units, activation="relu", name=f"decode_{index}")(x)
    return layers.Dense(features.shape[-1], dtype="float32", name="reconstruction")(x)


def _column_errors(
    features: Any, reconstruction: Any, columns: Mapping[str, list[Any]]
) -> Any:
    """Each column's summed squared error (rows, columns), and the capped row error."""
    squared = ops.square(ops.cast(features, "float32") - reconstruction)
    sums, start = [], 0
    for tensors in columns.values():
        width = sum(int(t.shape[-1]) for t in tensors)
        sums.append(ops.sum(squared[:, start : start + width], axis=1, keepdims=True))
        start += width
    joined = sums[0] if len(sums) == 1 else layers.Concatenate(name="errors")(sums)
    scale = layers.Dense(  # set by `set_usual_error` after training
        len(sums),
        use_bias=False,
        trainable=False,
        kernel_initializer="identity",
        dtype="float32",
        name="column_errors",
    )
    row_error = ops.minimum(ops.mean(joined, axis=1, keepdims=True), ROW_ERROR_CAP)
    return scale(joined), layers.Identity(name="capped_error")(row_error)


def set_usual_error(model: keras.Model, usual: float) -> None:
    """Divides every column error by `usual`, so a score of 1 is the usual row's."""
    layer = model.get_layer("column_errors")
    width = layer.get_weights()[0].shape[0]
    layer.set_weights([np.eye(width, dtype="float32") / max(usual, 1e-12)])
