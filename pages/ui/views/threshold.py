"""The threshold view: a slider over the decision threshold, live counts and costs, Save.

It reads only what the run's report and info hold under "decision" (any template
that scores rows: yes/no classification, anomaly detection), never the template.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import decision, runs, thresholds
from core.errors import UserError
from pages.ui import charts
from pages.ui.glossary import MEANINGS, NOTES
from pages.ui.text import format_value, plain

SLIDER_STEPS = 1000


def threshold_view(run_id: str) -> None:
    """Slider, confusion counts, precision, recall, alerts, costs and the Save buttons."""
    report = runs.read_evaluation(run_id)["decision"]
    stored = runs.read_info(run_id)["decision"]
    scores, labels = report["scores"], report.get("labels")
    heading = st.empty()  # filled after the Save buttons: shows a value saved this run
    costs = _cost_inputs(run_id, stored, labels)
    cheapest = decision.cheapest_threshold(scores, labels, *costs) if costs else None
    threshold = _slider(run_id, scores, stored["threshold"])
    counts = decision.counts_at(scores, labels, threshold)
    _show_counts(counts, costs)
    sweep = decision.sweep(scores, labels, *(costs or (None, None)))
    st.plotly_chart(charts.threshold_tradeoff(sweep, threshold, cheapest))
    if cheapest is not None:
        cost = decision.expected_cost(
            decision.counts_at(scores, labels, cheapest), *costs
        )
        st.info(
            f"Lowest expected cost: {format_value(cost)} at threshold "
            f"{format_value(cheapest)}.",
            icon=":material/savings:",
        )
    _save_buttons(run_id, threshold, cheapest, costs)
    _heading(heading, report, runs.read_info(run_id)["decision"])
    if report.get("reliability"):
        _reliability(report["reliability"])


def _heading(place: Any, report: dict[str, Any], stored: dict[str, Any]) -> None:
    place.caption(
        f"Each row gets a {plain(report['score_name'])}; rows at or above the "
        f"threshold are flagged as `{plain(report['positive_label'])}`. Counts are on "
        f"the {len(report['scores']):,} test rows. Saved threshold: "
        f"{format_value(stored['threshold'])} (set by {stored['set_by']})."
    )


def _reliability(curve: dict[str, Any]) -> None:
    st.plotly_chart(charts.reliability(curve))
    before = (
        f" Calibrated on the validation rows: before, the calibration error was "
        f"{curve['ece_before']:.3f} and the Brier score {curve['brier_before']:.3f}."
        if "ece_before" in curve
        else ""
    )
    st.caption(
        f"How far the probabilities can be trusted (test rows, Brier score "
        f"{curve['brier']:.3f}). {NOTES['reliability']}" + before
    )


def _slider(run_id: str, scores: list[float], saved: float) -> float:
    low, high = decision.score_range(scores)
    if high <= low:  # one score for every row: nothing to slide over
        return low
    return st.slider(
        "Threshold",
        min_value=low,
        max_value=high,
        value=min(max(float(saved), low), high),
        step=(high - low) / SLIDER_STEPS,
        format="%.4f",
        key=f"_w_threshold_{run_id}",
    )


def _cost_inputs(
    run_id: str, stored: dict[str, Any], labels: list[int] | None
) -> tuple[float, float] | None:
    """The user's two costs, or None without labels (nobody knows what was missed)."""
    if labels is None:
        st.info(
            "These rows have no labels, so the page shows how many rows are flagged; "
            "costs need labels (which rows really were positive).",
            icon=":material/info:",
        )
        return None
    left, right = st.columns(2)
    miss = left.number_input(
        "Cost of a missed positive",
        min_value=0.0,
        value=float(stored.get("cost_miss") or 500.0),
        key=f"_w_cost_miss_{run_id}",
    )
    alert = right.number_input(
        "Cost of checking an alert",
        min_value=0.0,
        value=float(stored.get("cost_alert") or 5.0),
        key=f"_w_cost_alert_{run_id}",
    )
    return miss, alert


def _show_counts(counts: dict[str, Any], costs: tuple[float, float] | None) -> None:
    cells = st.columns(4)
    cells[0].metric("Flagged", f"{counts['flagged']:,} of {counts['rows']:,}")
    cells[1].metric(
        "Alerts per 1,000 rows",
        format_value(counts["alerts_per_1000"]),
        help=MEANINGS["alerts_per_1000"],
    )
    if "tp" not in counts:
        cells[2].metric(
            "Flagged share",
            f"{counts['flagged_share']:.1%}",
            help=MEANINGS["flagged_share"],
        )
        return
    for cell, name in zip(cells[2:], ("precision", "recall"), strict=True):
        cell.metric(
            name.capitalize(), format_value(counts[name], 3), help=MEANINGS[name]
        )
    st.dataframe(
        {
            "": ["really positive", "really negative"],
            "flagged": [counts["tp"], counts["fp"]],
            "not flagged": [counts["fn"], counts["tn"]],
        },
        hide_index=True,
    )
    if costs:
        cost = decision.expected_cost(counts, *costs)
        st.metric("Expected cost on the test rows", format_value(cost))


def _save_buttons(
    run_id: str,
    threshold: float,
    cheapest: float | None,
    costs: tuple[float, float] | None,
) -> None:
    """Save the slider's threshold, or the lowest-cost one; Predict uses it at once."""
    miss, alert = costs or (None, None)
    left, right = st.columns(2)
    chosen = None
    if left.button("Save this threshold", type="primary", icon=":material/save:"):
        chosen = (threshold, "you")
    if cheapest is not None and right.button(
        "Save the lowest-cost threshold", icon=":material/savings:"
    ):
        chosen = (cheapest, "lowest cost")
    if chosen is None:
        return
    try:
        with st.spinner("Saving and re-checking the export…"):
            thresholds.save_threshold(
                run_id, chosen[0], set_by=chosen[1], cost_miss=miss, cost_alert=alert
            )
    except UserError as err:
        st.error(plain(err))
        return
    st.success(
        f"Saved threshold {format_value(chosen[0])}: Predict, the command line and "
        "new downloads use it now.",
        icon=":material/check_circle:",
    )
