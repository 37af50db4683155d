"""User strings shown as text, never as Markdown or HTML; numbers and dates for people.

Column, class, file and data-set names come from uploads. Streamlit renders Markdown in
`st.markdown`, alerts, captions, widget labels, radio options and tabs, so a column named
`![p](http://host/pixel.png)` would make every viewer's browser fetch that picture.
Every such string goes through `plain` before it reaches one of those calls; messages
from `core` (which quote user names) go through it whole.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from datetime import date
from typing import Any

import pandas as pd

from core.markdown import plain  # noqa: F401  (pages import it from here)

_QUOTED = re.compile(r"`([^`\n]+)`")


def sentence(value: object) -> str:
    """A sentence from `core` as `plain` text, its `quoted` names shown as “quoted”.

    `core` writes a name or value in backticks (always answering `0`); escaped by
    `plain` alone they would show literally.
    """
    return plain(_QUOTED.sub(r"“\1”", str(value)))


def plot_text(value: object) -> str:
    """Returns `value` safe for a Plotly title or axis (which renders a little HTML)."""
    return html.escape(str(value), quote=True)


def format_value(value: Any, digits: int = 4) -> str:
    """A number or date as people write it: `14,250`, `32.35`, `0.0123`, `1961-01-01`.

    Numbers keep `digits` significant digits (whole numbers of `digits` or more digits
    are rounded to the unit) with thousands separators; dates drop a midnight time.
    """
    if value is None or value is pd.NaT:
        return "–"
    if isinstance(value, date):  # datetime and pd.Timestamp included
        return _format_time(pd.Timestamp(value))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return "–" if math.isnan(value) else str(value)
    if abs(value) >= 10**digits:
        return f"{round(value):,}"
    return f"{value:,.{digits}g}"


def percent(probability: float) -> str:
    """A probability in words: `37%`, but `>99%` and `<1%` rather than 100% and 0%.

    A model is never certain; a rounded "100% sure" reads as if it were.
    """
    if not math.isfinite(probability):
        return "–"
    if probability >= 0.995:
        return ">99%"
    if probability < 0.005:
        return "<1%"
    return f"{probability:.0%}"


def _format_time(stamp: pd.Timestamp) -> str:
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M" if stamp.second == 0 else "%Y-%m-%d %X")


def people_table(table: pd.DataFrame) -> Any:
    """A small table styled with `format_value` (its values stay sortable numbers)."""
    if not (table.index.is_unique and table.columns.is_unique):
        return table  # pandas cannot style repeated labels
    return table.style.format(format_value).format_index(format_value)
