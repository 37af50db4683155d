"""Shared fixtures: a private workspace per test and tiny tables made on the fly."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core import launch, run_locks, runs, workspace

TRAINS_HINT = "this test trains a model or starts a worker: mark it `trains`"


def pytest_configure(config: pytest.Config) -> None:
    # Packaging each trained run's download takes seconds (a fresh Python checks it):
    # only the tests that ask for `prepared_downloads` do it (core.export).
    os.environ["PREDICTIVE_STUDIO_PREPARE_DOWNLOAD"] = "0"
    config.addinivalue_line("markers", "slow: starts real worker processes (seconds)")
    config.addinivalue_line("markers", "e2e: drives a real browser against the app")
    config.addinivalue_line(
        "markers", "trains: trains a model or starts a worker (not in `make test-fast`)"
    )


@pytest.fixture(scope="session", autouse=True)
def _training_refused(request) -> list[str]:
    """Under `-m "not trains ..."` (`make test-fast`), fitting or launching a worker fails.

    Returns the calls refused since the current test started (a worker thread cannot
    fail its test directly, so `_unmarked_training_fails` reads this list afterwards).
    """
    refused: list[str] = []
    if "not trains" not in (request.config.option.markexpr or ""):
        yield refused
        return
    import keras

    def refuse(*args, **kwargs):
        refused.append(TRAINS_HINT)
        pytest.fail(TRAINS_HINT)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "fit", refuse)
        patch.setattr(launch.LocalExecutor, "_start_worker", refuse)
        yield refused


@pytest.fixture(autouse=True)
def _unmarked_training_fails(_training_refused):
    """Fails a test of the fast selection that trained, even in a thread it started."""
    _training_refused.clear()
    yield
    if _training_refused:
        _training_refused.clear()
        pytest.fail(TRAINS_HINT)


@pytest.fixture
def prepared_downloads(monkeypatch):
    """Trainings in this test prepare their download, as they do outside the tests."""
    monkeypatch.setenv("PREDICTIVE_STUDIO_PREPARE_DOWNLOAD", "1")


@pytest.fixture(autouse=True)
def workspace_root(tmp_path, monkeypatch):
    """Every test gets its own empty workspace (datasets, runs, imports)."""
    root = tmp_path / "workspace"
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(root))
    return root


@dataclass(frozen=True)
class PrivateWorkspace:
    """A workspace filled once per session (by `trained_workspace`) and what filling it
    returned: a run id, a dict of run ids, or the CLI's answer."""

    root: Path
    made: Any

    def use(self, monkeypatch: pytest.MonkeyPatch) -> Any:
        """Points the test at this workspace (instead of its own empty one)."""
        monkeypatch.setenv(workspace.WORKSPACE_ENV, str(self.root))
        return self.made


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory) -> Callable[..., PrivateWorkspace]:
    """`trained_workspace(name, fill)`: runs `fill()` once per session in a new, empty
    workspace of its own (e.g. storing a dataset and `train_here`) and keeps the result.

    Tests that share a name share the runs, so a test that changes them works on a copy.
    """
    made: dict[str, PrivateWorkspace] = {}

    def get(name: str, fill: Callable[[], Any]) -> PrivateWorkspace:
        if name not in made:
            root = tmp_path_factory.mktemp(name) / "workspace"
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(workspace.WORKSPACE_ENV, str(root))
                made[name] = PrivateWorkspace(root, fill())
        return made[name]

    return get


def train_here(spec: runs.RunSpec) -> str:
    """Creates a run in the current workspace and trains it in this process; its id."""
    from core import training

    run_id = runs.create_run(spec)
    assert training.train_run(run_id) == "completed", runs.read_status(run_id)
    return run_id


@pytest.fixture
def ordered_run_ids(monkeypatch):
    """Each new run id is stamped 1 ms after the last, so ids sort by creation (no sleep)."""
    start, ticks = datetime(2026, 1, 1, 12, 0, 0), itertools.count()

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return start + timedelta(milliseconds=next(ticks))

    monkeypatch.setattr(runs, "datetime", Clock)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls `predicate` until it holds; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)  # the poll interval of a wait with a deadline


@pytest.fixture(autouse=True)
def _release_worker_locks():
    """Run locks a test takes as a pretend worker are dropped after it."""
    yield
    for run_id in list(run_locks._held_locks):
        run_locks.release_worker_lock(run_id)


@pytest.fixture
def tiny_table() -> pd.DataFrame:
    """40 rows: two numbers (one with gaps), a category and a learnable binary target."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    return pd.DataFrame(
        {
            "x": x,
            "z": np.where(np.arange(40) % 7 == 0, np.nan, rng.normal(size=40)),
            "color": rng.choice(["red", "green", "blue"], size=40),
            "label": np.where(x > 0, "yes", "no"),
        }
    )


@pytest.fixture
def tiny_regression_table(tiny_table) -> pd.DataFrame:
    """The tiny table with a numeric target `y` = 3x + noise instead of `label`."""
    frame = tiny_table.drop(columns="label")
    frame["y"] = 3 * frame["x"] + np.random.default_rng(1).normal(scale=0.1, size=40)
    return frame


FAST_PARAMS = {"epochs": 2, "batch_size": 8, "patience": 2}


def tiny_series(n: int = 200) -> pd.DataFrame:
    """`n` daily steps: y = sine + trend + noise, a covariate and a text column."""
    rng = np.random.default_rng(0)
    steps = np.arange(n)
    return pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=n, freq="D").strftime(
                "%Y-%m-%d"
            ),
            "y": 10 * np.sin(2 * np.pi * steps / 7) + 0.05 * steps + rng.normal(size=n),
            "x": rng.normal(size=n),
            "note": rng.choice(["a", "b"], size=n),
        }
    )
