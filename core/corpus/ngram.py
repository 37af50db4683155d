"""The baselines a search box uses without a neural network: frequent words, and n-grams.

Both take documents as arrays of word ids (0 padding, 1 unknown, 2 the start marker,
then the vocabulary) and score every position of held-out documents the same way the
model is scored: is the next word among the top 1 / top k suggestions, and how much
probability was given to it (for perplexity). Counts live in sorted numpy arrays, so
a 10 MB corpus fits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.corpus.bundle import RESERVED, TOP_K

START_ID = 2
DISCOUNT = 0.75


@dataclass(frozen=True)
class Scores:
    """Per held-out position: rank of the actual word among suggestions, its probability."""

    rank: np.ndarray  # 0 = first suggestion; TOP_K or more = not among the top k
    proba: np.ndarray

    def summary(self) -> dict[str, float]:
        """top1_accuracy, top5_accuracy and perplexity."""
        return {
            "top5_accuracy": float(np.mean(self.rank < TOP_K)),
            "top1_accuracy": float(np.mean(self.rank < 1)),
            "perplexity": float(
                np.exp(-np.mean(np.log(np.maximum(self.proba, 1e-12))))
            ),
        }


def positions(documents: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (two words before, word before, word) of the documents, each after START."""
    u, v, w = [], [], []
    for ids in documents:
        seq = np.concatenate([[0, START_ID], ids]).astype(np.int64)
        u.append(seq[:-2])
        v.append(seq[1:-1])
        w.append(seq[2:])
    if not u:
        return (np.zeros(0, np.int64),) * 3
    return np.concatenate(u), np.concatenate(v), np.concatenate(w)


class FrequentWords:
    """Always suggests the most frequent words; probabilities are add-one word counts."""

    def __init__(self, documents: list[np.ndarray], size: int) -> None:
        counts = np.bincount(positions(documents)[2], minlength=size).astype(float)
        self.proba = (counts + 1) / (counts.sum() + size)
        ranked = np.argsort(-self.proba[RESERVED:], kind="stable") + RESERVED
        self.rank_of = np.full(size, size, dtype=np.int64)
        self.rank_of[ranked] = np.arange(len(ranked))

    def score(self, documents: list[np.ndarray]) -> Scores:
        """Ranks and probabilities of each held-out word."""
        target = positions(documents)[2]
        return Scores(self.rank_of[target], self.proba[target])


class NGram:
    """An interpolated trigram with absolute discounting and a Kneser-Ney unigram.

    p(w | u v) = max(c(uvw) - D, 0) / c(uv) + D N(uv) / c(uv) · p(w | v), and the same
    for p(w | v) down to the unigram of how many words each word follows. A context
    never seen falls back (backs off) to the shorter one.
    """

    def __init__(self, documents: list[np.ndarray], size: int) -> None:
        self.size = size
        u, v, w = positions(documents)
        self.tri = _Counts((u * size + v) * size + w, size)
        self.bi = _Counts(v * size + w, size)
        followers = np.unique(v * size + w) % size
        continuation = np.bincount(followers, minlength=size).astype(float) + 0.1
        continuation[:RESERVED] = 0.0
        continuation[1] = 0.1 * (w == 1).sum()  # unknown words, for the perplexity
        self.unigram = continuation / continuation.sum()
        order = np.argsort(-self.unigram[RESERVED:], kind="stable") + RESERVED
        self.top_unigram = order[: TOP_K + 1]

    def _proba(self, u: int, v: int, words: np.ndarray) -> np.ndarray:
        proba = self.unigram[words]
        for counts, context in ((self.bi, v), (self.tri, u * self.size + v)):
            proba = counts.interpolate(context, words, proba)
        return proba

    def score(self, documents: list[np.ndarray]) -> Scores:
        """Ranks and probabilities of each held-out word, given the two before it."""
        u, v, w = positions(documents)
        ranks = np.empty(len(w), dtype=np.int64)
        probas = np.empty(len(w))
        for i in range(len(w)):
            ranks[i], probas[i] = self._rank(int(u[i]), int(v[i]), int(w[i]))
        return Scores(ranks, probas)

    def suggest(self, u: int, v: int, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
        """The k most likely next word ids after (u, v), with their probabilities."""
        candidates = self._candidates(u, v)
        proba = self._proba(u, v, candidates)
        order = np.argsort(-proba, kind="stable")[:k]
        return candidates[order], proba[order]

    def _candidates(self, u: int, v: int) -> np.ndarray:
        """Every word that can rank in the top k: seen after (u, v) or v, or frequent."""
        seen = [self.tri.followers(u * self.size + v), self.bi.followers(v)]
        words = np.unique(np.concatenate([*seen, self.top_unigram]))
        return words[words >= RESERVED]

    def _rank(self, u: int, v: int, w: int) -> tuple[int, float]:
        candidates = self._candidates(u, v)
        proba = self._proba(u, v, candidates)
        actual = float(self._proba(u, v, np.array([w]))[0])
        if w < RESERVED:
            return self.size, actual
        return int((proba > actual).sum()), actual


class _Counts:
    """Counts of (context, word) pairs, keyed context * size + word, sorted."""

    def __init__(self, keys: np.ndarray, size: int) -> None:
        self.size = size
        self.keys, self.counts = np.unique(keys, return_counts=True)
        contexts, starts = np.unique(self.keys // size, return_index=True)
        self.contexts, self.starts = contexts, starts
        self.ends = np.append(starts[1:], len(self.keys))
        totals = np.add.reduceat(self.counts, starts) if len(starts) else starts
        self.totals = totals

    def _span(self, context: int) -> tuple[int, int, int]:
        at = int(np.searchsorted(self.contexts, context))
        if at == len(self.contexts) or self.contexts[at] != context:
            return -1, 0, 0
        return at, int(self.starts[at]), int(self.ends[at])

    def followers(self, context: int) -> np.ndarray:
        """Word ids seen after `context`."""
        _, start, end = self._span(context)
        return self.keys[start:end] % self.size

    def interpolate(
        self, context: int, words: np.ndarray, lower: np.ndarray
    ) -> np.ndarray:
        """Discounted counts after `context`, plus the left-over mass times `lower`."""
        at, start, end = self._span(context)
        if at < 0:
            return lower  # never seen: back off to the shorter context
        total = float(self.totals[at])
        seen = self.keys[start:end] % self.size
        where = np.clip(np.searchsorted(seen, words), 0, max(len(seen) - 1, 0))
        counts = np.where(seen[where] == words, self.counts[start:end][where], 0)
        discounted = np.maximum(counts - DISCOUNT, 0.0) / total
        return discounted + DISCOUNT * (end - start) / total * lower
