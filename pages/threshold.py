"""Threshold: from which score on is a row flagged? Counts, costs, and the saved choice."""

import streamlit as st

from core import decision
from pages.ui.runs import pick_run
from pages.ui.views.threshold import threshold_view

st.title("Threshold")

# 1. A finished run whose model scores rows (yes/no classification, anomalies).
run_id = pick_run("Run", decision.runs_with_decision(), key="_w_threshold_run")
if not run_id:
    st.info(
        "No run gives scores to threshold yet. Train a yes/no classification (e.g. "
        "fraud or not) or an anomaly detector first."
    )
    st.stop()

# 2. The slider, what it flags and costs, and the Save buttons.
threshold_view(run_id)
