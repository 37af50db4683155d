"""User strings as Markdown text: shown literally, never as links, images or HTML.

Column, class, file and data-set names come from uploads. Markdown viewers (Streamlit's
`st.markdown` and alerts, a bundle's README.md on a code host) would render a column
named `![p](http://host/pixel.png)` as an image fetched from that host. Every such
string goes through `plain` before it is written into Markdown.
"""

from __future__ import annotations

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
