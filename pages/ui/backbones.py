"""Pre-trained picture networks: which are on this computer, and how to get one here.

Two ways in: a Download button with progress, and, for computers without internet, an
upload of the weights file that `core.vision.weights.install` keeps only once its
checksum matches the one Keras publishes.
"""

from __future__ import annotations

import streamlit as st

from core.errors import UserError
from core.vision import weights
from pages.ui.cache import template_notes_cached
from pages.ui.text import plain, sentence

# Session State: the last weights upload's sentence per uploader (a refusal), a string.
_SAID = "weights_upload_said_{key}"


def backbone_status() -> None:
    """One line per pre-trained network: ready, or a Download button with progress."""
    st.markdown("**Pre-trained picture networks**")
    st.caption(
        "Classify images starts from a network pre-trained on ImageNet when its weights "
        "are on this computer, and learns far better from few photos; without them it "
        "trains a small network from scratch. A computer without internet takes the "
        "weights file as an upload below."
    )
    missing = []
    for name, path in weights.readiness().items():
        title = weights.BACKBONES[name].keras_class
        if path is not None:
            st.markdown(f":material/check_circle: **{title}**: ready")
            continue
        missing.append(name)
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.markdown(f":material/cloud_download: **{title}**: not downloaded")
        if button.button("Download", key=f"_w_fetch_{name}"):
            _fetch(name, title)
    if missing:
        upload_weights(None, "_w_weights_home")


def offer(name: str, key: str) -> None:
    """Gets one network here: a Download button, and an upload of its weights file."""
    entry = weights.backbone(name)
    if st.button(
        "Download the pre-trained network",
        key=f"{key}_fetch",
        type="primary",
        icon=":material/cloud_download:",
        help=f"{entry.keras_class} from {weights.weights_url(name)}",
    ):
        _fetch(name, entry.keras_class)
    upload_weights(name, f"{key}_upload")


def upload_weights(name: str | None, key: str) -> None:
    """An upload of a weights file for computers without internet.

    Args:
        name: the backbone the file must be, or None for any of them.
        key: the uploader's widget key.
    """
    wanted = [weights.backbone(name)] if name else list(weights.BACKBONES.values())
    st.file_uploader(
        "No internet here? Upload the weights file instead",
        type=["h5"],
        key=key,
        on_change=_install_upload,
        args=(key, name),
        help="It is checked against the checksum Keras publishes before it is kept.",
    )
    links = " or ".join(
        f"[{e.file_name}]({weights.weights_url(e.name)})" for e in wanted
    )  # our own addresses, not user text
    st.caption(
        f"Download {links} on a computer that is online (this browser may reach it "
        "even when the server cannot), then upload it here."
    )
    said = st.session_state.get(_SAID.format(key=key))
    if said:
        st.error(_linked(said), icon=":material/error:")


def _install_upload(key: str, name: str | None) -> None:
    """Callback, once per new upload: keeps the file if its checksum matches."""
    file = st.session_state.get(key)
    st.session_state.pop(_SAID.format(key=key), None)
    if file is None:
        return
    try:
        path = weights.install(name, file.getvalue())
    except UserError as err:
        st.session_state[_SAID.format(key=key)] = str(err)
        return
    template_notes_cached.clear()  # Train's notes say whether a network is ready
    st.toast(f"Checked and kept: {path.name}. Pictures now start from it.")


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
        st.warning(_linked(str(err)), icon=":material/cloud_off:")
        return
    template_notes_cached.clear()  # Train's notes say whether a network is ready
    st.rerun()


def _linked(message: str) -> str:
    """A sentence from core as safe text, with its download addresses as links.

    The addresses are the app's own (Keras' storage, or the administrator's mirror),
    never user text; shown as plain text, Markdown would link only their first part.
    """
    shown = sentence(message)
    for name in weights.BACKBONES:
        url = weights.weights_url(name)
        shown = shown.replace(plain(url), f"[{plain(url)}](<{url}>)")
    return shown
