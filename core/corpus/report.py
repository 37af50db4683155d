"""The held-out report: the model beside frequent words and an n-gram, on the same words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core import evaluation
from core.corpus import bundle
from core.corpus.model import score_model
from core.corpus.ngram import FrequentWords, NGram, Scores, positions
from core.templates.base import Prepared

BLOCK = 25  # neighbouring words are not independent: bootstrap blocks of ~ a sentence
N_EXAMPLES = 8
EXAMPLE_WORDS = 12
NGRAM_TEXT = "an n-gram suggester with backoff (it reads the last two words)"
FREQUENT_TEXT = "always suggesting the 5 most frequent words"


def corpus_report(model: Any, prepared: Prepared, seed: int) -> dict[str, Any]:
    """Top-1 and top-5 accuracy and perplexity of the model and both baselines.

    The n-gram and the frequent words count the same training text the model learned
    from, and all three are scored on the same held-out words: the end of the corpus.
    """
    info, test = prepared.info, prepared.test.inputs
    words = list(info["words"])
    size = len(words) + bundle.RESERVED
    known = prepared.train.raw
    ours = Scores(*score_model(model, test, words, int(info["context"])))
    ngram = NGram(known, size)
    scored = {
        "ours": ours,
        "ngram": ngram.score(test),
        "frequent": FrequentWords(known, size).score(test),
    }
    hits = {name: (s.rank < bundle.TOP_K).astype(float) for name, s in scored.items()}
    report = {
        "task": "next_word",
        "data_kind": "corpus",
        "metrics": ours.summary(),
        "baseline": scored["ngram"].summary(),
        "baselines": {"most frequent words": scored["frequent"].summary()},
        "verdict": _verdict(
            hits["ours"], hits["ngram"], NGRAM_TEXT, "the n-gram", seed
        ),
        "frequent_verdict": _verdict(
            hits["ours"], hits["frequent"], FREQUENT_TEXT, "frequent words", seed
        ),
        "n_test": int(len(ours.rank)),
        "unknown_share": float(np.mean(positions(test)[2] == 1))
        if len(ours.rank)
        else 0.0,
        "model_note": info["model_note"],
        "examples": examples(model, ngram, test, words),
    }
    report["summary"] = summarize(report)
    return report


def _verdict(
    ours: np.ndarray, other: np.ndarray, text: str, name: str, seed: int
) -> dict[str, Any]:
    """Top-5 accuracy per held-out word, judged by the engine (block bootstrap)."""
    return evaluation.verdict(
        ours,
        other,
        metric="accuracy",
        baseline_text=text,
        baseline_name=name,
        rows="held-out words (right = among the 5 suggestions)",
        block=BLOCK,
        seed=seed,
    )


def examples(
    model: Any, ngram: NGram, documents: list[np.ndarray], words: list[str]
) -> list[dict[str, Any]]:
    """A few held-out places: the words before, the actual next word, both top-5 lists."""
    table = ["", "?", bundle.START, *words]
    spots = [(d, i) for d, ids in enumerate(documents) for i in range(2, len(ids))]
    if not spots:
        return []
    picked = np.linspace(0, len(spots) - 1, min(N_EXAMPLES, len(spots))).astype(int)
    rows = []
    for d, i in (spots[p] for p in picked):
        ids = documents[d]
        before = " ".join(table[t] for t in ids[max(0, i - EXAMPLE_WORDS) : i])
        found = bundle.ranked(table, bundle.distribution(model, before))
        ngram_ids, _ = ngram.suggest(int(ids[i - 2]), int(ids[i - 1]))
        rows.append(
            {
                "text": before,
                "actual": table[ids[i]],
                "model": [w for w, _ in found],
                "ngram": [table[int(t)] for t in ngram_ids],
            }
        )
    return rows


def summarize(report: Mapping[str, Any]) -> list[str]:
    """Plain sentences: the verdict against the n-gram, then frequent words, then more."""
    ours, ngram = report["metrics"], report["baseline"]
    return [
        report["verdict"]["sentence"],
        report["frequent_verdict"]["sentence"],
        f"Perplexity {ours['perplexity']:.0f} against the n-gram's "
        f"{ngram['perplexity']:.0f} (lower is better: how many words it hesitates "
        "between, on average). The first suggestion was right "
        f"{ours['top1_accuracy']:.0%} of the time (n-gram {ngram['top1_accuracy']:.0%}).",
        f"{report['unknown_share']:.1%} of the held-out words are outside the vocabulary "
        "and count as misses for every suggester.",
        report["model_note"],
    ]
