"""Checks for the metadata.json keys a template's predict path reads (bundle import).

A template lists its keys in `Template.metadata_checks` as `{key: (check, expected)}`,
where `check(value) -> bool` and `expected` says in words what the key should hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

KeyChecks = Mapping[str, tuple[Callable[[Any], bool], str]]
FORM_FEATURES = (
    "a list of input columns, each with a name, kind (the column type) and default "
    "(numbers: min and max; categories: choices)"
)


def is_text(value: Any) -> bool:
    """A string."""
    return isinstance(value, str)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def is_count(value: Any) -> bool:
    """A whole number, 1 or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def are_names(value: Any) -> bool:
    """A non-empty list of distinct strings."""
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(isinstance(v, str) for v in value)
        and len(set(value)) == len(value)
    )


def are_classes(value: Any) -> bool:
    """Two or more distinct class names."""
    return are_names(value) and len(value) >= 2


def is_feature(value: Any, form: bool) -> bool:
    """One schema entry; `form`: it also feeds the Predict form (range, choices)."""
    if not isinstance(value, dict) or not is_text(value.get("name")):
        return False
    column_type = value.get("kind")
    if column_type == "number":
        keys = [k for k in ("default", "min", "max") if form or k in value]
        return all(is_number(value.get(k)) for k in keys)
    if column_type == "category" and (form or "choices" in value):
        return is_text(value.get("default")) and are_names(value.get("choices"))
    known = ("category", "text", "boolean", "date", "image")
    return column_type in known and is_text(value.get("default", ""))


def are_features(value: Any, form: bool = False) -> bool:
    """A non-empty list of schema entries with distinct names."""
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(is_feature(v, form) for v in value)
        and len({v["name"] for v in value}) == len(value)
    )


def are_form_features(value: Any) -> bool:
    """Schema entries that also feed the Predict form (ranges, choices)."""
    return are_features(value, form=True)


def is_frequency(value: Any) -> bool:
    """A pandas frequency such as '1h' or 'D'."""
    if not is_text(value):
        return False
    try:
        pd.tseries.frequencies.to_offset(value)
    except ValueError:
        return False
    return True
