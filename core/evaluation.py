"""The judging toolkit every report uses: verdict, reference comparison, words.

`verdict` says whether a model beats its baseline beyond the noise of the test set and
`compare_with_reference` compares it with a reference the same way (a paired, or block,
bootstrap); `judged` gives both as a report holds them. Beside them: numbers and
intervals written for people. Everything returned is JSON-ready. Each kind's own report
(e.g. `core.tables.report`) calls these; the scores themselves are `core.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sklearn import metrics as skm

AP_RESAMPLES = 400
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_CHUNK_CELLS = 2_000_000
MIN_BLOCKS = 5  # fewer independent blocks than this: the interval is the values' range
SHARES = ("accuracy", "balanced_accuracy")  # per-row scores whose mean is a share
METRICS = (*SHARES, "mae")  # the per-row metrics `verdict` judges


def verdict(
    ours: np.ndarray,
    baseline: np.ndarray,
    *,
    metric: str,
    baseline_text: str,
    baseline_name: str = "guessing",
    rows: str = "test rows",
    block: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Says whether the model beats the baseline beyond the noise of the test set.

    The one place where every template's headline is decided. Differences are a
    paired bootstrap over the same test rows (a moving-block bootstrap when
    `block` > 1, for overlapping forecast windows); accuracy also gets an exact
    binomial interval, and beats the baseline only when both intervals agree.

    Args:
        ours: the model's score per test row: 1/0 for right/wrong (`metric="accuracy"`),
            that weighted by `balanced_weights` (`metric="balanced_accuracy"`) or its
            absolute error (`metric="mae"`).
        baseline: the baseline's score per test row, in the same order.
        metric: `"accuracy"`, `"balanced_accuracy"` (higher is better) or `"mae"`
            (lower is better).
        baseline_text: the baseline in plain words, e.g. "always answering `no`".
        baseline_name: the baseline in a word or two for the headline.
        rows: what the test rows are, e.g. "test pictures".
        block: bootstrap block length; 1 for independent rows.
        seed: seed of the bootstrap, so the verdict is repeatable.

    Returns:
        JSON-ready: `beats_baseline`, `interval` (of the model's score), `difference`
        (interval of the gain over the baseline), `sentence`, `headline`,
        `baseline_text` and `rows` (as given, for other pages' words) and more.
    """
    ours, baseline = _paired_scores(ours, baseline, metric)
    n = len(ours)
    value, base = (float(np.mean(v)) if n else 0.0 for v in (ours, baseline))
    interval, gain, beats = _intervals(ours, baseline, metric, block, seed)
    outcome = "better" if beats else "worse" if gain[1] < 0 else "unclear"
    result = {
        "beats_baseline": bool(beats),
        "interval": interval,
        "sentence": "",
        "outcome": outcome,
        "metric": metric,
        "value": value,
        "baseline_value": base,
        "difference": gain,
        "confidence": CONFIDENCE,
        "n": n,
        "method": _method(metric, block, n),
        "baseline_text": baseline_text,
        "rows": rows,
    }
    result["sentence"], result["headline"] = _verdict_words(
        result, baseline_text, baseline_name, rows
    )
    return result


def _intervals(
    ours: np.ndarray, baseline: np.ndarray, metric: str, block: int, seed: int
) -> tuple[list[float], list[float], bool]:
    """The model's score interval, the gain's interval, and whether it beats the base."""
    sign = 1.0 if metric in SHARES else -1.0
    gain = _bootstrap_interval(sign * (ours - baseline), block, seed)
    if metric == "accuracy":
        interval = _binomial_interval(int(ours.sum()), len(ours))
        return interval, gain, gain[0] > 0 and interval[0] > float(np.mean(baseline))
    interval = _bootstrap_interval(ours, block, seed)
    if metric == "balanced_accuracy":  # a share: a resample's weighted mean may pass 1
        interval = [max(0.0, interval[0]), min(1.0, interval[1])]
    return interval, gain, gain[0] > 0


def compare_with_reference(
    ours: np.ndarray,
    reference: np.ndarray,
    *,
    metric: str,
    reference_text: str,
    block: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Compares the model with a reference the same way: a paired bootstrap of the gap.

    Args:
        ours: the model's score per test row (see `verdict`).
        reference: the reference's score per test row, in the same order.
        metric: one of `METRICS`.
        reference_text: the reference in plain words, e.g. "a gradient-boosting model".
        block: bootstrap block length; 1 for independent rows.
        seed: seed of the bootstrap.

    Returns:
        `winner` ("ours", "reference" or "same"), `difference` (interval of the
        reference's gain over ours), `value`, `ours` and `sentence`.
    """
    ours, reference = _paired_scores(ours, reference, metric)
    sign = 1.0 if metric in SHARES else -1.0
    gap = _bootstrap_interval(sign * (reference - ours), block, seed)
    winner = "reference" if gap[0] > 0 else "ours" if gap[1] < 0 else "same"
    theirs, mine = (float(np.mean(v)) if len(v) else 0.0 for v in (reference, ours))
    result = {
        "winner": winner,
        "difference": gap,
        "value": theirs,
        "ours": mine,
        "metric": metric,
    }
    result["sentence"] = _reference_words(result, reference_text)
    return result


def judged(
    scores: Mapping[str, np.ndarray],
    *,
    metric: str,
    baseline_text: str,
    reference_text: str,
    rows: str = "test rows",
    seed: int = 0,
) -> dict[str, Any]:
    """The verdict against the baseline and the comparison with the reference.

    The pair every report with a baseline and a reference holds, judged on the
    same test rows with the same seed.

    Args:
        scores: per-test-row scores of the model, the baseline and the reference
            under "ours", "base" and "ref" (see `verdict`).
        metric: one of `METRICS` (see `verdict`).
        baseline_text: the baseline in plain words, e.g. "always answering `no`".
        reference_text: the reference in plain words, e.g. "a gradient-boosting model".
        rows: what the test rows are, e.g. "test texts".
        seed: seed of the bootstraps.

    Returns:
        `verdict` (see `verdict`) and `reference_comparison` (see
        `compare_with_reference`), ready to merge into a report.
    """
    return {
        "verdict": verdict(
            scores["ours"],
            scores["base"],
            metric=metric,
            baseline_text=baseline_text,
            rows=rows,
            seed=seed,
        ),
        "reference_comparison": compare_with_reference(
            scores["ours"],
            scores["ref"],
            metric=metric,
            reference_text=reference_text,
            seed=seed,
        ),
    }


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-row weights that turn right/wrong (1/0) into balanced accuracy.

    Each row weighs `n / (classes * rows of its class)`, so the mean of the weighted
    1/0 scores is the mean recall over the classes present: scikit-learn's
    `balanced_accuracy_score`. Pass the weighted scores to `verdict` with
    `metric="balanced_accuracy"`.

    Args:
        labels: the true class of each test row.

    Returns:
        One weight per row, in the same order.
    """
    _, index, counts = np.unique(
        np.asarray(labels), return_inverse=True, return_counts=True
    )
    return len(index) / (len(counts) * counts[index])


def average_precision_judged(
    labels: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    baseline_text: str,
    reference_text: str,
    seed: int = 0,
) -> dict[str, Any]:
    """The verdict and the reference comparison on average precision.

    A paired bootstrap: each resample of the test rows scores all three models.

    Args:
        labels: True for the rows of the class to find.
        scores: each model's score of that class per test row, under "ours", "base"
            and "ref".
        baseline_text: the baseline in plain words.
        reference_text: the reference in plain words.
        seed: seed of the bootstrap.

    Returns:
        `verdict` and `reference_comparison`, as `judged` gives them.
    """
    draws = _ap_draws(labels, scores, seed)
    value = {
        name: float(skm.average_precision_score(labels, values))
        for name, values in scores.items()
    }
    gain = _quantiles(draws["ours"] - draws["base"])
    outcome = "better" if gain[0] > 0 else "worse" if gain[1] < 0 else "unclear"
    found = {
        "beats_baseline": bool(gain[0] > 0),
        "interval": _quantiles(draws["ours"]),
        "outcome": outcome,
        "metric": "average_precision",
        "value": value["ours"],
        "baseline_value": value["base"],
        "difference": gain,
        "confidence": CONFIDENCE,
        "n": len(labels),
        "method": f"{CONFIDENCE:.0%} intervals: a paired bootstrap over the same test rows",
        "baseline_text": baseline_text,
        "rows": "test rows",
    }
    found["sentence"], found["headline"] = _verdict_words(
        found, baseline_text, "guessing", "test rows"
    )
    gap = _quantiles(draws["ref"] - draws["ours"])
    comparison = {
        "winner": "reference" if gap[0] > 0 else "ours" if gap[1] < 0 else "same",
        "difference": gap,
        "value": value["ref"],
        "ours": value["ours"],
        "metric": "average_precision",
    }
    comparison["sentence"] = _reference_words(comparison, reference_text)
    return {"verdict": found, "reference_comparison": comparison}


def _ap_draws(
    labels: np.ndarray, scores: Mapping[str, np.ndarray], seed: int
) -> dict[str, np.ndarray]:
    """Average precision of each model on the same bootstrap resamples of the rows.

    Resamples holding one class only (no precision-recall curve) are skipped.
    """
    rng = np.random.default_rng(seed)
    n, drawn = len(labels), {name: [] for name in scores}
    for _ in range(AP_RESAMPLES):
        rows = rng.integers(0, n, n)
        if labels[rows].all() or not labels[rows].any():
            continue
        for name, values in scores.items():
            drawn[name].append(skm.average_precision_score(labels[rows], values[rows]))
    return {name: np.array(values) for name, values in drawn.items()}


def _quantiles(values: np.ndarray) -> list[float]:
    if not len(values):
        return [0.0, 0.0]
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return [float(low), float(high)]


def _paired_scores(
    ours: np.ndarray, other: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    if metric not in METRICS:
        raise ValueError(
            f"Invalid value for argument `metric`. Expected one of {list(METRICS)}. "
            f"Received: metric={metric!r}"
        )
    ours, other = np.asarray(ours, "float64"), np.asarray(other, "float64")
    kept = np.isfinite(ours) & np.isfinite(other)
    return ours[kept], other[kept]


def _binomial_interval(successes: int, n: int) -> list[float]:
    """Exact (Clopper-Pearson) interval of a proportion."""
    from scipy.stats import binomtest

    if not n:
        return [0.0, 1.0]
    found = binomtest(successes, n).proportion_ci(confidence_level=CONFIDENCE)
    return [float(found.low), float(found.high)]


def _bootstrap_interval(values: np.ndarray, block: int, seed: int) -> list[float]:
    """Percentile interval of the mean of `values` under a (block) bootstrap.

    With fewer than two rows nothing is known: the interval spans 0 and the mean.
    """
    n = len(values)
    if n < 2:
        mean = float(values.mean()) if n else 0.0
        return [min(0.0, mean), max(0.0, mean)]
    if n // block < MIN_BLOCKS:  # a bootstrap of 1-4 blocks would be near zero width
        return [float(values.min()), float(values.max())]
    means = _bootstrap_means(values, max(1, min(block, n)), seed)
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return [float(low), float(high)]


def _bootstrap_means(values: np.ndarray, block: int, seed: int) -> np.ndarray:
    """Means of resamples made of blocks of `block` neighbouring rows."""
    rng = np.random.default_rng(seed)
    n = len(values)
    blocks = -(-n // block)
    offsets = np.arange(block)
    chunk = max(1, BOOTSTRAP_CHUNK_CELLS // (blocks * block))
    means = []
    for start in range(0, BOOTSTRAP_RESAMPLES, chunk):
        count = min(chunk, BOOTSTRAP_RESAMPLES - start)
        starts = rng.integers(0, n - block + 1, size=(count, blocks))
        index = (starts[:, :, None] + offsets).reshape(count, -1)[:, :n]
        means.append(values[index].mean(axis=1))
    return np.concatenate(means)


def _method(metric: str, block: int, n: int) -> str:
    how = (
        f"a block bootstrap ({block} neighbouring forecasts per block, as their "
        "windows overlap)"
        if block > 1
        else "a paired bootstrap over the same test rows"
    )
    if n // block < MIN_BLOCKS:
        how = (
            f"the full range of the {n} test values, as they hold fewer than "
            f"{MIN_BLOCKS} independent blocks (too few for a bootstrap)"
        )
    exact = (
        "an exact binomial interval for accuracy and " if metric == "accuracy" else ""
    )
    return f"{CONFIDENCE:.0%} intervals: {exact}{how}"


def _score_text(metric: str, value: float) -> str:
    if metric == "average_precision":
        return f"{value:.2f}"
    return f"{value:.0%}" if metric in SHARES else number_text(value)


def number_text(value: float) -> str:
    """Formats a number for people: 2,385 rather than 2.38e+03; 24.7; 0.0123."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _range_text(metric: str, interval: list[float]) -> str:
    """Formats an interval: 40–66% for accuracy, 2.6–3.7 for errors."""
    low, high = interval
    if metric == "average_precision":
        return f"{low:.2f}–{high:.2f}"
    if metric in SHARES:
        return f"{low * 100:.0f}–{high:.0%}"
    return f"{number_text(low)}–{number_text(high)}"


def _verdict_words(
    result: Mapping[str, Any], baseline_text: str, baseline_name: str, rows: str
) -> tuple[str, str]:
    """The headline sentence and its short form, e.g. "53% (40–66%) — no better ...".

    The words never contradict the interval they show. When the interval of the
    model's score alone tells another story than the paired test (e.g. 46–61%
    against a baseline's 45%, yet the gain row by row may be none), the sentence
    also gives the interval of the gain, and the headline shows that one instead.
    """
    metric, outcome = result["metric"], result["outcome"]
    value = _score_text(metric, result["value"])
    base = _score_text(metric, result["baseline_value"])
    spread = _range_text(metric, result["interval"])
    agrees = _interval_agrees(result)
    judged = {
        "better": "clearly better than",
        "worse": "worse than",
        "unclear": "no better than" if agrees else "not clearly better than",
    }[outcome]
    score, base_score = _score_words(metric, value, base, baseline_text)
    gain = _gain_text(metric, result["difference"])
    if agrees:
        noise = (
            ", and the difference is within the noise of the test set"
            if outcome == "unclear"
            else ""
        )
    else:
        after = {
            "better": "clear of zero",
            "worse": "a loss beyond the noise of the test set",
            "unclear": "so it may be no gain at all (within the noise of the test set)",
        }[outcome]
        noise = (
            f"; but compared row by row on the same {rows}, its gain is likely "
            f"{gain}, {after}"
        )
    sentence = (
        f"{score} (likely {spread}, from {result['n']} {rows}) — {judged} "
        f"{baseline_name}: {base_score}{noise}."
    )
    shown = {
        "accuracy": value,
        "balanced_accuracy": f"balanced accuracy {value}",
        "average_precision": f"average precision {value}",
    }.get(metric, f"off by {value}")
    if not agrees:
        return sentence, f"{shown} — {judged} {baseline_name} (gain likely {gain})"
    return sentence, f"{shown} ({spread}) — {judged} {baseline_name}"


def _score_words(
    metric: str, value: str, base: str, baseline_text: str
) -> tuple[str, str]:
    """The model's score and the baseline's, in words, e.g. "Right 53% of the time"."""
    if metric == "average_precision":
        return f"Average precision {value}", f"{baseline_text} scores {base}"
    if metric == "accuracy":
        return (
            f"Right {value} of the time",
            f"{baseline_text} is right {base} of the time",
        )
    if metric == "balanced_accuracy":
        return f"Balanced accuracy {value}", f"{baseline_text} scores {base}"
    return (
        f"Off by {value} on average",
        f"{baseline_text} is off by {base} on average",
    )


def _interval_agrees(result: Mapping[str, Any]) -> bool:
    """Whether the interval of the score alone tells the verdict's story.

    Clearly better: the whole interval is better than the baseline's score; worse:
    the whole interval is worse; unclear: the interval is not wholly better.
    """
    low, high = result["interval"]
    base = result["baseline_value"]
    if result["metric"] == "mae":  # lower is better
        better, worse = high < base, low > base
    else:
        better, worse = low > base, high < base
    return {"better": better, "worse": worse}.get(result["outcome"], not better)


def _gain_text(metric: str, gain: list[float]) -> str:
    """The interval of the gain over the baseline: "−6 to +22 points" for accuracy."""
    scale, written, unit = {
        "accuracy": (100, "{:.0f}".format, " points"),
        "balanced_accuracy": (100, "{:.0f}".format, " points"),
        "average_precision": (1, "{:.2f}".format, ""),
    }.get(metric, (1, number_text, " less error"))
    low, high = (_signed(value * scale, written) for value in gain)
    return f"{low} to {high}{unit}"


def _signed(value: float, written: Callable[[float], str]) -> str:
    """A gain with its sign: +22, −6, and 0 (no sign) where it rounds to zero."""
    text = written(abs(value))
    if not text.strip("0.,"):
        return text
    return f"{'−' if value < 0 else '+'}{text}"


def _reference_words(result: Mapping[str, Any], reference_text: str) -> str:
    metric = result["metric"]
    theirs, ours = (_score_text(metric, result[k]) for k in ("value", "ours"))
    scores = {
        "accuracy": f"right {theirs} of the time against our {ours}",
        "balanced_accuracy": f"balanced accuracy {theirs} against our {ours}",
        "average_precision": f"average precision {theirs} against our {ours}",
    }.get(metric, f"an average error of {theirs} against our {ours}")
    if result["winner"] == "reference":
        return (
            f"Honest note: {reference_text} trained on the same rows does better "
            f"({scores}), beyond the noise of the test set; for this data it is the "
            "stronger choice."
        )
    if result["winner"] == "ours":
        return f"The model beats {reference_text} trained on the same rows ({scores})."
    return (
        f"{reference_text[0].upper()}{reference_text[1:]} trained on the same rows "
        f"does about the same ({scores}; the gap is within the noise of the test set)."
    )
