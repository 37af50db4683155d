"""Predict: try a trained model on new inputs (the view of the run's kind)."""

import streamlit as st

from core import runs
from core.errors import RunError
from pages.ui import kinds, widgets
from pages.ui.runs import pick_run
from pages.ui.text import plain

st.title("Predict")

# 1. A finished run with a model.
run_id = pick_run("Model", runs.usable_runs(), key="_w_predict_run")
if not run_id:
    st.info("No trained model yet. Train one, or import a bundle on the Models page.")
    st.stop()

# 2. A word of care when the model did not beat its baseline.
widgets.warn_if_no_better(runs.read_evaluation(run_id))

# 3. Inputs and predictions, drawn by the view of the run's kind.
try:
    kinds.views_for(runs.run_kind(run_id)).predict(run_id, runs.load_info(run_id))
except RunError as err:  # a file of the run went missing or was damaged
    st.error(plain(err))
