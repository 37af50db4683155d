"""Models: every run in one table; compare, delete, download or import a model."""

import streamlit as st

from core import bundle_import, export, runs
from core.errors import UserError
from pages.ui import charts
from pages.ui.model_list import ids_table, models_table
from pages.ui.runs import download_buttons, format_downloads, pick_run, run_label
from pages.ui.state import ACTIVE_RUN_ID, remember
from pages.ui.text import plain
from pages.ui.widgets import show_metrics

st.title("Models")

# 1. All runs.
run_ids = runs.list_runs()
if run_ids:
    st.dataframe(models_table(run_ids), hide_index=True)
    with st.expander("Run ids, for the command line"):
        st.dataframe(ids_table(run_ids), hide_index=True)
else:
    st.info("No runs yet. Train a model, or import a bundle below.")
for damaged in filter(runs.run_problem, run_ids):
    st.warning(
        plain(
            f"Run {damaged} is damaged: {runs.run_problem(damaged)}. Delete it below."
        ),
        icon=":material/broken_image:",
    )

# 2. Compare two runs side by side.
if len(run_ids) >= 2:
    with st.expander("Compare two runs", icon=":material/compare_arrows:"):
        for column, default in zip(st.columns(2), (0, 1), strict=True):
            with column:
                run_id = st.selectbox(
                    "Run",
                    run_ids,
                    index=default,
                    format_func=run_label,
                    key=f"_w_compare_{default}",
                )
                evaluation = runs.read_evaluation(run_id)
                if evaluation:
                    show_metrics(
                        evaluation, key=f"_w_compare_table_{default}", meanings=False
                    )
                metrics = runs.read_metrics(run_id)
                if not metrics.empty:
                    chart = charts.learning_curves(metrics)
                    st.plotly_chart(chart, key=f"_w_compare_chart_{default}")

# 3. Download a model, checked in a fresh process first.
st.subheader("Download")
run_id = pick_run(
    "Run to download", runs.usable_runs(), key="_w_export_run", follow=False
)
if run_id:
    if st.button("Prepare download", icon=":material/package_2:"):
        with st.spinner("Building the bundle and checking it in a fresh process…"):
            try:
                export.build_bundle(run_id)
            except UserError as err:
                st.error(plain(err))
    check = export.read_export_check(run_id)
    if check:
        alert = st.success if check.get("ok") else st.error
        alert(plain(check.get("message", "")), icon=":material/verified:")
        download_buttons(run_id)
    st.caption("Other formats, for servers and phones:")
    format_downloads(run_id, ("savedmodel", "tflite", "onnx"))

# 4. Delete a run, with a confirmation step.
st.subheader("Delete")
if run_ids:
    doomed = st.selectbox(
        "Run to delete", run_ids, format_func=run_label, key="_w_delete_run"
    )
    sure = st.checkbox(
        "Yes, delete this run and its files for good", key="_w_delete_sure"
    )
    if st.button(
        "Delete run", type="primary", disabled=not sure, icon=":material/delete:"
    ):
        try:
            runs.delete_run(doomed)
        except UserError as err:
            st.error(plain(err))
        else:
            st.session_state.pop("_w_delete_sure")  # confirm again for the next one
            st.toast(f"Deleted run {doomed}.", icon=":material/delete:")
            st.rerun()

# 5. Import a bundle downloaded from this app.
st.subheader("Import")
with st.form("_w_import_form", clear_on_submit=True):
    bundle = st.file_uploader("Bundle (.zip)", type=["zip"], key="_w_bundle")
    submitted = st.form_submit_button("Import", icon=":material/upload:")
if submitted and bundle is not None:
    try:
        new_id = bundle_import.import_bundle(bundle.getvalue(), bundle.name)
    except UserError as err:
        st.error(plain(err))
    else:
        remember(ACTIVE_RUN_ID, new_id)
        st.success(f"Imported as run `{new_id}`. It is ready on the Predict page.")
        st.page_link(
            "pages/predict.py",
            label="Predict with it",
            icon=":material/online_prediction:",
        )
