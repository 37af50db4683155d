"""Saving a run's decision threshold, and the export check that follows it.

The threshold maths live in `core.decision` (bottom layer); saving one sits above
the modalities because the run's export check is recorded again with the run's
template, so a later download is compared with what the app now predicts.
"""

from __future__ import annotations

from core import decision, prediction, runs


def save_threshold(
    run_id: str,
    threshold: float,
    *,
    set_by: str,
    cost_miss: float | None = None,
    cost_alert: float | None = None,
) -> None:
    """Stores a new threshold with the run; every predict path uses it from now on.

    The export check is recorded again with the new threshold, and a bundle built
    before is removed (it holds the old threshold): the next download rebuilds it.

    Args:
        run_id: a finished run whose evaluation holds a decision.
        threshold: within the range of the test rows' scores.
        set_by: "default", "you" or "lowest cost".
        cost_miss: what a missed positive costs (optional, >= 0).
        cost_alert: what checking an alert costs (optional, >= 0).

    Raises:
        DecisionError: for a run without a decision or a value out of range.
        RunError: for an unknown or unfinished run.
    """
    report = decision.decision_report(run_id)
    decision.check_threshold(threshold, report["scores"])
    if set_by not in decision.SET_BY:
        raise decision.DecisionError(
            f"Invalid value for argument `set_by`. Expected one of {list(decision.SET_BY)}. "
            f"Received: set_by={set_by!r}"
        )
    for name, cost in (("cost_miss", cost_miss), ("cost_alert", cost_alert)):
        if cost is not None:
            decision.check_cost(name, cost)
    info = runs.read_info(run_id)
    info["decision"] = {
        **info["decision"],
        "threshold": float(threshold),
        "set_by": set_by,
        "cost_miss": None if cost_miss is None else float(cost_miss),
        "cost_alert": None if cost_alert is None else float(cost_alert),
    }
    runs.write_json_atomic(runs.run_dir(run_id) / runs.INFO_FILE, info)
    _refresh_export(run_id)


def _refresh_export(run_id: str) -> None:
    """Re-records the export check with the new threshold; drops a stale bundle."""
    folder = runs.run_dir(run_id)
    (folder / runs.BUNDLE_FILE).unlink(missing_ok=True)
    (folder / runs.EXPORT_CHECK_FILE).unlink(missing_ok=True)
    prediction.rerecord_check(run_id)
