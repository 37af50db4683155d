"""Session State keys and helpers: small, serializable values only (STYLE §3.4)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import datasets
from core.catalog import get_template


def leave_pages_directory_mode() -> None:
    """Reruns through app.py's navigation when Streamlit ran a page file directly.

    Until some session has run app.py, Streamlit treats `pages/` as an old-style
    pages folder, so a deep link such as /results on a fresh server runs that file
    alone and lists every file of `pages/` (helpers included) in the sidebar.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()


leave_pages_directory_mode()

DATASET_ID = "dataset_id"
TARGET_COLUMN = "target_column"
TEMPLATE_NAME = "template_name"
ACTIVE_RUN_ID = "active_run_id"
COLUMN_TYPE_OVERRIDES = "column_type_overrides"  # {column: type} the user changed
FIXES = "fixes"  # [{"fix": ..., "column": ...}] chosen in the data check (core.fixes)


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def remember(key: str, value: Any) -> Any:
    """Copies a widget's value to a plain key that survives page changes."""
    st.session_state[key] = value
    return value


def copy_widget(widget_key: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget_key]


def use_dataset(dataset_id: str, target: str | None = None) -> None:
    """Makes `dataset_id` the current dataset; a new one resets target, types, fixes."""
    if st.session_state.get(DATASET_ID) != dataset_id:
        st.session_state[DATASET_ID] = dataset_id
        st.session_state[TARGET_COLUMN] = target
        st.session_state[COLUMN_TYPE_OVERRIDES] = {}
        st.session_state[FIXES] = []


def forget_dataset() -> None:
    """No dataset is current any more (e.g. after a refused upload meant to replace it)."""
    for key in (DATASET_ID, TARGET_COLUMN, COLUMN_TYPE_OVERRIDES, FIXES):
        st.session_state.pop(key, None)


# Format functions for selectboxes and radios. AppTest keeps them in Session State, so
# with enforceSerializableSessionState they must be importable functions, not lambdas.
def sample_title(file_name: str) -> str:
    return datasets.SAMPLES[file_name][0]


def template_title(name: str) -> str:
    return get_template(name).title


def index_of(options: list, value: Any, fallback: int | None = 0) -> int | None:
    return options.index(value) if value in options else fallback
