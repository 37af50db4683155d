"""The autoencoder: raw columns in, how badly each column was reconstructed out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import layers, ops

from core.tables.model import encode_columns, steps_per_execution_for


def build_autoencoder(
    train: pd.DataFrame,
    schema: Sequence[Mapping[str, Any]],
    hidden_units: Sequence[int],
    learning_rate: float,
    dropout: float = 0.0,
) -> keras.Model:
    """Returns the compiled end-to-end autoencoder, its preprocessing adapted on `train`.

    The rows are encoded as the table models encode them (normalized numbers with a
    'was missing' flag, one-hot categories), squeezed through `hidden_units` (the
    last size is the bottleneck), mirrored back, and compared with their encoding.
    The output is one squared reconstruction error per column, shape (rows, columns),
    divided by a fixed factor that `set_usual_error` sets after training: the
    training target is zero, so the loss (mean absolute error) is their mean.

    Args:
        train: the raw training rows.
        schema: one dict per input column (`core.tables.template.build_schema`).
        hidden_units: encoder layer sizes, e.g. (32, 8); the decoder mirrors them.
        learning_rate: Adam's learning rate.
        dropout: dropout after each hidden layer of the encoder.

    Returns:
        The model, named input per column, output `column_errors`.
    """
    inputs, columns = encode_columns(train, schema)
    parts = [tensor for tensors in columns.values() for tensor in tensors]
    joined = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    reconstruction = _coder(joined, hidden_units, dropout)
    errors = _column_errors(joined, reconstruction, columns)
    model = keras.Model(inputs, errors, name="anomaly_autoencoder")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="mae",
        steps_per_execution=steps_per_execution_for(len(train), 32),
        jit_compile=False,  # string lookups cannot be compiled with XLA
    )
    return model


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
    """Sums the squared error over each column's slots: (rows, columns), float32."""
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
    return scale(joined)


def set_usual_error(model: keras.Model, usual: float) -> None:
    """Divides every column error by `usual`, so a score of 1 is the usual row's."""
    layer = model.get_layer("column_errors")
    width = layer.get_weights()[0].shape[0]
    layer.set_weights([np.eye(width, dtype="float32") / max(usual, 1e-12)])
