"""Home: what the app does, and one click to start from a bundled sample."""

import streamlit as st

from core import datasets
from core.corpus import ingest as corpus_ingest
from core.vision import ingest as vision_ingest
from pages.ui.backbones import backbone_status
from pages.ui.state import TARGET_COLUMN, use_dataset

SAMPLE_CARDS = {
    "heart.csv": "Classification: predict whether a patient has heart disease.",
    "auto_mpg.csv": "Regression: predict a car's fuel economy in miles per gallon.",
    "seattle_weather.csv": "Forecasting: the next week's highest temperature in Seattle.",
    "sentiment_sentences.csv": "Text: is a review sentence positive or negative?",
    "language_detection.csv": "Text: which language is a sentence written in?",
}

st.title("Predictive Studio")
st.markdown(
    "Predictive Studio turns examples you already have (a table, a dated series or "
    "folders of photos) into a model that predicts a column, forecasts the next days or "
    "tells pictures apart. Pick a sample or upload your own, press one button, and a "
    "neural network trains with sensible defaults while you watch it learn. Then read an "
    "honest report next to simple baselines, try predictions, and download the model."
)

st.subheader("Start from a sample")
for column, (file_name, pitch) in zip(
    st.columns(len(SAMPLE_CARDS)), SAMPLE_CARDS.items(), strict=True
):
    title, target = datasets.SAMPLES[file_name]
    with column, st.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(pitch)
        if st.button("Use this sample", key=f"_w_sample_{file_name}", type="primary"):
            use_dataset(datasets.store_sample(file_name), target)
            st.session_state[TARGET_COLUMN] = target
            st.switch_page("pages/data.py")

with st.container(border=True):
    st.markdown(f"**{vision_ingest.SAMPLE_NAME}**")
    st.caption(
        "Image classification: tell faces with a mask from faces without one, then try "
        "it on your camera or a video."
    )
    if st.button("Use this sample", key="_w_sample_face_mask", type="primary"):
        use_dataset(vision_ingest.store_sample())
        st.switch_page("pages/data.py")

with st.container(border=True):
    st.markdown(f"**{corpus_ingest.SAMPLE_NAME}**")
    st.caption(
        "Next-word suggestion: learn a book and suggest the next word as you type, "
        "like a search box."
    )
    if st.button("Use this sample", key="_w_sample_alice", type="primary"):
        use_dataset(corpus_ingest.store_sample())
        st.switch_page("pages/data.py")

with st.container(border=True):
    backbone_status()

st.page_link(
    "pages/data.py",
    label="Or upload your own CSV, zip or folder of pictures",
    icon=":material/upload:",
)
