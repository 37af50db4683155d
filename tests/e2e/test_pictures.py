"""Photos that would score at chance, on a server without internet: said before Train.

The face-mask sample (150 pictures per class) on a server with no pre-trained network
and no way out to the internet: Train says so above its button and offers the remedy
right there. Download answers in a plain sentence, and the weights upload refuses a
file that is not the network's, naming the file it expects. Nothing is trained.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.test_browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    _open,
    _require_chromium,
    serve,
)

pytestmark = pytest.mark.e2e
WARNING = "likely score no better than guessing"


def _dead_address() -> str:
    """A local port nobody listens on: to the app, the download server is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory):
    """The app with an empty Keras cache and its weights server out of reach."""
    _require_chromium()
    if any(Path("/tmp/.keras/models").glob("*.h5")):  # a cache the app always reads
        pytest.skip("pre-trained weights are in /tmp/.keras/models on this machine")
    home = tmp_path_factory.mktemp("home")
    env = {
        "HOME": str(home),  # the Keras cache ~/.keras/models is empty
        "KERAS_HOME": str(home / ".keras"),
        "PREDICTIVE_STUDIO_WORKSPACE": str(tmp_path_factory.mktemp("ws")),
        "PREDICTIVE_STUDIO_WEIGHTS_URL": _dead_address(),
    }
    with serve(env, tmp_path_factory.mktemp("log")) as url:
        yield url


def test_train_warns_before_the_button_and_offers_download_and_upload(
    offline_app, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(offline_app)

        page.locator(".st-key-_w_sample_face_mask").get_by_role(
            "button", name="Use this sample"
        ).click()
        expect(page.get_by_text("300 pictures · 2 classes")).to_be_visible()

        _open(page, "Train")
        warning = page.get_by_text(WARNING)
        expect(warning).to_be_visible()  # not inside a collapsed section
        download = page.get_by_role("button", name="Download the pre-trained network")
        upload = page.locator(
            '[data-testid="stFileUploaderDropzone"]'
            '[aria-label^="No internet here? Upload the weights file instead"]'
        )
        expect(download).to_be_visible()
        expect(upload).to_be_visible()
        train = page.get_by_role("button", name="Train", exact=True)
        expect(train).to_be_visible()
        above = warning.bounding_box()["y"] < train.bounding_box()["y"]
        assert above, "the warning must come before the Train button"

        download.click()  # the server cannot reach the internet: a plain sentence
        expect(
            page.get_by_text("This computer cannot reach the internet")
        ).to_be_visible()
        expect(page.get_by_text("Errno")).to_have_count(0)

        wrong = tmp_path / "weights.h5"
        wrong.write_bytes(b"not the network's weights")
        with page.expect_file_chooser() as chooser:
            upload.click()
        chooser.value.set_files(str(wrong))
        expect(
            page.get_by_text("not the pre-trained network's weights file")
        ).to_be_visible()
        expect(warning).to_be_visible()  # still to be done
        browser.close()
