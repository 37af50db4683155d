"""What app.py does around each page: close the phone sidebar, warm Keras up."""

from __future__ import annotations

import json

import streamlit as st

# Streamlit closes its sidebar after a page link is tapped only on browsers that say
# they are phones; a narrow window (where the sidebar covers the page) keeps it open.
# This closes it whenever a page is opened at phone width (Streamlit's 768 px
# breakpoint). Streamlit runs the script again only when its text changes: the page
# title is in it, so it runs once per page opened, not on every rerun.
_CLOSE_SIDEBAR = """<style>
[data-testid="stElementContainer"]:has(#close-sidebar) {display: none;}
</style>
<span id="close-sidebar"></span>
<script>
/* page: %s */
(() => {
  if (!window.matchMedia("(max-width: 767.98px)").matches) return;
  const bar = document.querySelector('[data-testid="stSidebar"]');
  if (bar && bar.getAttribute("data-collapsed") === "false") {
    document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
  }
})();
</script>"""


def close_sidebar_on_phones(page_title: str) -> None:
    """Closes the sidebar once a page opens at phone width (it would cover the page)."""
    st.html(
        _CLOSE_SIDEBAR % json.dumps(page_title).replace("*/", ""),
        unsafe_allow_javascript=True,
    )


def warm_up() -> None:
    """Starts importing Keras in the background (once per server process).

    app.py calls it after each page is drawn, so the seconds-long import neither slows
    the first page nor makes the first prediction wait. Keras itself is imported in
    `core` (pages never import it).
    """
    from core import prediction

    prediction.warm_up()
