"""Data: upload a file or pick a sample, then check it (the view of its kind)."""

import streamlit as st

from core import datasets
from pages.ui import kinds
from pages.ui.state import DATASET_ID, get, sample_title, use_dataset

st.title("Data")

# 1. Where the data comes from: an upload wins over a sample.
uploaded = [upload() for upload in kinds.uploads()]  # every widget is drawn
dataset_id = next(filter(None, uploaded), None)
if dataset_id:
    use_dataset(dataset_id)
else:
    sample = st.selectbox(
        "…or start from a sample",
        list(datasets.SAMPLES),
        index=None,
        format_func=sample_title,
        placeholder="Choose a sample data set",
        key="_w_sample",
    )
    if sample:
        use_dataset(datasets.store_sample(sample), datasets.SAMPLES[sample][1])

dataset_id = get(DATASET_ID)
if not dataset_id:
    st.info(
        "Upload a table (CSV, Excel, Parquet, JSON lines) or choose a sample to begin."
    )
    st.stop()

# 2. Preview, check and (for tables) the target: the view of the data's kind.
kinds.views_for(datasets.dataset_kind(dataset_id)).data(dataset_id)
