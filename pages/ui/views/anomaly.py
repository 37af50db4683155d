"""Views for anomaly runs: what was flagged and why, and scoring new rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core import prediction, runs
from core.errors import UserError
from pages.ui import charts
from pages.ui.cache import load_model_cached
from pages.ui.forms import row_form
from pages.ui.glossary import show_meanings
from pages.ui.text import people_table, plain
from pages.ui.widgets import (
    csv_download,
    score_csv_upload,
    scores_columns,
    show_fixes_asked,
    show_summary,
)


def results_view(run_id: str, evaluation: dict[str, Any]) -> None:
    """The check against labels (if any), the flagged test rows and why, the curves."""
    show_summary(evaluation)
    show_fixes_asked(run_id)
    if evaluation.get("reference"):
        st.subheader("Against the known anomalies")
        table = pd.DataFrame(
            {
                "ours": evaluation.get("metrics", {}),
                "random score": evaluation.get("baseline", {}),
                "isolation forest reference": evaluation["reference"],
            }
        ).dropna()
        st.dataframe(people_table(table), column_config=scores_columns(table))
        show_meanings(table.index)
    st.subheader("Most unusual test rows")
    st.caption(
        "Score: the row's reconstruction error in times the usual error (1 is a "
        "typical row). Move the threshold on the Threshold page."
    )
    flagged = evaluation.get("flagged_rows", [])
    if flagged:
        st.dataframe(people_table(pd.DataFrame(flagged)), hide_index=True)
    else:
        st.info("No test row reaches the threshold.")
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def predict_view(run_id: str, info: dict[str, Any]) -> None:
    """One row typed into the form, or a CSV scored and sorted, most unusual first."""
    st.subheader("One row")
    row = row_form(info.get("schema", []), "_w_anomaly_form", "Score")
    if row is not None:
        _score_row(run_id, row)
    st.subheader("Score a CSV file")
    scored = score_csv_upload(run_id, info, "_w_anomaly_upload")
    if scored is None:
        return
    count = int((scored["anomaly"] == "yes").sum())
    st.caption(f"{len(scored):,} rows scored, {count:,} flagged. Most unusual first:")
    st.dataframe(people_table(scored.head(50)), hide_index=True)
    csv_download(scored, "scored.csv", "Download scored rows (CSV)")


def _score_row(run_id: str, row: dict[str, Any]) -> None:
    try:
        model = load_model_cached(run_id)
        result, _ = prediction.predict_frame(run_id, pd.DataFrame([row]), model=model)
    except UserError as err:
        st.error(plain(err))
        return
    scored = result.iloc[0]
    flagged = scored["anomaly"] == "yes"
    st.metric("Anomaly score", f"{scored['anomaly_score']:.2f}")
    alert = st.warning if flagged else st.success
    verdict = "Flagged as unusual" if flagged else "Not flagged"
    alert(f"{verdict}: {plain(scored['why'])}.")
