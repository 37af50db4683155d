"""The word-level language model: vocabulary, streamed windows, network, fast suggester.

The saved model takes raw text (shape `(n,)` strings) and holds its tokenizer and
vocabulary (a `TextVectorization` layer), so it needs no code beside it. Its outputs:
`sequence` (the next-word distribution after every word; what it trains on),
`distribution` (after the last word), `next_words` and `probabilities` (the top k).
Keras and TensorFlow are imported inside functions.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from core.corpus.bundle import RESERVED, START, TOP_K

UNKNOWN = "xxunk"  # a word outside the vocabulary, written into training windows
EVAL_BATCH = 16
WEIGHT_DECAY = 0.05
MAX_BATCHES_PER_EPOCH = 200


def build_vocabulary(
    documents: list[list[str]], max_size: int, min_count: int
) -> list[str]:
    """The training words seen at least `min_count` times, most frequent first."""
    counts = Counter(w for doc in documents for w in doc)
    for marker in (START, UNKNOWN):
        counts.pop(marker, None)
    return [w for w, c in counts.most_common(max_size) if c >= min_count]


def encode(documents: list[list[str]], words: list[str]) -> list[np.ndarray]:
    """Word ids per document: the vocabulary's words from RESERVED on, 1 for unknown."""
    index = {w: i + RESERVED for i, w in enumerate(words)}
    return [
        np.array([index.get(w, 1) for w in doc], dtype=np.int32) for doc in documents
    ]


def choose_network(n_words: int) -> tuple[int, str]:
    """GRU width by corpus size, and the sentence that says why."""
    units = 128 if n_words < 50_000 else 256 if n_words < 1_000_000 else 512
    return units, (
        f"A word-level recurrent network (embedding, then a GRU of {units} units) reads "
        f"the text; its size suits a corpus of {n_words:,} training words (a small "
        "causal transformer needs far more text than this to beat it)."
    )


def window_starts(
    documents: list[np.ndarray], context: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flat id array and each window's (start, end): half-overlapping, per document.

    Windows never cross a document, so suggestions never run across files or rows.
    """
    flat = np.concatenate(documents) if documents else np.zeros(0, np.int32)
    starts, ends, offset = [], [], 0
    step = max(1, context // 2)
    for ids in documents:
        n = len(ids)
        local = list(range(0, max(n - context, 0) + 1, step))
        if local[-1] + context < n:  # the document's last words are targets too
            local.append(n - context)
        starts += [offset + s for s in local if s < n]
        ends += [offset + min(s + context, n) for s in local if s < n]
        offset += n
    return flat, np.array(starts, np.int64), np.array(ends, np.int64)


def make_dataset(
    documents: list[np.ndarray],
    words: list[str],
    context: int,
    batch: int,
    seed: int | None,
) -> Any:
    """Streams (text window, next-word ids) batches; windows are cut on the fly.

    Only the flat id array and the window starts are held in memory; each window is
    written out as text (START then its words) as the pipeline reaches it. On a big
    corpus an epoch is `MAX_BATCHES_PER_EPOCH` batches of the (reshuffled) stream, so
    progress, early stopping and the time budget act every few minutes, not hours.
    """
    import tensorflow as tf

    flat, starts, ends = window_starts(documents, context)
    table = tf.constant(["", UNKNOWN, START, *words])
    ids = tf.constant(flat)

    def _window(start: Any, end: Any) -> tuple[Any, Any]:
        targets = ids[start:end]
        inputs = tf.concat([[2], targets[:-1]], axis=0)
        text = tf.strings.reduce_join(tf.gather(table, inputs), separator=" ")
        return text, targets

    dataset = tf.data.Dataset.from_tensor_slices((starts, ends))
    if seed is not None:
        dataset = dataset.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True)
    if len(starts) > MAX_BATCHES_PER_EPOCH * batch:  # a big corpus: epochs of a slice
        dataset = dataset.repeat().take(MAX_BATCHES_PER_EPOCH * batch)
    dataset = dataset.map(_window, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.padded_batch(batch, padded_shapes=([], [None]))
    return dataset.map(lambda x, y: (x, {"sequence": y})).prefetch(tf.data.AUTOTUNE)


def build_model(
    words: list[str],
    units: int,
    embedding: int,
    dropout: float,
    k: int = TOP_K,
) -> Any:
    """Raw text in; the next-word distribution and the top `k` words out."""
    import keras
    from keras import layers, ops

    vectorize = layers.TextVectorization(vocabulary=[START, *words], name="vectorize")
    size = len(words) + RESERVED
    text = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorize(text)
    x = layers.Embedding(size, embedding, mask_zero=True, name="embedding")(ids)
    x = layers.Dropout(dropout, name="dropout_in")(x)
    x = layers.GRU(units, return_sequences=True, dropout=0.0, name="gru")(x)
    x = layers.Dropout(dropout, name="dropout_out")(x)
    logits = layers.Dense(size, dtype="float32", name="logits")(x)
    sequence = layers.Activation("softmax", dtype="float32", name="sequence")(logits)
    last = sequence[:, -1, :]  # padding repeats the last word's output
    top_p, top_i = ops.top_k(last[:, RESERVED:], k=min(k, len(words)))
    lookup = layers.StringLookup(
        vocabulary=words, invert=True, num_oov_indices=0, name="next_words"
    )
    outputs = {
        "sequence": sequence,
        "distribution": layers.Identity(name="distribution")(last),
        "next_words": lookup(top_i),
        "probabilities": layers.Identity(name="probabilities")(top_p),
    }
    return keras.Model(text, outputs, name="next_word")


def compile_model(model: Any, learning_rate: float) -> Any:
    """AdamW with clipped gradients; the loss reads only the `sequence` output.

    Weight decay 0.05 and dropout 0.5 were the best of the settings tried on Alice
    (validation top-5 accuracy; the held-out end was not used to choose).
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate, weight_decay=WEIGHT_DECAY, clipnorm=1.0
        ),
        loss={"sequence": "sparse_categorical_crossentropy"},
        jit_compile=False,
    )
    return model


def eval_windows(
    documents: list[np.ndarray], context: int
) -> list[tuple[np.ndarray, int, np.ndarray]]:
    """Held-out chunks: (input ids with START, first scored position, target ids).

    Each chunk scores up to `context` words and also reads up to `context` words
    before them, so every scored word (but a document's first ones) has context.
    """
    chunks = []
    for ids in documents:
        for start in range(0, len(ids), context):
            before = max(0, start - context)
            targets = ids[start : start + context]
            inputs = np.concatenate([[2], ids[before : start + len(targets) - 1]])
            chunks.append((inputs, start - before, targets))
    return chunks


def score_model(
    model: Any, documents: list[np.ndarray], words: list[str], context: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each held-out word among the model's suggestions, and its probability.

    Positions come in the order of `core.corpus.ngram.positions`.
    """
    table = np.array(["", UNKNOWN, START, *words], dtype=object)
    chunks = eval_windows(documents, context)
    ranks, probas = [], []
    for first in range(0, len(chunks), EVAL_BATCH):
        batch = chunks[first : first + EVAL_BATCH]
        texts = np.array([" ".join(table[c[0]]) for c in batch], dtype=object)
        sequence = model.predict_on_batch(texts)["sequence"]
        for row, (_, skip, targets) in enumerate(batch):
            proba = sequence[row, skip : skip + len(targets)]
            actual = proba[np.arange(len(targets)), targets]
            higher = (proba[:, RESERVED:] > actual[:, None]).sum(axis=1)
            ranks.append(np.where(targets < RESERVED, len(table), higher))
            probas.append(actual)
    if not ranks:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(ranks), np.concatenate(probas).astype("float64")


class FastModel:
    """A loaded model whose calls are compiled once, for per-keystroke suggestions.

    It answers `predict_on_batch` and `get_layer` like the Keras model, so the
    bundle's `suggest` and `continue_text` take it as they take the model.
    """

    def __init__(self, model: Any) -> None:
        import tensorflow as tf

        self.model = model
        self._call = tf.function(
            lambda text: model(text, training=False),
            input_signature=[tf.TensorSpec([None], tf.string)],
            reduce_retracing=True,
        )
        self._words = list(model.get_layer("vectorize").get_vocabulary())

    def predict_on_batch(self, texts: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs for a batch of texts, as numpy arrays."""
        import tensorflow as tf

        outputs = self._call(tf.constant(list(texts), dtype=tf.string))
        return {name: value.numpy() for name, value in outputs.items()}

    def get_layer(self, name: str) -> Any:
        """The model's layer called `name`."""
        return self.model.get_layer(name)

    @property
    def words(self) -> list[str]:
        """The vocabulary, read once."""
        return self._words
