"""Results: how good is the model, honestly, and what did it learn from."""

import streamlit as st

from core import runs
from core.errors import RunError
from core.formats import OTHER_FORMATS
from pages.ui import kinds
from pages.ui.runs import download_model, format_downloads, live_progress, pick_run
from pages.ui.text import plain

st.title("Results")

# 1. Which run.
run_id = pick_run("Run", runs.list_runs(), key="_w_results_run")
if not run_id:
    st.info("No runs yet. Train a model first.")
    st.page_link(
        "pages/train.py", label="Go to Train", icon=":material/model_training:"
    )
    st.stop()

# 2. Its report (written by the worker after training).
status = runs.read_status(run_id)
if not runs.read_evaluation(run_id) and status.state != "completed":
    if status.state == "failed":
        st.error(plain(status.error))
    else:
        st.info(f"This run is {status.state}; its report appears when training ends.")
        live_progress(run_id, rerun_when_done=True)
    st.stop()

# 3. The model, ready to download (prepared by the worker right after training).
download_model(run_id)

# 4. The report, drawn by the view of the run's kind.
try:
    evaluation = runs.load_evaluation(run_id)
    kinds.views_for(runs.run_kind(run_id)).results(run_id, evaluation)
except RunError as err:  # a file of the run went missing or was damaged
    st.error(plain(err))
    st.stop()

# 5. Other formats, converted and checked when asked for.
st.subheader("Other ways to use the model")
format_downloads(run_id, OTHER_FORMATS)
