"""Predictive Studio: page config and navigation only (STYLE C4)."""

import streamlit as st

from pages.ui.startup import close_sidebar_on_phones, warm_up

st.set_page_config(
    page_title="Predictive Studio", page_icon=":material/insights:", layout="wide"
)

pages = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Build": [
        st.Page("pages/data.py", title="Data", icon=":material/table:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    ],
    "Use": [
        st.Page("pages/results.py", title="Results", icon=":material/analytics:"),
        st.Page("pages/threshold.py", title="Threshold", icon=":material/tune:"),
        st.Page(
            "pages/predict.py", title="Predict", icon=":material/online_prediction:"
        ),
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
    ],
}
try:
    page = st.navigation(pages)
    close_sidebar_on_phones(page.title)
    page.run()
except Exception:  # a bug: our sentence, then Streamlit's redacted box (no traceback)
    st.error(
        "Something went wrong on this page. The details were written to the log in "
        "the terminal that runs the app. Reload the page, or go back one step.",
        icon=":material/error:",
    )
    raise
warm_up()  # Keras loads in the background once the first page is drawn
