"""Issue 21's small ones at phone width (390×844), on a run trained before the app starts.

After a page is opened from the sidebar the sidebar is closed (it would cover the
page), the scores table fits the screen with its reference column, and no page shows
an emoji (a browser without an emoji font draws a box).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.e2e.test_browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    ROOT,
    _require_chromium,
    serve,
)

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
SCROLLERS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
  .map(frame => frame.querySelector('.dvn-scroller'))
  .map(s => ({scroll: s.scrollWidth, client: s.clientWidth}))"""


@pytest.fixture(scope="module")
def app_with_run(tmp_path_factory):
    """The app on a free port, its workspace holding one table run (1 epoch)."""
    _require_chromium()
    env = {
        **os.environ,
        "PREDICTIVE_STUDIO_WORKSPACE": str(tmp_path_factory.mktemp("ws")),
    }
    train = [sys.executable, "-m", "core", "train", "sample_data/heart.csv"]
    subprocess.run(
        [*train, "--target", "target", "--epochs", "1"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    with serve(env, tmp_path_factory.mktemp("log")) as url:
        yield url


def test_phone_sidebar_closes_after_navigating_and_pages_fit(app_with_run):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        # A desktop browser's user agent at phone width: Streamlit itself closes
        # the sidebar only for phone user agents.
        page = browser.new_context(viewport=PHONE).new_page()
        page.set_default_timeout(60_000)
        page.goto(app_with_run)
        page.get_by_role("heading", name="Predictive Studio").first.wait_for()
        nav = page.get_by_test_id("stSidebarNav")
        for title in ("Results", "Models", "Predict"):
            if not nav.is_visible():
                page.get_by_role("button", name="Expand sidebar").click()
            nav.get_by_text(title, exact=True).click()
            page.get_by_role("heading", name=title).first.wait_for()
            expect(nav).to_be_hidden(timeout=10_000)  # closed without a tap
            if title == "Results":
                expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
                scores = page.evaluate(SCROLLERS)[0]
                assert scores["scroll"] <= scores["client"], scores  # nothing cut
            if title == "Predict":
                expect(page.get_by_role("button", name="Predict")).to_be_visible()
            shown = page.get_by_test_id("stMain").text_content()  # grid cells too
            assert not EMOJI.findall(shown), f"emoji on {title}"
        browser.close()
