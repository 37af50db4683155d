"""Which pre-trained picture networks are on this computer, and a button to fetch them."""

from __future__ import annotations

import streamlit as st

from core.errors import UserError
from core.vision import weights
from pages.ui.cache import template_notes_cached


def backbone_status() -> None:
    """One line per pre-trained network: ready, or a Download button with progress."""
    st.markdown("**Pre-trained picture networks**")
    st.caption(
        "Classify images starts from a network pre-trained on ImageNet when its weights "
        "are on this computer, and learns far better from few photos; without them it "
        "trains a small network from scratch. Offline machines can load them with "
        "`python -m core weights fetch` run elsewhere, then copy `~/.keras/models`."
    )
    for name, path in weights.readiness().items():
        title = weights.BACKBONES[name].keras_class
        if path is not None:
            st.markdown(f":material/check_circle: **{title}**: ready")
            continue
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.markdown(f":material/cloud_download: **{title}**: not downloaded")
        if button.button("Download", key=f"_w_fetch_{name}"):
            _fetch(name, title)


def _fetch(name: str, title: str) -> None:
    bar = st.progress(0.0, text=f"Downloading {title}…")
    shown = [-1]  # the last whole percent drawn: one update per percent, not per chunk

    def show(done: int, total: int | None) -> None:
        percent = min(100, 100 * done // total) if total else -1
        if percent > shown[0]:
            shown[0] = percent
            bar.progress(percent / 100, text=f"Downloading {title}… {percent}%")

    try:
        weights.fetch(name, progress=show)
    except UserError as err:
        bar.empty()
        st.warning(str(err), icon=":material/cloud_off:")
        return
    template_notes_cached.clear()  # Train's notes say whether a network is ready
    st.rerun()
