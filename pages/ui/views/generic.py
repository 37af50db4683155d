"""Views for a kind that registered none: enough to check, train, read and use a model."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from core import datasets, prediction, runs
from core.catalog import get_template
from core.errors import UserError
from pages.ui import charts
from pages.ui.cache import load_model_cached
from pages.ui.text import people_table, plain, sentence
from pages.ui.widgets import csv_download, show_metrics, show_summary


def data_view(dataset_id: str) -> None:
    """The data set's name, and the way on to Train (its templates check the data)."""
    st.subheader(plain(datasets.dataset_name(dataset_id)))
    st.page_link(
        "pages/train.py", label="Next: train a model", icon=":material/arrow_forward:"
    )


def no_target(dataset_id: str) -> None:
    """Kinds without a column to predict ask for none."""


def no_extra(
    dataset_id: str, target: str | None, template: Any
) -> dict[str, Callable[[Any], Any]]:
    """Kinds without settings to decide up front leave them all in the form."""
    return {}


def warn(warning: str) -> None:
    """The template's warning before Train, in plain sight."""
    st.warning(sentence(warning), icon=":material/warning:")


def results_view(run_id: str, evaluation: dict[str, Any]) -> None:
    """The verdict, the scores beside the baseline, and the learning curves."""
    show_summary(evaluation)
    st.subheader("Scores on the test data")
    show_metrics(evaluation)
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def predict_view(run_id: str, info: dict[str, Any]) -> None:
    """A file of new inputs, scored by the template's own `predict_file`."""
    template = get_template(runs.load_spec(run_id)["template"])
    st.subheader("Score a file")
    st.caption(f"The model takes a file like {plain(template.predict_input)}.")
    file = st.file_uploader("File to score", key="_w_generic_predict")
    if file is None:
        return
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(file.name).name
            path.write_bytes(file.getvalue())
            scored, warnings = prediction.predict_path(
                run_id, path, model=load_model_cached(run_id)
            )
    except UserError as err:
        st.error(plain(err))
        return
    for warning in warnings:
        st.warning(plain(warning))
    st.dataframe(people_table(scored.head(20)), hide_index=True)
    csv_download(scored, "predictions.csv", "Download predictions (CSV)")
