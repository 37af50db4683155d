"""Predict: try a trained model on one row you type in, or score a whole CSV."""

import pandas as pd
import streamlit as st

from core import data, export, runs
from pages import _charts, _forecast, _images, _ui
from pages._text import plain

st.title("Predict")

# 1. A finished run with a model.
run_id = _ui.pick_run("Model", _ui.usable_runs(), key="_w_predict_run")
if not run_id:
    st.info("No trained model yet. Train one, or import a bundle on the Models page.")
    st.stop()
info = runs.read_info(run_id)
target = info.get("target", "target")
if info.get("task") == "forecasting":
    _forecast.render_predict(run_id, info)
    st.stop()
if _images.is_image_run(run_id):
    _images.render_predict(run_id)
    st.stop()

# 2. One row, from a form generated from the model's input schema.
st.subheader("One row")
with st.form("_w_predict_form"):
    row = _ui.schema_form(info.get("schema", []))
    submitted = st.form_submit_button("Predict", type="primary")
if submitted:
    try:
        model = _ui.load_model_cached(run_id)
        result, warnings = export.predict_frame(
            run_id, pd.DataFrame([row]), model=model
        )
    except (data.DataError, runs.RunError) as err:
        st.error(plain(err))
    else:
        for warning in warnings:
            st.warning(plain(warning))
        value = result["prediction"].iloc[0]
        st.metric(f"Predicted {plain(target)}", plain(_ui.format_value(value)))
        probabilities = {
            column.removeprefix("probability_"): float(result[column].iloc[0])
            for column in result.columns
            if column.startswith("probability_")
        }
        if probabilities:
            st.plotly_chart(_charts.class_probabilities(probabilities))

# 3. Many rows: score a CSV and download it with predictions.
st.subheader("Score a CSV file")
st.caption(
    "The file needs the columns "
    + ", ".join(plain(f["name"]) for f in info.get("schema", []))
    + "."
)
upload = st.file_uploader("CSV file to score", type=["csv"], key="_w_score_upload")
if upload is not None:
    try:
        scored, warnings = _ui.score_csv_cached(run_id, upload.getvalue(), upload.name)
    except (data.DataError, runs.RunError) as err:
        st.error(plain(err))
        st.stop()
    for warning in warnings:
        st.warning(plain(warning))
    st.caption(f"{len(scored):,} rows scored. First rows:")
    st.dataframe(_ui.people_table(scored.head(20)), hide_index=True)
    _ui.csv_download(scored, "predictions.csv", "Download predictions (CSV)")
