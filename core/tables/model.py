"""Shared Keras building blocks: table preprocessing, dense body, heads, compilation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import layers, ops

from core.tables.bundle import input_name, model_strings

MAX_CATEGORIES = 100
MAX_TEXT_TOKENS = 5000


def build_table_inputs(
    train: pd.DataFrame, schema: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], Any]:
    """Creates one named input per column and its preprocessing, adapted on `train` only.

    Args:
        train: the raw training rows.
        schema: one dict per input column with `name` and `kind` (its column type).

    Returns:
        The inputs dict (for `keras.Model`) and the concatenated encoded tensor.
    """
    inputs, columns = encode_columns(train, schema)
    encoded = [tensor for parts in columns.values() for tensor in parts]
    joined = (
        encoded[0]
        if len(encoded) == 1
        else layers.Concatenate(name="features")(encoded)
    )
    return inputs, joined


def encode_columns(
    train: pd.DataFrame, schema: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Creates one named input per column and its encoding, adapted on `train` only.

    Numbers get missing-value filling (training mean), a 'was missing' flag when the
    training rows had gaps, and normalization; where the schema marks a column
    `zeros_missing` (a fix from the data check), its input also reads 0 as missing,
    so the saved model does the same on raw rows. Categories and booleans get a string
    lookup (one-hot, with an out-of-vocabulary slot); free text gets TF-IDF bag of words.

    Args:
        train: the raw training rows.
        schema: one dict per input column with `name` and `kind` (its column type).

    Returns:
        The inputs dict (for `keras.Model`) and, per column name, its encoded tensors
        (a number's normalized value first, then its 'was missing' flag if any).
    """
    inputs, columns = {}, {}
    for feature in schema:
        name, column_type = feature["name"], feature["kind"]
        key = input_name(feature)
        if column_type == "number":
            inputs[key] = keras.Input(shape=(1,), name=key, dtype="float32")
            columns[name] = _encode_number(
                inputs[key],
                pd.to_numeric(train[name], errors="coerce"),
                bool(feature.get("zeros_missing")),
            )
        else:
            inputs[key] = keras.Input(shape=(1,), name=key, dtype="string")
            text = model_strings(train[name])
            columns[name] = [
                _encode_text(inputs[key], text)
                if column_type == "text"
                else _encode_category(inputs[key], text)
            ]
    return inputs, columns


def _encode_number(tensor: Any, values: pd.Series, zeros_missing: bool) -> list[Any]:
    if zeros_missing:
        values = values.mask(values == 0)
    mean = float(values.mean()) if values.notna().any() else 0.0
    is_missing = ops.isnan(tensor)
    if zeros_missing:
        is_missing = ops.logical_or(is_missing, ops.equal(tensor, 0.0))
    filled = ops.where(is_missing, ops.full_like(tensor, mean), tensor)
    normalizer = layers.Normalization()
    normalizer.adapt(values.fillna(mean).to_numpy("float32").reshape(-1, 1))
    encoded = [normalizer(filled)]
    if values.isna().any():
        encoded.append(ops.cast(is_missing, "float32"))
    return encoded


def _encode_category(tensor: Any, text: np.ndarray) -> Any:
    # A vocabulary given as a list is saved in the model's config, so any category
    # ("", "nan", a line break) reloads as it was; an adapted one is saved as lines.
    counts = pd.Series(text).value_counts()
    vocabulary = [v for v in counts.index if v != "[UNK]"][:MAX_CATEGORIES]
    lookup = layers.StringLookup(vocabulary=vocabulary, output_mode="one_hot")
    return lookup(tensor)


def _encode_text(tensor: Any, text: np.ndarray) -> Any:
    vectorizer = layers.TextVectorization(
        max_tokens=MAX_TEXT_TOKENS, output_mode="tf_idf"
    )
    vectorizer.adapt(text)
    return vectorizer(ops.squeeze(tensor, axis=-1))


def dense_body(features: Any, hidden_units: Sequence[int], dropout: float) -> Any:
    """Stacks Dense + ReLU (+ Dropout) blocks on `features`."""
    x = features
    for index, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{index}")(x)
    return x


def classification_head(x: Any, n_classes: int) -> Any:
    """Returns class probabilities (float32 even under mixed precision)."""
    return layers.Dense(
        n_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)


def regression_head(x: Any, mean: float, std: float) -> Any:
    """Returns a number on the target's own scale: the network learns a standardized target."""
    standardized = layers.Dense(1, dtype="float32", name="standardized")(x)
    return layers.Rescaling(scale=std, offset=mean, dtype="float32", name="prediction")(
        standardized
    )


def steps_per_execution_for(n_rows: int, batch_size: int) -> int:
    """Returns how many steps to run per call: a whole small epoch, at most 32 steps.

    Small tabular models spend most of a step in Python overhead; fusing steps fixes that.
    """
    return int(max(1, min(32, -(-n_rows // batch_size))))


def compile_for(
    model: keras.Model, task: str, learning_rate: float, steps_per_execution: int = 1
) -> keras.Model:
    """Compiles `model` with the loss and metrics for `task` and returns it."""
    if task == "classification":
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    elif task == "regression":
        loss, metrics = "mse", ["mae"]
    else:
        raise ValueError(f"Invalid value for argument `task`. Received: task={task!r}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        metrics=metrics,
        steps_per_execution=steps_per_execution,
        jit_compile=False,  # string lookups cannot be compiled with XLA
    )
    return model
