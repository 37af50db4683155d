"""Run store: one folder per training run, plain files as the single source of truth.

Stdlib and pandas only, so pages can list runs on every rerun without loading Keras.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core import workspace

logger = logging.getLogger(__name__)

SPEC_FILE = "spec.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.csv"
LOG_FILE = "train.log"
MODEL_FILE = "model.keras"
EVALUATION_FILE = "evaluation.json"
INFO_FILE = "info.json"
BUNDLE_FILE = "bundle.zip"
EXPORT_CHECK_FILE = "export_check.json"
STOP_FILE = "STOP"

ACTIVE_STATES = ("queued", "running")
UNLAUNCHED_SECONDS = 10  # a queued run with no worker after this long is dead
FINAL_STATES = ("completed", "failed", "stopped")
LOST_MESSAGE = (
    "The training process ended unexpectedly (it was killed or ran out of memory). "
    "Earlier runs are untouched; start a new run to try again."
)


class RunError(ValueError):
    """A run id or run request that cannot be served, with a user-readable message."""


@dataclass(frozen=True)
class RunSpec:
    """What to train: written once to `spec.json` when a run is created."""

    template: str
    dataset_id: str
    target: str | None
    params: Mapping[str, Any]
    seed: int = 1337
    dataset_name: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunStatus:
    """The latest state of a run as read from `status.json`."""

    run_id: str
    state: str
    epoch: int = 0
    epochs: int = 0
    pid: int | None = None
    error: str = ""
    device: str = ""
    started_at: float | None = None
    updated_at: float | None = None
    message: str = ""
    phase: str = ""  # "preparing", "training", "saving", "checking" or "evaluating"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def fraction(self) -> float:
        if self.state == "completed":
            return 1.0
        return min(1.0, self.epoch / self.epochs) if self.epochs else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left if every remaining epoch takes as long as the average one.

        None outside the training phase: the epochs left no longer run.
        """
        if self.state != "running" or self.phase not in ("", "training"):
            return None
        if not self.epoch or not self.started_at:
            return None
        per_epoch = ((self.updated_at or time.time()) - self.started_at) / self.epoch
        return max(0.0, per_epoch * (self.epochs - self.epoch))


def runs_root() -> Path:
    """Returns the folder that holds every run (created on demand)."""
    root = workspace.root() / "runs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def run_dir(run_id: str) -> Path:
    """Returns the folder of an existing run.

    Raises:
        RunError: if `run_id` is not a plain name of an existing run.
    """
    if not run_id or Path(run_id).name != run_id or run_id.startswith("."):
        raise RunError(f"Invalid value for argument `run_id`. Received: {run_id!r}")
    path = runs_root() / run_id
    if not (path / SPEC_FILE).is_file():
        raise RunError(f"There is no run `{run_id}`. See `python -m core runs`.")
    return path


def new_run_id(template: str) -> str:
    """Returns a sortable, collision-free id like `20261125-103000-123-tabular_x-1a2b`."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]  # milliseconds keep order
    return f"{stamp}-{template}-{secrets.token_hex(2)}"


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Writes JSON to a temporary file and moves it over `path` in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    """Reads a JSON file, returning `{}` when it is missing or half-written."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def create_run(spec: RunSpec) -> str:
    """Creates a run folder with its spec and a `queued` status.

    Args:
        spec: what to train.

    Returns:
        The new run id.
    """
    run_id = new_run_id(spec.template)
    path = runs_root() / run_id
    path.mkdir(parents=True)
    write_status(run_id, state="queued", epochs=int(spec.params.get("epochs", 0)))
    spec_data = {**asdict(spec), "run_id": run_id, "created_at": time.time()}
    write_json_atomic(
        path / SPEC_FILE, spec_data
    )  # last: the run exists once it has a spec
    return run_id


def read_spec(run_id: str) -> dict[str, Any]:
    """Returns the spec of a run as a dict."""
    return read_json(run_dir(run_id) / SPEC_FILE)


def write_status(run_id: str, **changes: Any) -> None:
    """Merges `changes` into `status.json`, stamping `updated_at`."""
    path = runs_root() / run_id / STATUS_FILE
    status = read_json(path)
    status.update(changes, updated_at=time.time())
    write_json_atomic(path, status)


def is_process_alive(pid: int | None) -> bool:
    """Tells whether `pid` is a live process (a zombie counts as dead)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc on this system: trust the signal check


def read_status(run_id: str) -> RunStatus:
    """Reads the status of a run; an active run whose worker is gone becomes `failed`.

    Raises:
        RunError: if the run does not exist.
    """
    path = run_dir(run_id) / STATUS_FILE
    data = read_json(path) or {"state": "queued", "updated_at": time.time()}
    if data.get("state") in ACTIVE_STATES and not is_process_alive(data.get("pid")):
        if (
            data.get("pid")
            or time.time() - data.get("updated_at", 0) > UNLAUNCHED_SECONDS
        ):
            write_status(run_id, state="failed", error=LOST_MESSAGE)
            data = read_json(path)
    known = RunStatus.__dataclass_fields__
    return RunStatus(run_id=run_id, **{k: v for k, v in data.items() if k in known})


def read_metrics(run_id: str) -> pd.DataFrame:
    """Returns one row per finished epoch (empty before the first epoch ends)."""
    path = run_dir(run_id) / METRICS_FILE
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def read_evaluation(run_id: str) -> dict[str, Any]:
    """Returns the evaluation report of a run, or `{}` before it exists."""
    return read_json(run_dir(run_id) / EVALUATION_FILE)


def read_info(run_id: str) -> dict[str, Any]:
    """Returns what training learned about the data: schema, classes, split sizes."""
    return read_json(run_dir(run_id) / INFO_FILE)


def list_runs() -> list[str]:
    """Returns all run ids, newest first."""
    found = [p.name for p in runs_root().iterdir() if (p / SPEC_FILE).is_file()]
    return sorted(found, reverse=True)


def active_runs() -> list[str]:
    """Returns ids of runs that are queued or running, oldest first."""
    return [r for r in reversed(list_runs()) if read_status(r).is_active]


def runs_ahead_of(run_id: str) -> list[str]:
    """Returns the active runs that were created before `run_id` (its queue)."""
    return [r for r in active_runs() if r < run_id]


def launch(run_id: str) -> int:
    """Starts the training worker `python -m core.training RUN_DIR` in the background.

    The worker waits for earlier active runs to finish (one run per device).

    Returns:
        The worker's process id.
    """
    path = run_dir(run_id)
    with open(path / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.training", str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    write_status(run_id, pid=process.pid)
    return process.pid


def start_run(spec: RunSpec) -> str:
    """Creates a run and launches its worker; the one call the Train page makes.

    Returns:
        The new run id (its state is `queued` until the worker starts training).
    """
    run_id = create_run(spec)
    try:
        launch(run_id)
    except OSError as err:
        write_status(run_id, state="failed", error=f"Could not start training: {err}")
        raise RunError(f"Could not start the training process: {err}") from None
    return run_id


def request_stop(run_id: str) -> None:
    """Asks the worker to stop after the current epoch and keep the best model."""
    (run_dir(run_id) / STOP_FILE).touch()


def is_stop_requested(run_id: str) -> bool:
    """Tells whether a graceful stop was requested for the run."""
    return (runs_root() / run_id / STOP_FILE).exists()


def delete_run(run_id: str) -> None:
    """Deletes a finished run's folder.

    Raises:
        RunError: if the run is still queued or running.
    """
    path = run_dir(run_id)
    if read_status(run_id).is_active:
        raise RunError(f"Run `{run_id}` is still active. Stop it before deleting it.")
    shutil.rmtree(path)


def summarize_run(run_id: str) -> dict[str, Any]:
    """Returns one row for a run table: template, dataset, target, metric, state, date."""
    spec = read_spec(run_id)
    status = read_status(run_id)
    metrics = read_evaluation(run_id).get("metrics", {})
    key = "accuracy" if "accuracy" in metrics else next(iter(metrics), "")
    created = datetime.fromtimestamp(spec.get("created_at", 0)).strftime(
        "%Y-%m-%d %H:%M"
    )
    return {
        "run_id": run_id,
        "template": spec.get("template", ""),
        "dataset": spec.get("dataset_name") or spec.get("dataset_id", ""),
        "target": spec.get("target", ""),
        "metric": key,
        "value": metrics.get(key),
        "state": status.state,
        "created": created,
    }
