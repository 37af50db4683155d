"""The live text box: typed text reaches the script, a pushed value replaces it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    import streamlit as st

    from pages.ui.live_input import live_text

    pushed = st.session_state.get("push")
    text = live_text("Say something", key="box", value=pushed, placeholder="type")
    st.markdown(f"echo:{text}")


def test_typed_text_reaches_the_script_and_a_pushed_value_replaces_it():
    at = AppTest.from_function(_page, default_timeout=10).run()
    assert not at.exception
    assert at.markdown[0].value == "echo:"
    at.text_input(key="box").input("I loved it").run()
    assert at.markdown[0].value == "echo:I loved it"
    at.session_state["push"] = "I loved it so"
    at.run()
    assert at.text_input(key="box").value == "I loved it so"
    assert at.markdown[0].value == "echo:I loved it so"
    at.text_input(key="box").input("changed").run()  # the same push is not shown again
    assert at.markdown[0].value == "echo:changed"
