"""The text networks: raw strings in, class probabilities out.

Each one starts with a `TextVectorization` adapted on the training texts only, so the
saved `.keras` takes raw strings and the bundle needs no tokenizer of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

ARCHITECTURES = ("words", "characters", "sequence")
EMBEDDING_DIM = 64
HIDDEN_UNITS = 64


def build_text_model(
    train_texts: Sequence[str], n_classes: int, info: Mapping[str, Any], dropout: float
) -> Any:
    """Builds the network named by `info["architecture"]` (one of `ARCHITECTURES`).

    - words: word unigrams and bigrams as TF-IDF beside character 1- to 3-grams, each
      scaled to unit length, into a softmax layer.
    - characters: character 1- to 3-grams as TF-IDF into a softmax layer (language and
      script tasks).
    - sequence: word ids into an embedding, a 1-D convolution and a dense layer (many
      long texts).

    The TF-IDF networks have no hidden layer: on the 3,000 review sentences a hidden
    layer of 16 or 64 units lost 1-2 accuracy points to the softmax layer alone
    (seeds 1 and 2), and the softmax layer ties the logistic-regression reference.

    Args:
        train_texts: the cleaned training texts the vectorizers adapt on.
        n_classes: the number of classes.
        info: `architecture`, `vocabulary_size` and `sequence_length`.
        dropout: dropout rate around the sequence network's dense layer.
    """
    import keras
    from keras import layers, ops

    from core.tables.model import classification_head

    inputs = keras.Input(shape=(1,), dtype="string", name="text")
    text = ops.squeeze(inputs, axis=-1)
    texts = np.asarray(train_texts, dtype=object)
    if info["architecture"] == "sequence":
        vectorizer = _adapted(_vectorizer(info), texts)
        x = _sequence_body(vectorizer(text), len(vectorizer.get_vocabulary()), dropout)
    elif info["architecture"] == "words":
        words = _adapted(_vectorizer(info), texts)
        letters = _adapted(_vectorizer({**info, "architecture": "characters"}), texts)
        x = layers.Concatenate(name="features")(
            [
                layers.UnitNormalization(name="unit_words")(words(text)),
                layers.UnitNormalization(name="unit_characters")(letters(text)),
            ]
        )
    else:
        x = _adapted(_vectorizer(info), texts)(text)
        x = layers.UnitNormalization(name="unit_length")(x)
    outputs = classification_head(x, n_classes)
    return keras.Model(inputs, outputs, name="text_classifier")


def _adapted(vectorizer: Any, texts: np.ndarray) -> Any:
    vectorizer.adapt(texts)
    return vectorizer


def _vectorizer(info: Mapping[str, Any]) -> Any:
    from keras import layers

    size = int(info["vocabulary_size"])
    if info["architecture"] == "words":
        return layers.TextVectorization(
            max_tokens=size, ngrams=2, output_mode="tf_idf", name="words"
        )
    if info["architecture"] == "characters":
        return layers.TextVectorization(
            max_tokens=size,
            standardize="lower",
            split="character",
            ngrams=3,
            output_mode="tf_idf",
            name="characters",
        )
    return layers.TextVectorization(
        max_tokens=size,
        output_mode="int",
        output_sequence_length=int(info["sequence_length"]),
        name="word_ids",
    )


def _sequence_body(ids: Any, vocabulary: int, dropout: float) -> Any:
    from keras import layers

    x = layers.Embedding(vocabulary, EMBEDDING_DIM, name="embedding")(ids)
    x = layers.Conv1D(128, 5, activation="relu", padding="same", name="conv")(x)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout_in")(x)
    x = layers.Dense(HIDDEN_UNITS, activation="relu", name="dense")(x)
    return layers.Dropout(dropout, name="dropout")(x) if dropout else x


def compile_text_model(model: Any, learning_rate: float, steps: int) -> Any:
    """Adam with sparse cross-entropy; no XLA (string ops cannot be compiled).

    Args:
        steps: training steps per epoch; up to 32 of them run per call, which saves
            most of the Python overhead of a small network's step.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=max(1, min(32, steps)),
        jit_compile=False,
    )
    return model
