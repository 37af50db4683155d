"""Cached wrappers around core (STYLE C3): core stays plain, caching lives here."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core import datasets, runs, table_files, table_reading
from core.catalog import get_template, templates_for
from core.columns import column_stats, infer_column_types, resolve_column_types
from core.errors import UserError
from core.templates.params import resolve_params
from pages.ui.text import plain

load_table_cached = st.cache_data(
    datasets.load_table, max_entries=8, show_spinner=False
)


@st.cache_data(max_entries=8, show_spinner=False)
def inferred_column_types(dataset_id: str) -> dict[str, str]:
    return infer_column_types(datasets.load_table(dataset_id))


def or_stop(load: Callable[[str], Any], dataset_id: str) -> Any:
    """Loads a dataset with `load`, or shows why it cannot be used and stops the page."""
    try:
        return load(dataset_id)
    except UserError as err:
        st.error(plain(err))
        st.stop()


def table_or_stop(dataset_id: str) -> pd.DataFrame:
    """Loads a dataset's table (cached), or says why it cannot and stops the page."""
    return or_stop(load_table_cached, dataset_id)


@st.cache_data(max_entries=4, show_spinner=False)
def sheet_names_cached(name: str, data: bytes) -> list[str]:
    """The sheets of an uploaded workbook ([] for other files)."""
    return table_files.sheet_names(name, data)


@st.cache_data(max_entries=4, show_spinner=False)
def load_dataset(dataset_id: str) -> Any:
    """A stored dataset in the form its kind's templates train on (a table, pictures)."""
    return templates_for(datasets.dataset_kind(dataset_id))[0].load_data(dataset_id)


def dataset_or_stop(dataset_id: str) -> Any:
    """Loads a dataset for training (cached), or says why it cannot and stops the page."""
    return or_stop(load_dataset, dataset_id)


@st.cache_data(max_entries=16, show_spinner=False)
def column_stats_cached(dataset_id: str, overrides: dict[str, str]) -> pd.DataFrame:
    frame = datasets.load_table(dataset_id)
    return column_stats(frame, resolve_column_types(frame, overrides))


@st.cache_data(max_entries=16, show_spinner="Checking the data for this template…")
def template_notes_cached(
    template_name: str,
    dataset_id: str,
    target: str | None,
    overrides: dict[str, str],
    chosen: list[dict[str, str]] | None = None,
) -> list[str]:
    """The chosen template's own data check (what it will fix or warn about).

    `chosen`: the data check's fixes the training applies (`core.fixes`).
    """
    template = get_template(template_name)
    try:
        settings = {"column_kinds": overrides, **({"fixes": chosen} if chosen else {})}
        params = resolve_params(template, settings)
        return template.notes(template.load_data(dataset_id), target, params)
    except UserError as err:
        return [str(err)]


def template_warning(
    template_name: str, dataset_id: str, target: str | None, overrides: dict[str, str]
) -> str:
    """The chosen template's warning before Train ("" for none).

    Not cached: it reads whether a pre-trained network is on this computer, which a
    download or an upload changes (the data set itself comes from the cache).
    """
    template = get_template(template_name)
    try:
        params = resolve_params(template, {"column_kinds": overrides})
        return template.chance_warning(load_dataset(dataset_id), target, params)
    except UserError:
        return ""  # the notes and the Train button say what is wrong


@st.cache_data(max_entries=4, show_spinner="Scoring the rows…")
def score_csv_cached(
    run_id: str, content: bytes, name: str, decision: dict[str, Any] | None
) -> tuple[pd.DataFrame, list[str]]:
    """Reads CSV bytes and appends the run's predictions (see `core.prediction`).

    `decision` (the run's saved threshold) is part of the cache key only: a newly
    saved threshold scores the file again.
    """
    from core import prediction  # imports Keras lazily, inside its functions

    frame = table_reading.read_csv_bytes(content, name)
    return prediction.predict_frame(run_id, frame, model=load_model_cached(run_id))


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def load_model_cached(run_id: str) -> Any:
    """Loads a run's Keras model once per run id; freezes the GC so reruns stay fast."""
    model = runs.load_model(run_id)  # imports Keras lazily
    gc.freeze()  # TF creates many long-lived objects; keep them out of GC scans
    return model
