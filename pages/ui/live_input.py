"""A text box that reruns the page as the person types (no Enter, no button).

The box is a small static component (`live_box/index.html`) that sends its text about
150 ms after the last keystroke. It uses the v1 component protocol because every
`st.components.v2` component breaks `runner.enforceSerializableSessionState` in
Streamlit 1.67 (its Session State value is an instance of a local class, which pickle
refuses). AppTest cannot run a component's JavaScript, so there (AppTest sets
Streamlit's `global.appTest` option) the box is a plain `st.text_input`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit import config
from streamlit.components.v1 import declare_component

_BOX = declare_component("live_text", path=str(Path(__file__).parent / "live_box"))


def live_text(
    label: str, *, key: str, value: str | None = None, placeholder: str = ""
) -> str:
    """A text box whose text reaches Python while the person types.

    Args:
        label: The box's label (plain text).
        key: A unique widget key.
        value: Text to show in the box; shown when it differs from the last `value`
            given (e.g. a clicked suggestion appended to the text), else ignored.
        placeholder: Grey text shown while the box is empty.

    Returns:
        The box's current text.
    """
    memo = _memory(key)
    if value is not None and value != memo["given"]:
        memo.update(given=value, text=value, version=memo["version"] + 1)
        if _in_app_test():
            st.session_state[key] = value
    if _in_app_test():
        memo["text"] = st.text_input(label, key=key, placeholder=placeholder)
        return memo["text"]
    typed = _BOX(
        label=label,
        placeholder=placeholder,
        text=memo["text"],
        version=memo["version"],
        key=key,
        default=None,
    )
    # Text typed before the latest pushed value carries an older version: ignored.
    if isinstance(typed, dict) and typed.get("version") == memo["version"]:
        memo["text"] = str(typed.get("text", ""))
    return memo["text"]


def _memory(key: str) -> dict:
    """What the box last showed and was given, kept across reruns beside its key."""
    name = f"_live_text_{key}"
    if name not in st.session_state:
        st.session_state[name] = {"given": None, "text": "", "version": 0}
    return st.session_state[name]


def _in_app_test() -> bool:
    """True in an AppTest run (AppTest sets this option while it runs a script)."""
    return bool(config.get_option("global.appTest"))
