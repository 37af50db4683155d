"""Downloading the model from Results, at desktop and phone size (issue 21 item 9).

The heart sample trains for one epoch through the browser; the worker prepares and
checks the download right after training, so on Results "Download model" is on the
first screen and gives the zip at once. A run without the prepared file (trained
before this existed) prepares it once on click. Timings (click to file) are printed.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from tests.e2e.test_browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    ROOT,
    TRAINING_TIMEOUT_MS,
    _assert_bundle_model_loads_in_fresh_process,
    _open,
    serve,
    upload_table,
)
from tests.e2e.test_mobile import PHONE

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1400, "height": 1000}
DRAWN_MS = 60_000  # a fresh browser loads each kind of widget once, slowly on a busy CI


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on a free port; its workspace, so a test can reach the run's files."""
    workspace = tmp_path_factory.mktemp("download") / "workspace"
    env = {
        "PREDICTIVE_STUDIO_WORKSPACE": str(workspace),
        "PREDICTIVE_STUDIO_PREPARE_DOWNLOAD": "1",  # as outside the tests
    }
    with serve(env, workspace.parent) as url:
        yield url, workspace


def _browser(playwright, viewport: dict, **extra):
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
    )
    context = browser.new_context(accept_downloads=True, viewport=viewport, **extra)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return browser, page


@pytest.fixture(scope="module")
def heart_run(app) -> Path:
    """Trains the heart sample for one epoch through the browser; its run folder."""
    from playwright.sync_api import expect, sync_playwright

    url, workspace = app
    with sync_playwright() as playwright:
        browser, page = _browser(playwright, DESKTOP)
        page.goto(url)
        _open(page, "Data")
        upload_table(page, ROOT / "sample_data" / "heart.csv")
        expect(page.get_by_text("303 rows · 14 columns")).to_be_visible()
        _open(page, "Train")
        page.get_by_text("More settings").click()
        epochs = page.get_by_role("spinbutton", name="Maximum epochs")
        epochs.fill("1")
        epochs.press("Tab")
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_text("Epoch 1/1 · completed")).to_be_visible(
            timeout=TRAINING_TIMEOUT_MS
        )
        browser.close()
    (folder,) = (workspace / "runs").iterdir()
    return folder


def _download_in_first_screen(page, url: str, folder: Path) -> tuple[Path, float]:
    """Opens Results, checks "Download model" is fully on screen unscrolled, clicks it.

    Returns:
        The saved zip and the seconds from the click to the whole file.
    """
    from playwright.sync_api import expect

    page.goto(f"{url}/results")
    page.get_by_role("heading", name="Results").first.wait_for()
    button = page.get_by_role("button", name="Download model", exact=True)
    expect(button).to_be_visible(timeout=DRAWN_MS)
    expect(page.get_by_text("works with Python and Keras 3")).to_be_visible()
    assert page.evaluate("window.scrollY") == 0  # nobody scrolled
    expect(button).to_be_in_viewport(ratio=1)
    started = time.monotonic()
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    saved = Path(download.path())  # waits until the file is complete
    seconds = time.monotonic() - started
    assert download.suggested_filename == f"{folder.name}-bundle.zip"
    return saved, seconds


def test_desktop_download_is_ready_on_the_first_screen(app, heart_run, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _ = app
    with sync_playwright() as playwright:
        browser, page = _browser(playwright, DESKTOP)
        saved, seconds = _download_in_first_screen(page, url, heart_run)
        bundle = tmp_path / "bundle.zip"
        bundle.write_bytes(saved.read_bytes())
        browser.close()
    print(f"\ndesktop: click to file, prepared after training: {seconds:.2f} s")
    assert seconds < 10  # no conversion on click
    assert bundle.read_bytes() == (heart_run / "bundle.zip").read_bytes()
    _assert_bundle_model_loads_in_fresh_process(bundle, tmp_path / "bundle")


def test_phone_download_is_ready_on_the_first_screen(app, heart_run):
    from playwright.sync_api import sync_playwright

    url, _ = app
    with sync_playwright() as playwright:
        browser, page = _browser(playwright, PHONE, is_mobile=True, has_touch=True)
        saved, seconds = _download_in_first_screen(page, url, heart_run)
        with zipfile.ZipFile(saved) as archive:
            members = set(archive.namelist())
        same = saved.read_bytes() == (heart_run / "bundle.zip").read_bytes()
        browser.close()
    print(f"\nphone: click to file, prepared after training: {seconds:.2f} s")
    assert {"model.keras", "predict.py", "metadata.json", "README.md"} <= members
    assert same


def test_a_run_without_the_file_prepares_it_once_on_click(app, heart_run):
    from playwright.sync_api import expect, sync_playwright

    url, _ = app
    (heart_run / "bundle.zip").unlink()  # as for a run trained before this existed
    with sync_playwright() as playwright:
        browser, page = _browser(playwright, DESKTOP)
        page.goto(f"{url}/results")
        prepare = page.get_by_role("button", name="Prepare the model download")
        expect(prepare).to_be_visible(timeout=DRAWN_MS)
        expect(prepare).to_be_in_viewport(ratio=1)
        started = time.monotonic()
        prepare.click()
        button = page.get_by_role("button", name="Download model", exact=True)
        expect(button).to_be_visible(timeout=120_000)
        with page.expect_download() as download_info:
            button.click()
        saved = Path(download_info.value.path())
        seconds = time.monotonic() - started
        with zipfile.ZipFile(saved) as archive:
            assert "model.keras" in archive.namelist()
        browser.close()
    print(f"\non-click preparation: click to file: {seconds:.2f} s")
    assert (heart_run / "bundle.zip").is_file()  # kept for next time
