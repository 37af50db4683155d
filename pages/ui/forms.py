"""Generic forms: a template's settings behind one Train button, a model's input row."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from pages.ui.state import index_of
from pages.ui.text import format_value, plain


def train_form(
    template: Any, key: str, decided: dict[str, Callable[[Any], Any]] | None = None
) -> tuple[bool, dict[str, Any]]:
    """The Train button first, then every setting in one collapsed expander.

    Args:
        template: the template to train.
        key: the form's widget key.
        decided: a function per parameter a person must decide (shown under the
            button, e.g. the forecast horizon), called inside the form with the Param.

    Returns:
        Whether Train was clicked, and the chosen values by parameter name.
    """
    decided = decided or {}
    with st.form(key, border=False):
        submitted = st.form_submit_button(
            "Train", type="primary", icon=":material/play_arrow:"
        )
        values = {
            p.name: decided[p.name](p) for p in template.params if p.name in decided
        }
        values |= param_form(template, skip=set(decided))
    return submitted, values


def param_form(template: Any, skip: set[str] = frozenset()) -> dict[str, Any]:
    """Renders a template's params in one expander: basic ones, then advanced ones.

    Call it inside an `st.form`. Returns the chosen values by parameter name.
    """
    shown = [p for p in template.params if p.name not in skip]
    with st.expander("More settings (the defaults suit most data)"):
        values = {p.name: _param_widget(p) for p in shown if not p.advanced}
        st.markdown("**Advanced**")
        values |= {p.name: _param_widget(p) for p in shown if p.advanced}
    return values


def _param_widget(param: Any) -> Any:
    key, default = f"_w_param_{param.name}", param.default
    common = {"help": param.help or None, "key": key}
    if param.choices:
        options = list(param.choices)
        return st.selectbox(param.label, options, options.index(default), **common)
    if isinstance(default, bool):
        return st.checkbox(param.label, value=default, **common)
    if isinstance(default, int):
        low, high = param.min_value, param.max_value
        return st.number_input(
            param.label,
            min_value=None if low is None else int(low),
            max_value=None if high is None else int(high),
            value=default,
            step=1,
            **common,
        )
    if isinstance(default, float):
        return st.number_input(
            param.label,
            min_value=param.min_value,
            max_value=param.max_value,
            value=default,
            step=_float_step(default),
            format="%g",
            **common,
        )
    return st.text_input(param.label, value=str(default), **common)


def _float_step(value: float) -> float:
    return 10.0 ** math.floor(math.log10(abs(value))) if value else 0.01


def row_form(
    schema: list[dict[str, Any]], key: str, button: str
) -> dict[str, Any] | None:
    """A form of one input per model column (see `schema_form`) and a `button`.

    Returns:
        The typed row on the run where the button was pressed, else None.
    """
    with st.form(key):
        row = schema_form(schema)
        submitted = st.form_submit_button(button, type="primary")
    return row if submitted else None


def schema_form(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """Renders one input per model column (from a run's `info.json` schema)."""
    row = {}
    columns = st.columns(3)
    for i, feature in enumerate(schema):
        name, key = feature["name"], f"_w_input_{feature['name']}"
        with columns[i % 3]:
            if feature["kind"] == "number":
                low, high = format_value(feature["min"]), format_value(feature["max"])
                seen = f"Seen in training: {low} to {high}." + (
                    " 0 counts as missing (a fix from the data check)."
                    if feature.get("zeros_missing")
                    else ""
                )
                row[name] = st.number_input(
                    plain(name),
                    value=float(feature["default"]),
                    format="%g",
                    help=seen,
                    key=key,
                )
            elif feature["kind"] == "category":
                options = list(feature["choices"])
                index = index_of(options, feature["default"])
                row[name] = st.selectbox(plain(name), options, index=index, key=key)
            else:
                row[name] = st.text_input(
                    plain(name), value=feature.get("default", ""), key=key
                )
    return row
