"""Results: how good is the model, honestly, and what did it learn from."""

import streamlit as st

from core import runs
from pages import _charts, _forecast, _images, _ui
from pages._text import plain

st.title("Results")

# 1. Which run.
run_id = _ui.pick_run("Run", runs.list_runs(), key="_w_results_run")
if not run_id:
    st.info("No runs yet. Train a model first.")
    st.page_link(
        "pages/train.py", label="Go to Train", icon=":material/model_training:"
    )
    st.stop()

# 2. Its report (written by the worker after training).
evaluation = runs.read_evaluation(run_id)
if not evaluation:
    status = runs.read_status(run_id)
    if status.state == "failed":
        st.error(plain(status.error))
    else:
        st.info(f"This run is {status.state}; its report appears when training ends.")
        _ui.live_progress(run_id)
    st.stop()
if evaluation.get("task") == "forecasting":
    _forecast.render_results(run_id, evaluation)
    st.stop()
if evaluation.get("data_kind") == "images":
    _images.render_results(run_id, evaluation)
    st.stop()

# 3. The verdict in plain words first.
_ui.show_summary(evaluation)

st.subheader("Scores on the test rows")
st.caption(
    f"{evaluation.get('n_test', 0):,} rows held out from training. The baseline always "
    "gives the most common answer (or the average); the gradient-boosting reference "
    f"took {evaluation.get('reference_fit_seconds', 0):.1f} s to train on the same rows."
)
_ui.show_metrics(evaluation)

# 4. Task-specific charts.
if "confusion_matrix" in evaluation:
    left, right = st.columns(2)
    left.plotly_chart(_charts.confusion_matrix(evaluation))
    right.plotly_chart(_charts.roc_curves(evaluation))
    left.plotly_chart(_charts.pr_curves(evaluation))
    with right:
        st.markdown("**Per class**")
        three = st.column_config.NumberColumn(format="%.3f")
        st.dataframe(
            evaluation.get("per_class", []),
            column_config={"precision": three, "recall": three, "f1": three},
            hide_index=True,
        )
elif "actual" in evaluation:
    left, right = st.columns(2)
    left.plotly_chart(_charts.predicted_vs_actual(evaluation))
    right.plotly_chart(_charts.residuals(evaluation))

# 5. What the model relies on, and how it learned.
if evaluation.get("importance"):
    st.plotly_chart(_charts.importance(evaluation))
metrics = runs.read_metrics(run_id)
if not metrics.empty:
    st.plotly_chart(_charts.learning_curves(metrics))
