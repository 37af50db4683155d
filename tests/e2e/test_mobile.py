"""The app on a phone (390×844): pick the photo sample, train, predict with the camera.

Chromium fakes the camera (--use-fake-device-for-media-stream); on every page the test
asserts nothing overflows horizontally and the page's main button is on screen.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import (  # noqa: F401  app_url is a fixture
    CHROMIUM,
    CHROMIUM_FLAGS,
    TRAINING_TIMEOUT_MS,
    app_url,
)

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
OVERFLOW = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return {
    page: document.documentElement.scrollWidth,
    main: main ? main.scrollWidth : 0,
    viewport: window.innerWidth,
  };
}"""


@pytest.fixture
def phone(app_url):  # noqa: F811  the fixture imported above
    """A chromium page the size of a phone, with a fake camera allowed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_FLAGS, *FAKE_CAMERA]
        )
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, permissions=["camera"]
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(app_url)
        yield page
        browser.close()


def _fits(page, button) -> None:
    """Nothing is wider than the phone, and `button` is fully on screen."""
    from playwright.sync_api import expect

    expect(button).to_be_visible(timeout=60_000)
    button.scroll_into_view_if_needed()
    widths = page.evaluate(OVERFLOW)
    assert widths["main"] > 0, "the page has no main area"
    assert widths["page"] <= widths["viewport"], widths
    assert widths["main"] <= widths["viewport"], widths
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= widths["viewport"], box


def _open(page, title: str) -> None:
    """Opens a page from the sidebar, then closes it, as a person on a phone does."""
    from playwright.sync_api import expect

    nav = page.get_by_test_id("stSidebarNav")
    if not nav.is_visible():
        page.get_by_role("button", name="Expand sidebar").click()
    nav.get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for()
    close = page.get_by_role("button", name="Collapse sidebar")
    if close.is_visible():
        close.click()
    expect(nav).to_be_hidden()


def test_phone_journey_sample_train_and_camera_prediction(phone):
    from playwright.sync_api import expect

    page = phone
    sample = page.locator(".st-key-_w_sample_face_mask").get_by_role(
        "button", name="Use this sample"
    )
    _fits(page, sample)
    sample.click()
    page.get_by_role("heading", name="Data").first.wait_for()
    expect(page.get_by_text("300 pictures · 2 classes")).to_be_visible(timeout=60_000)
    _fits(page, page.get_by_role("link", name="Next: train a model"))

    _open(page, "Train")
    page.get_by_text("More settings").click()
    epochs = page.get_by_role("spinbutton", name="Maximum epochs")
    epochs.fill("2")
    epochs.press("Tab")
    train = page.get_by_role("button", name="Train", exact=True)
    _fits(page, train)
    train.click()
    expect(page.get_by_text("Epoch 2/2 · completed")).to_be_visible(
        timeout=TRAINING_TIMEOUT_MS
    )

    _open(page, "Predict")
    page.get_by_role("tab", name="Camera").click()
    snap = page.get_by_role("button", name="Take Photo")
    _fits(page, snap)
    snap.click()
    expect(page.get_by_text("Prediction").first).to_be_visible(timeout=120_000)
    _fits(page, page.get_by_role("button", name="Clear photo"))

    _open(page, "Results")
    _fits(page, page.get_by_role("button", name="Download model"))
