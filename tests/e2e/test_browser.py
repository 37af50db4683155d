"""The one real-browser journey: upload, train, read results, predict, download, reload.

Drives Debian's chromium through Playwright against `streamlit run app.py`. Where chromium
is missing the test skips with the reason, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TRAINING_TIMEOUT_MS = 180_000

pytestmark = pytest.mark.e2e


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the browser test, but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("streamlit did not become healthy in time")


@contextmanager
def serve(env: dict[str, str], log_folder: Path) -> Iterator[str]:
    """Runs the app on a free port with `env` added to ours; yields its address."""
    _require_chromium()
    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with open(log_folder / "streamlit.log", "w") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=log
        )
        url = f"http://localhost:{port}"
        try:
            _wait_healthy(url, server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Starts the app on a free port with a private workspace."""
    env = {
        "PREDICTIVE_STUDIO_WORKSPACE": str(tmp_path_factory.mktemp("ws")),
        "PREDICTIVE_STUDIO_PREPARE_DOWNLOAD": "1",  # as outside the tests
    }
    with serve(env, tmp_path_factory.mktemp("log")) as url:
        yield url


def upload_table(page, path: Path) -> None:
    """Chooses `path` in the Data page's table uploader (the page must be open)."""
    with page.expect_file_chooser() as chooser:
        page.locator(
            '[data-testid="stFileUploaderDropzone"][aria-label^="Upload a table"]'
        ).click()
    chooser.value.set_files(str(path))


@pytest.fixture
def page(app_url):
    """A fresh chromium page (Playwright) on the running app."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1400, "height": 1000}
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        yield page
        browser.close()


def _open(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for()


def test_upload_train_predict_download(page, tmp_path):
    from playwright.sync_api import expect

    expect(page.get_by_text("Predictive Studio turns examples")).to_be_visible()

    _open(page, "Data")
    upload_table(page, ROOT / "sample_data" / "heart.csv")
    expect(page.get_by_text("303 rows · 14 columns")).to_be_visible()
    expect(page.get_by_text("Data check")).to_be_visible()

    _open(page, "Train")
    expect(page.get_by_text("Suggested:")).to_be_visible()
    page.get_by_text("More settings").click()  # the settings start collapsed
    epochs = page.get_by_role("spinbutton", name="Maximum epochs")
    epochs.fill("3")
    epochs.press("Tab")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("Epoch 3/3 · completed")).to_be_visible(
        timeout=TRAINING_TIMEOUT_MS
    )

    _open(page, "Results")
    expect(page.get_by_text("How sure:").first).to_be_visible()
    expect(page.get_by_text("Scores on the test rows")).to_be_visible()

    _open(page, "Predict")
    page.get_by_role("button", name="Predict").click()
    # The first prediction imports TensorFlow and loads the model in the server.
    expect(page.get_by_text("Predicted target")).to_be_visible(timeout=60_000)

    _open(page, "Models")
    page.get_by_role("button", name="Prepare download").click()
    expect(page.get_by_text("match the live model")).to_be_visible(timeout=120_000)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download bundle.zip").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-bundle.zip")
    bundle = tmp_path / download.suggested_filename
    download.save_as(bundle)
    _assert_bundle_model_loads_in_fresh_process(bundle, tmp_path / "bundle")


def _assert_bundle_model_loads_in_fresh_process(bundle: Path, folder: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        assert {"model.keras", "metadata.json", "README.md", "predict.py"} <= set(
            archive.namelist()
        )
        archive.extractall(folder)
    script = (
        "import json, sys, keras, pandas as pd\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import predict\n"
        "meta = json.load(open(sys.argv[1] + '/metadata.json'))\n"
        "model = keras.saving.load_model(sys.argv[1] + '/model.keras')\n"
        "rows = pd.read_csv(sys.argv[2]).head(3)\n"
        "out = predict.predict_outputs(model, rows, meta['schema'])\n"
        "print(json.dumps(out.tolist()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(ROOT / "sample_data" / "heart.csv")],
        capture_output=True, text=True, timeout=180, cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    probabilities = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(probabilities) == 3
    assert all(abs(sum(row) - 1) < 1e-4 for row in probabilities)


def test_text_run_with_the_live_text_box(page):
    """Sentiment sample → train a text model → type into the live box → a prediction."""
    from playwright.sync_api import expect

    page.locator('[class*="st-key-_w_sample_sentiment"] button').click()
    expect(page.get_by_text("Review sentiment (sentences)").first).to_be_visible()

    _open(page, "Train")
    expect(page.get_by_text("Suggested: Classify texts")).to_be_visible()
    page.get_by_text("More settings").click()
    epochs = page.get_by_role("spinbutton", name="Maximum epochs")
    epochs.fill("3")
    epochs.press("Tab")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("· completed")).to_be_visible(timeout=TRAINING_TIMEOUT_MS)

    _open(page, "Predict")
    box = page.frame_locator("iframe[title*='live_text']").locator("textarea")
    box.press_sequentially("What a wonderful, lovely phone", delay=20)
    expect(page.get_by_text("sure", exact=False).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Why this prediction")).to_be_visible()


def _suggestions(page) -> list[str]:
    """The words on the search box's suggestion buttons (`word · 12%`)."""
    labels = page.get_by_role("button").filter(has_text="%").all_inner_texts()
    return [label.split(" ·")[0].strip() for label in labels if " · " in label]


def test_next_word_search_box_suggestions_follow_typing(page):
    from playwright.sync_api import expect

    _open(page, "Data")
    page.get_by_text("…or text to learn from").click()
    with page.expect_file_chooser() as chooser:
        page.locator(
            '[data-testid="stFileUploaderDropzone"]'
            '[aria-label="A .txt, or a zip of .txt files"]'
        ).click()
    chooser.value.set_files(str(ROOT / "sample_data" / "alice_in_wonderland.txt"))
    expect(page.get_by_text("Text check")).to_be_visible()

    _open(page, "Train")
    expect(page.get_by_text("Suggest the next word").first).to_be_visible()
    page.get_by_text("More settings").click()
    epochs = page.get_by_role("spinbutton", name="Maximum epochs")
    epochs.fill("1")
    epochs.press("Tab")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("Epoch 1/1 · completed")).to_be_visible(
        timeout=TRAINING_TIMEOUT_MS
    )

    page.set_default_timeout(120_000)  # the server loads TensorFlow and the model
    _open(page, "Predict")
    expect(page.get_by_text("Type as in a search box")).to_be_visible(timeout=120_000)
    box = page.frame_locator("iframe[title*='live_text']").locator("textarea")
    box.press_sequentially("the q", delay=60)
    expect(page.get_by_role("button").filter(has_text="%").first).to_be_visible(
        timeout=60_000
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => /^q\\w* · /.test(b.innerText))"
    )
    completing = _suggestions(page)
    assert completing and all(word.startswith("q") for word in completing)
    box.press_sequentially("ueen ", delay=60)
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => / · /.test(b.innerText)"
        " && !/^q/.test(b.innerText))"
    )
    assert _suggestions(page) != completing
