"""The data check's fixes in a real browser: click a fix, see it on Train and Results.

A small table whose `chol` holds impossible zeros and whose `ecg` is mostly empty
(heart.csv triggers neither: its only finding is a duplicated row).
"""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import (  # noqa: F401  app_url and page are fixtures
    TRAINING_TIMEOUT_MS,
    _open,
    app_url,
    page,
    upload_table,
)
from tests.test_data_fixes import heart_like

pytestmark = pytest.mark.e2e


def test_a_fix_clicked_in_the_data_check_reaches_train_and_results(page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    path = tmp_path / "checkup.csv"
    heart_like().to_csv(path, index=False)
    _open(page, "Data")
    upload_table(page, path)
    expect(page.get_by_text("far below every other value", exact=False)).to_be_visible(
        timeout=30_000
    )
    chosen = page.get_by_test_id("stMarkdownContainer")
    for fix in ("Treat 0 in “chol” as missing", "Leave “ecg” out"):
        page.get_by_role("button", name=fix).click()
        # The button goes and the fix is listed under "Fixes you chose", with an Undo.
        expect(page.get_by_role("button", name=fix)).to_have_count(0)
        expect(chosen.filter(has_text=fix).first).to_be_visible()
    expect(page.get_by_text("Fixes you chose")).to_be_visible()
    expect(page.get_by_role("button", name="Undo")).to_have_count(2)

    _open(page, "Train")
    expect(page.get_by_text("Fixes from the data check")).to_be_visible()
    listed = "treat 0 in “chol” as missing; leave “ecg” out"
    expect(page.get_by_text(listed, exact=False)).to_be_visible()
    page.get_by_text("More settings").click()
    epochs = page.get_by_role("spinbutton", name="Maximum epochs")
    epochs.fill("1")
    epochs.press("Tab")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("Epoch 1/1 · completed")).to_be_visible(
        timeout=TRAINING_TIMEOUT_MS
    )

    _open(page, "Results")
    expect(page.get_by_text("You asked: treat 0 in “chol” as missing.")).to_be_visible()
    expect(page.get_by_text("You asked: leave “ecg” out.")).to_be_visible()
