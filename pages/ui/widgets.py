"""Small display pieces every kind shares: findings, the verdict, scores, CSV download."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core import fixes, runs, safe_csv
from core.errors import UserError
from core.findings import Finding, FindingGroup, group_findings
from pages.ui import charts
from pages.ui.cache import score_csv_cached
from pages.ui.glossary import LABELS, NOTES, show_meanings
from pages.ui.state import FIXES, get
from pages.ui.text import people_table, plain, sentence

LEVEL_ALERTS = {
    "error": (st.error, ":material/error:"),
    "warning": (st.warning, ":material/warning:"),
    "info": (st.info, ":material/info:"),
}


def show_findings(
    findings: list[Finding],
    actions: Callable[[FindingGroup, int], None] | None = None,
) -> None:
    """One error/warning/info box per kind of finding: the problem, then its fix once.

    A kind found in several columns names them in its box, at its worst level; what
    was found in each column (rows, values) is listed in an expander below the box.

    Args:
        findings: the data check's findings.
        actions: draws what a person can do about a group (e.g. a fix button) under
            its box: `actions(group, position)`.
    """
    for position, group in enumerate(group_findings(findings)):
        alert, icon = LEVEL_ALERTS[group.level]
        alert(f"**{sentence(group.headline)}**  \n{sentence(group.fix)}", icon=icon)
        if len(group.findings) > 1:
            with st.expander("What was found in each column"):
                st.markdown("\n".join(f"- {sentence(line)}" for line in group.details))
        if actions:
            actions(group, position)


def show_fixes_asked(run_id: str) -> None:
    """The data check's fixes the run applied, as "You asked: ..." lines (if any)."""
    params = runs.read_spec(run_id).get("params")
    chosen = params.get("fixes") if isinstance(params, dict) else None
    try:
        lines = fixes.asked_lines(fixes.check_fixes(chosen or []))
    except UserError:  # a damaged spec: nothing to say
        return
    if lines:
        st.info(
            "  \n".join(sentence(line) for line in lines)
            + "  \nThe file you uploaded was not changed.",
            icon=":material/build:",
        )


def fixes_for(template: Any) -> list[dict[str, str]]:
    """The fixes chosen in the data check, where the template applies them ([] if not)."""
    return list(get(FIXES, [])) if template.applies_fixes else []


def show_fixes_chosen(template: Any) -> None:
    """Train page: the data check's fixes the training will apply (or that it will not)."""
    chosen = get(FIXES, [])
    if not chosen:
        return
    listed = "; ".join(sentence(fixes.describe(fix)) for fix in chosen)
    if not template.applies_fixes:
        st.caption(
            f"{plain(template.title)} does not use the fixes chosen in the data check "
            f"({listed})."
        )
        return
    st.info(
        f"**Fixes from the data check**: {listed}. The file you uploaded stays as it "
        "is; undo them on the Data page.",
        icon=":material/build:",
    )


def show_summary(evaluation: dict[str, Any], icon: str = ":material/balance:") -> None:
    """The verdict first, then the comparisons; an honest note is a warning.

    The green check is kept for a model that beats its baseline beyond the noise of
    the test set; anything else is a warning (or neutral, for reports without one).
    """
    summary = evaluation.get("summary", [])
    verdict = evaluation.get("verdict")
    verdict = verdict if isinstance(verdict, dict) else {}
    if summary:
        beats = verdict.get("beats_baseline")
        if beats is True:
            st.success(sentence(summary[0]), icon=":material/check_circle:")
        elif beats is None:
            st.info(sentence(summary[0]), icon=icon)
        else:
            st.warning(sentence(summary[0]), icon=":material/help:")
        if verdict.get("method"):
            st.caption(f"How sure: {plain(verdict['method'])}. {NOTES['interval']}")
    for line in summary[1:]:
        alert = st.warning if line.startswith("Honest note") else st.info
        alert(sentence(line), icon=icon)


def warn_if_no_better(evaluation: dict[str, Any]) -> None:
    """One warning when the run's verdict says the model did not beat its baseline.

    Shown above a model's answers, which otherwise read as confident as any.
    """
    verdict = evaluation.get("verdict")
    if not isinstance(verdict, dict) or verdict.get("beats_baseline") is not False:
        return
    baseline, rows = (
        verdict.get(key) if isinstance(verdict.get(key), str) else default
        for key, default in (("baseline_text", "guessing"), ("rows", "test rows"))
    )
    judged = (
        "worse than" if verdict.get("outcome") == "worse" else "not clearly better than"
    )
    st.warning(
        sentence(
            f"This model was {judged} {baseline} on its {rows}: treat its answers "
            "with care."
        ),
        icon=":material/warning:",
    )


def metrics_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Our model, the baseline and the gradient-boosting reference side by side."""
    columns = {
        "ours": evaluation.get("metrics", {}),
        "baseline": evaluation.get("baseline", {}),
        "gradient boosting reference": evaluation.get("reference", {}),
    }
    table = pd.DataFrame(columns)
    table.index = [LABELS.get(name, name) for name in table.index]
    return table


def scores_columns(table: pd.DataFrame) -> dict[str, Any]:
    """Column settings that fit a scores table on a phone (390 px): narrow columns.

    The score names get 150 px (a long one ends in "…"; its meaning is listed below
    the table), each score 64 px, and a reference's long name shows as "reference"
    with the full name on hover. Wider screens share out the room left.
    """
    config: dict[str, Any] = {"_index": st.column_config.Column(width=150)}
    for column in map(str, table.columns):
        short = "reference" if column.endswith(" reference") else column
        config[column] = st.column_config.Column(
            short, width=64, help=column if short != column else None
        )
    return config


def metric_keys(evaluation: dict[str, Any]) -> list[str]:
    """The metric keys `metrics_table` shows, in its row order."""
    parts = ("metrics", "baseline", "reference")
    return list(pd.DataFrame({p: evaluation.get(p, {}) for p in parts}).index)


def show_metrics(
    evaluation: dict[str, Any], key: str | None = None, meanings: bool = True
) -> None:
    """The scores table, then what its scores mean in plain words.

    Args:
        evaluation: the run's test report.
        key: the table's widget key.
        meanings: False inside an expander, where another expander cannot go.
    """
    table = metrics_table(evaluation)
    st.dataframe(people_table(table), key=key, column_config=scores_columns(table))
    if meanings:
        show_meanings(metric_keys(evaluation))


def show_classification_results(
    evaluation: dict[str, Any], heading: str, scores: pd.DataFrame
) -> None:
    """A classifier's verdict, its scores, and the confusion matrix beside each class.

    The views of texts and of pictures lay their results out this way, then add their
    own sections (mistakes, top words, saliency) below.

    Args:
        evaluation: the run's test report.
        heading: the title over the scores, e.g. "Scores on the test texts".
        scores: the scores table to show (`metrics_table`, with the view's columns).
    """
    show_summary(evaluation, icon=":material/info:")
    st.subheader(heading)
    st.dataframe(people_table(scores), column_config=scores_columns(scores))
    show_meanings(metric_keys(evaluation))
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion_matrix(evaluation))
    with right:
        st.markdown("**Per class**")
        st.dataframe(evaluation.get("per_class", []), hide_index=True)


def pick_mistakes(evaluation: dict[str, Any], noun: str, key: str) -> list[dict]:
    """The "Mistakes" heading and a picker of a confusion-matrix cell; its examples.

    Args:
        evaluation: a classifier's test report, with `misclassified` per cell.
        noun: what was classified, plural ("texts", "pictures").
        key: the widget key of the picker.

    Returns:
        The misclassified examples of the chosen cell ([] when there were none).
    """
    st.subheader("Mistakes")
    cells = evaluation.get("misclassified", {})
    if not cells:
        st.success(f"Every test {noun.removesuffix('s')} was classified correctly.")
        return []
    labels = {f"{cell} ({len(shown)} {noun})": cell for cell, shown in cells.items()}
    chosen = st.selectbox(
        "Confusion-matrix cell (actual → predicted)",
        list(labels),
        format_func=plain,
        key=key,
    )
    return cells[labels[chosen]]


def csv_download(
    table: pd.DataFrame, file_name: str, label: str, key: str | None = None
) -> None:
    """A download button for a table as CSV; no rerun on click."""
    st.download_button(
        label,
        safe_csv.to_csv(table).encode(),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=key,
    )


def score_csv_upload(
    run_id: str, info: dict[str, Any], key: str
) -> pd.DataFrame | None:
    """A CSV uploader scored by the run: the scored rows, or None (nothing or an error).

    The reason a file cannot be scored is shown as an error, each warning beneath.
    """
    file = st.file_uploader("CSV file to score", type=["csv"], key=key)
    if file is None:
        return None
    try:
        scored, warnings = score_csv_cached(
            run_id, file.getvalue(), file.name, info.get("decision")
        )
    except UserError as err:
        st.error(plain(err))
        return None
    for warning in warnings:
        st.warning(plain(warning))
    return scored
