"""An honest clock: a run under a small time budget shows a time left within the budget,
ends near it, and says in plain words why it stopped before its last epoch.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.test_browser import (  # noqa: F401  app_url and page are fixtures
    ROOT,
    TRAINING_TIMEOUT_MS,
    _open,
    app_url,
    page,
    upload_table,
)

pytestmark = pytest.mark.e2e
BUDGET_S = 20
STALE_S = 5
LEFT = re.compile(r"about (\d+) (s|min) left|at most (\d+) (s|min)")


def _seconds_left(text: str) -> list[int]:
    """Every duration the progress text promises, in seconds."""
    found = []
    for match in LEFT.finditer(text):
        number, unit = (match[1], match[2]) if match[1] else (match[3], match[4])
        found.append(int(number) * (60 if unit == "min" else 1))
    return found


def _fill(page, label: str, value: int) -> None:  # noqa: F811
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Tab")


def test_budgeted_run_shows_time_within_budget_and_why_it_stopped(page):  # noqa: F811
    from playwright.sync_api import expect

    _open(page, "Data")
    upload_table(page, ROOT / "sample_data" / "heart.csv")
    expect(page.get_by_text("303 rows · 14 columns")).to_be_visible()

    _open(page, "Train")
    expect(page.get_by_text("Suggested:")).to_be_visible()
    page.get_by_text("More settings").click()
    _fill(page, "Maximum epochs", 5000)  # far more than the budget allows
    _fill(page, "Patience (epochs)", 5000)  # so the budget, not early stopping, ends it
    _fill(page, "Time budget (seconds, 0 = none)", BUDGET_S)
    page.get_by_role("button", name="Train").click()

    progress = page.get_by_test_id("stProgress")
    expect(progress).not_to_contain_text("Waiting", timeout=60_000)
    # the worker has started: its clock (the budget's) began at most a moment ago
    promised, started = [], time.monotonic()
    deadline = started + TRAINING_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        text = progress.inner_text()
        if text.startswith("Stopped"):
            break
        promised += [(s, time.monotonic() - started) for s in _seconds_left(text)]
        time.sleep(0.5)
    ended = time.monotonic() - started
    assert re.match(
        rf"Stopped at the time budget \({BUDGET_S} s\) at epoch \d+ of 5000 "
        r"\(the best epoch, \d+, is kept\)\.",
        progress.inner_text(),
    ), progress.inner_text()
    assert promised, "the progress never said how long was left"
    # never more than the budget not yet spent (the page redraws about once a second,
    # later on a busy machine: a text may be a few seconds old when it is read)
    for seconds, at in promised:
        assert seconds <= min(BUDGET_S, BUDGET_S - at + STALE_S), (
            seconds,
            at,
            promised,
        )
    # the page saw the run start after the worker began, so this is a lower bound
    assert ended <= BUDGET_S + 10, f"a {BUDGET_S}-s budget took {ended:.0f} s"
    expect(page.get_by_text("Training finished")).to_be_visible()
