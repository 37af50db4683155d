"""The n-gram and a word cache inside the saved model, mixed with the network.

The interpolated trigram of `core.corpus.ngram` is stored as constant tables in
built-in layers (an `IntegerLookup` of the word pairs seen, non-trainable
`Embedding`s of each context's followers), so the `.keras` file still loads in safe
mode with no code beside it. The cache is how often each word was already read in
the text given (names and topics repeat). The model's suggestions are
`a · network + b · n-gram + c · cache`, the shares fitted on the validation text.
Keras and TensorFlow are imported inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.corpus.bundle import RESERVED
from core.corpus.ngram import DISCOUNT, Counts, NGram

BIGRAM_FOLLOWERS = 64  # followers kept per context; the rest's mass backs off
TRIGRAM_FOLLOWERS = 16
WEIGHT_LAYER = "mixture_weight"  # holds the shares of the network, n-gram and cache
# The shares (network, n-gram, cache) tried on the validation text; (1, 0, 0) is the
# network alone.
SHARES = tuple(
    (network, round(1.0 - network - cache, 2), cache)
    for network in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    for cache in (0.0, 0.05, 0.1, 0.15, 0.2)
    if network + cache <= 1.0
)
START_SHARES = (0.6, 0.3, 0.1)


@dataclass(frozen=True)
class Tables:
    """One context order: row 0 is "never seen" (no followers, everything backs off)."""

    keys: np.ndarray  # the contexts seen (rows 1..), in row order
    followers: np.ndarray  # (rows, limit) word ids
    mass: np.ndarray  # (rows, limit) their discounted probabilities
    backoff: np.ndarray  # (rows, 1) the share left to the shorter context


def tables(counts: Counts, limit: int) -> Tables:
    """The discounted followers of each context, the `limit` most seen of them.

    Each row lists its followers in increasing order after the empty places (word 0).
    A dropped follower's discounted probability is added to the back-off share, so
    every row still sums to one with the shorter context's distribution.
    """
    rows = len(counts.contexts) + 1
    followers = np.zeros((rows, limit), np.float32)
    mass = np.zeros((rows, limit), np.float32)
    backoff = np.ones((rows, 1), np.float32)
    for at, (start, end) in enumerate(zip(counts.starts, counts.ends, strict=True)):
        total = float(counts.totals[at])
        found = np.maximum(counts.counts[start:end] - DISCOUNT, 0.0) / total
        kept = np.sort(np.argsort(-found, kind="stable")[:limit])  # keys are sorted
        followers[at + 1, limit - len(kept) :] = (
            counts.keys[start:end][kept] % counts.size
        )
        mass[at + 1, limit - len(kept) :] = found[kept]
        backoff[at + 1] = 1.0 - found[kept].sum()
    return Tables(counts.contexts, followers, mass, backoff)


class NGramLayers:
    """The n-gram's tables as non-trainable layers; call it on (u, v) word ids, shape (n,).

    `pending` holds the (layer, weights) pairs to set once the model is built.
    """

    def __init__(self, ngram: NGram) -> None:
        from keras import layers

        self.size = ngram.size
        unigram = ngram.unigram[None].astype(np.float32)
        self.unigram = layers.Embedding(
            1, self.size, trainable=False, name="ngram_unigram"
        )
        self.pending: list[tuple[Any, list[np.ndarray]]] = [(self.unigram, [unigram])]
        trigram = tables(ngram.tri, TRIGRAM_FOLLOWERS)
        self.pairs = layers.IntegerLookup(
            vocabulary=trigram.keys.astype(np.int64),
            num_oov_indices=1,
            name="ngram_pairs",
        )
        self.bigram = self._layers(
            "ngram_bigram", by_word(tables(ngram.bi, BIGRAM_FOLLOWERS), self.size)
        )
        self.trigram = self._layers("ngram_trigram", trigram)

    def _layers(self, name: str, table: Tables) -> list[Any]:
        from keras import layers

        made = []
        for part in ("followers", "mass", "backoff"):
            values = getattr(table, part)
            layer = layers.Embedding(
                len(values), values.shape[1], trainable=False, name=f"{name}_{part}"
            )
            self.pending.append((layer, [values]))
            made.append(layer)
        return made

    def __call__(self, u: Any, v: Any) -> Any:
        """The next-word distribution after each (u, v): shape (n, size)."""
        from keras import ops

        proba = self.unigram(ops.zeros_like(v))
        for made, row in (
            (self.bigram, v),
            (self.trigram, self.pairs(u * self.size + v)),
        ):
            followers, mass, backoff = (layer(row) for layer in made)
            proba = _dense_rows(followers, mass, self.size) + backoff * proba
        return proba


def _dense_rows(followers: Any, mass: Any, size: int) -> Any:
    """Rows of `size` probabilities from each row's (follower, mass) pairs.

    A sorted segment sum: each row's followers are stored in increasing order (the
    empty places, word 0, first), and a last zero at the final place sets the length.
    """
    from keras import ops

    row = ops.cumsum(ops.ones_like(followers[:, :1], dtype="int64"), axis=0) - 1
    places = ops.reshape(row * size + ops.cast(followers, "int64"), (-1,))
    end = ops.reshape(ops.max(row) * size + size - 1, (1,))
    data = ops.concatenate([ops.reshape(mass, (-1,)), ops.zeros((1,), mass.dtype)])
    found = ops.segment_sum(data, ops.concatenate([places, end]), sorted=True)
    return ops.reshape(found, (-1, size))


def mix(ids: Any, sequence: Any, ngram: NGram) -> tuple[Any, Any, list]:
    """The network's `sequence` mixed with the n-gram and the cache of words read so far.

    Returns the mixture after every word (`(batch * words, size)` rows), after each
    text's last word (`(batch, size)`), and the (layer, weights) pairs to set.
    """
    from keras import layers, ops

    size = ngram.size
    counts = NGramLayers(ngram)
    share = layers.Embedding(1, 3, trainable=False, name=WEIGHT_LAYER)
    v = ops.cast(ids, "int64")
    u = ops.pad(v, [[0, 0], [1, 0]])[:, :-1]
    word = ops.cast(
        ops.logical_or(ops.greater_equal(ids, RESERVED), ops.equal(ids, 1)), "float32"
    )
    hot = ops.one_hot(ids, size) * word[:, :, None]
    counted = counts(ops.reshape(u, (-1,)), ops.reshape(v, (-1,)))
    cache = _cache(ops.cumsum(hot, axis=1), ops.cumsum(word, axis=1), counted, size)
    mixed = _weighted(share, ops.reshape(sequence, (-1, size)), counted, cache)
    real = ops.cast(ops.not_equal(ids, 0), "int64")
    is_last = real * ops.cast(
        ops.equal(ops.cumsum(real, axis=1), ops.sum(real, axis=1, keepdims=True)),
        "int64",
    )
    last_v, last_u = (ops.sum(x * is_last, axis=1) for x in (v, u))
    network = ops.sum(sequence * ops.cast(is_last, "float32")[:, :, None], axis=1)
    counted = counts(last_u, last_v)
    cache = _cache(ops.sum(hot, axis=1), ops.sum(word, axis=1), counted, size)
    last = _weighted(share, network, counted, cache)
    start = np.array([START_SHARES], np.float32)
    return mixed, last, [*counts.pending, (share, [start])]


def _cache(running: Any, seen: Any, counted: Any, size: int) -> Any:
    """How often each word was read so far, as rows of probabilities (the n-gram's
    where no word was read yet)."""
    from keras import ops

    running = ops.reshape(running, (-1, size))
    seen = ops.reshape(seen, (-1, 1))
    return ops.where(seen > 0, running / ops.maximum(seen, 1.0), counted)


def _weighted(share: Any, network: Any, counted: Any, cache: Any) -> Any:
    """The rows mixed by the shares held in the `share` layer."""
    from keras import ops

    shares = share(ops.zeros_like(network[:, 0], dtype="int32"))
    return shares[:, 0:1] * network + shares[:, 1:2] * counted + shares[:, 2:3] * cache


def by_word(table: Tables, size: int) -> Tables:
    """The same table with one row per word id (the context word), for a direct lookup."""
    rows = np.asarray(table.keys, np.int64)
    followers = np.zeros((size, table.followers.shape[1]), np.float32)
    mass = np.zeros_like(followers)
    backoff = np.ones((size, 1), np.float32)
    followers[rows], mass[rows], backoff[rows] = (
        table.followers[1:],
        table.mass[1:],
        table.backoff[1:],
    )
    return Tables(np.arange(size), followers, mass, backoff)
