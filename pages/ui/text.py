"""User strings shown as text, never as Markdown or HTML (no injected links or images).

Column, class, file and data-set names come from uploads. Streamlit renders Markdown in
`st.markdown`, alerts, captions, widget labels, radio options and tabs, so a column named
`![p](http://host/pixel.png)` would make every viewer's browser fetch that picture.
Every such string goes through `plain` before it reaches one of those calls; messages
from `core` (which quote user names) go through it whole.
"""

from __future__ import annotations

import html
import re

# Characters that start Markdown, HTML, `$math$` or Streamlit's `:color[...]` anywhere.
_ALWAYS = re.compile(r"([\\`*\[\]<>|~$#])")
# Underscores make emphasis only at a word's edge (`hidden_units` stays as typed).
_EDGE_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")
# Lists, headings under a line and numbered lists start at the beginning of a line.
_LINE_START = re.compile(
    r"(?m)^([ \t]*)([-+](?=[ \t]|$)|[=-]+(?=[ \t]*$)|\d+[.)](?=[ \t]|$))"
)
# Bare links (`http://…`, `www.…`) and `:icon:` / `:emoji:` short codes.
_AUTOLINK = re.compile(r"(?i):(?=//)|(?<=www)\.|:(?=[\w/+-]+:)")


def plain(value: object) -> str:
    """Returns `value` as text that Streamlit's Markdown shows literally.

    Args:
        value: any user-supplied string (or a value shown as one).

    Returns:
        The text with every character that would start Markdown, HTML, a link, an
        image, math or a Streamlit directive backslash-escaped; line breaks are kept.
    """
    text = _ALWAYS.sub(r"\\\1", str(value))
    text = _EDGE_UNDERSCORE.sub(r"\\_", text)
    text = _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    text = _LINE_START.sub(lambda m: m.group(1) + _escape_last(m.group(2)), text)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "  \n")


def _escape_last(marker: str) -> str:
    return marker[:-1] + "\\" + marker[-1]


def plot_text(value: object) -> str:
    """Returns `value` safe for a Plotly title or axis (which renders a little HTML)."""
    return html.escape(str(value), quote=True)
