"""The decision threshold: counts, costs and the stored threshold of a scoring run.

A run "has a decision" when its model gives each row a score (a probability of fraud,
an anomaly score) and a row is flagged when its score is at or above a threshold.
The evaluation report holds the test rows' scores (`report["decision"]`); the run
info holds the live threshold (`info["decision"]`), which every predict path reads.
No Streamlit and no Keras at import: pages call this on every slider move.
Saving a threshold is `core.thresholds.save_threshold` (it re-records the export check).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core import runs
from core.errors import DecisionError, RunError
from core.templates import checks

SET_BY = ("default", "you", "lowest cost")
RELIABILITY_BINS = 10
SWEEP_POINTS = 101


def counts_at(
    scores: Sequence[float], labels: Sequence[int] | None, threshold: float
) -> dict[str, Any]:
    """Counts what a threshold flags on scored rows.

    Args:
        scores: one score per row; a row is flagged when its score >= `threshold`.
        labels: 1 for a true positive row, 0 otherwise; `None` when nobody labelled.
        threshold: the decision threshold.

    Returns:
        `rows`, `flagged`, `flagged_share`, `alerts_per_1000`; with labels also `tp`,
        `fp`, `fn`, `tn`, `precision` and `recall` (None when undefined).
    """
    scores = np.asarray(scores, dtype="float64")
    flagged = scores >= threshold
    rows = len(scores)
    share = float(flagged.mean()) if rows else 0.0
    counts: dict[str, Any] = {
        "rows": rows,
        "flagged": int(flagged.sum()),
        "flagged_share": share,
        "alerts_per_1000": 1000 * share,
    }
    if labels is None:
        return counts
    positive = np.asarray(labels).astype(bool)
    tp, fp = int((flagged & positive).sum()), int((flagged & ~positive).sum())
    fn, tn = int((~flagged & positive).sum()), int((~flagged & ~positive).sum())
    counts.update(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=tp / (tp + fp) if tp + fp else None,
        recall=tp / (tp + fn) if tp + fn else None,
    )
    return counts


def expected_cost(counts: dict[str, Any], cost_miss: float, cost_alert: float) -> float:
    """Returns missed positives * `cost_miss` + alerts * `cost_alert`.

    Raises:
        DecisionError: if the counts have no labels (`fn`) or a cost is not a
            finite number >= 0.
    """
    check_cost("cost_miss", cost_miss)
    check_cost("cost_alert", cost_alert)
    if "fn" not in counts:
        raise DecisionError(
            "Costs need labelled rows: without them nobody knows which rows were missed."
        )
    return counts["fn"] * cost_miss + counts["flagged"] * cost_alert


def _costs(
    scores: np.ndarray,
    labels: np.ndarray,
    thresholds: np.ndarray,
    miss: float,
    alert: float,
) -> np.ndarray:
    """The expected cost at each threshold, from sorted scores (vectorised)."""
    order = np.argsort(scores, kind="stable")
    ranked, positives = scores[order], np.asarray(labels)[order].astype(bool)
    below = np.searchsorted(ranked, thresholds, side="left")  # rows not flagged
    missed = np.concatenate([[0], np.cumsum(positives)])[below]
    return missed * miss + (len(ranked) - below) * alert


def cheapest_threshold(
    scores: Sequence[float], labels: Sequence[int], cost_miss: float, cost_alert: float
) -> float:
    """Returns the threshold with the lowest expected cost on the scored rows.

    Every distinct score is a candidate (flag it and all above), and so is just above
    the highest score (flag nothing); among equal costs the highest threshold wins,
    as it raises fewer alerts.
    """
    check_cost("cost_miss", cost_miss)
    check_cost("cost_alert", cost_alert)
    scores = np.asarray(scores, dtype="float64")
    if not len(scores):
        raise DecisionError("There are no scored rows to choose a threshold from.")
    candidates = np.unique(scores)
    candidates = np.append(candidates, np.nextafter(candidates[-1], np.inf))
    costs = _costs(scores, np.asarray(labels), candidates, cost_miss, cost_alert)
    best = np.flatnonzero(costs == costs.min())[-1]
    return float(candidates[best])


def sweep(
    scores: Sequence[float],
    labels: Sequence[int] | None,
    cost_miss: float | None = None,
    cost_alert: float | None = None,
    points: int = SWEEP_POINTS,
) -> dict[str, list[float]]:
    """Returns alerts per 1,000 (and with labels and costs, the cost) over thresholds.

    The thresholds are `points` evenly spaced values across the scores' range, for a
    chart of the trade-off.
    """
    scores = np.asarray(scores, dtype="float64")
    low, high = score_range(scores)
    grid = np.linspace(low, high, points)
    ranked = np.sort(scores)
    flagged = len(ranked) - np.searchsorted(ranked, grid, side="left")
    found = {
        "threshold": grid.tolist(),
        "alerts_per_1000": (1000 * flagged / max(len(ranked), 1)).tolist(),
    }
    if labels is not None and cost_miss is not None and cost_alert is not None:
        costs = _costs(scores, np.asarray(labels), grid, cost_miss, cost_alert)
        found["cost"] = costs.astype("float64").tolist()
    return found


def score_range(scores: Sequence[float]) -> tuple[float, float]:
    """Returns the lowest and highest score, the range a threshold may take."""
    scores = np.asarray(scores, dtype="float64")
    if not len(scores):
        return 0.0, 1.0
    return float(scores.min()), float(scores.max())


def reliability(
    probabilities: Sequence[float], labels: Sequence[int], bins: int = RELIABILITY_BINS
) -> dict[str, Any]:
    """How well probabilities match how often the event happens (a reliability curve).

    Args:
        probabilities: the predicted probability of the positive class per row.
        labels: 1 when the row is positive, else 0.
        bins: equal-width probability bins.

    Returns:
        Per non-empty bin: `predicted` (mean probability), `observed` (share positive)
        and `rows`; plus `brier` (mean squared error) and `ece` (expected calibration
        error: the rows-weighted mean gap between predicted and observed).
    """
    probabilities = np.clip(np.asarray(probabilities, dtype="float64"), 0.0, 1.0)
    labels = np.asarray(labels, dtype="float64")
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    predicted, observed, rows = [], [], []
    for b in np.unique(index):
        chosen = index == b
        predicted.append(float(probabilities[chosen].mean()))
        observed.append(float(labels[chosen].mean()))
        rows.append(int(chosen.sum()))
    gaps = np.abs(np.array(predicted) - np.array(observed)) * np.array(rows)
    return {
        "predicted": predicted,
        "observed": observed,
        "rows": rows,
        "brier": float(np.mean((probabilities - labels) ** 2)) if len(labels) else 0.0,
        "ece": float(gaps.sum() / max(len(labels), 1)),
    }


def initial_decision(
    threshold: float, positive_label: str, score_name: str
) -> dict[str, Any]:
    """Returns the `info["decision"]` a run starts with: the default threshold."""
    return {
        "threshold": float(threshold),
        "positive_label": str(positive_label),
        "score_name": score_name,
        "set_by": "default",
        "cost_miss": None,
        "cost_alert": None,
    }


def runs_with_decision() -> list[str]:
    """Returns the usable runs (newest first) whose report and info hold a sound decision."""
    return [
        r
        for r in runs.usable_runs()
        if is_sound(
            runs.read_evaluation(r).get("decision"), runs.read_info(r).get("decision")
        )
    ]


def is_sound(report: Any, stored: Any) -> bool:
    """Tells whether a run's `report["decision"]` and `info["decision"]` can be used.

    Scores must be finite numbers, labels (if any) 0 or 1 for each score, the names
    text and the stored threshold a number: a damaged file never reaches the page.
    """
    if not isinstance(report, dict) or not isinstance(stored, dict):
        return False
    scores, labels = report.get("scores"), report.get("labels")
    return (
        isinstance(scores, list)
        and len(scores) > 0
        and all(checks.is_number(v) for v in scores)
        and (
            labels is None
            or (
                isinstance(labels, list)
                and len(labels) == len(scores)
                and all(checks.is_number(v) and v in (0, 1) for v in labels)
            )
        )
        and all(checks.is_text(report.get(k)) for k in ("positive_label", "score_name"))
        and checks.is_number(stored.get("threshold"))
    )


def decision_report(run_id: str) -> dict[str, Any]:
    """Returns the run's `report["decision"]` (test scores and labels).

    Raises:
        DecisionError: for a run whose evaluation holds no sound decision.
        RunError: for an unknown or unfinished run.
    """
    status = runs.read_status(run_id)
    if status.state not in runs.USABLE_STATES:
        raise RunError(
            f"Run `{run_id}` is {status.state}; a threshold can be saved only for a "
            "finished run."
        )
    report = runs.read_evaluation(run_id).get("decision")
    if not is_sound(report, runs.read_info(run_id).get("decision")):
        raise DecisionError(
            f"Run `{run_id}` gives no scores to threshold (it is not a yes/no "
            "classification or an anomaly run)."
        )
    return report


def check_threshold(threshold: Any, scores: Sequence[float]) -> None:
    """Raises DecisionError unless `threshold` lies within the test rows' scores."""
    low, high = score_range(scores)
    if (
        not isinstance(threshold, (int, float))
        or not math.isfinite(threshold)
        or not low <= threshold <= np.nextafter(high, np.inf)  # or flag nothing
    ):
        raise DecisionError(
            "Invalid value for argument `threshold`. Expected a number between "
            f"{low:.6g} and {high:.6g} (the test rows' scores). "
            f"Received: threshold={threshold!r}"
        )


def check_cost(name: str, value: Any) -> None:
    """Raises DecisionError unless the cost called `name` is a finite number >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise DecisionError(
            f"Invalid value for argument `{name}`. Expected a finite number >= 0. "
            f"Received: {name}={value!r}"
        )
