"""Run store: one folder per training run, plain files as the single source of truth.

Stdlib and pandas only, so pages can list runs on every rerun without loading Keras.

Two sorts of readers: `read_*` never fail on a missing or damaged file (they return
what is there, for lists and live progress), while `load_spec`, `load_info`,
`load_evaluation` and `load_model` serve a run that is to be used (predict, export,
report) and refuse a damaged file with a `RunError` in one sentence.

Whether a run is alive is `core.run_locks`. The rest stays one module past ~500 lines:
its readers, damage checks and run summary share the file names, the states and the
private refusal and field helpers, so a split would only make those public.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core import run_locks, workspace
from core.errors import RunError
from core.templates import registry
from core.templates.base import Info, Report

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
MAX_RUN_ID_LENGTH = 200  # ours are ~60 characters; file systems allow 255 bytes

ACTIVE_STATES = ("queued", "running")
UNLAUNCHED_SECONDS = 10  # a queued run nobody has locked after this long is dead
FINAL_STATES = ("completed", "failed", "stopped")
USABLE_STATES = ("completed", "stopped")  # both keep the best model
LOST_MESSAGE = (
    "The training process ended before it finished (it was killed, ran out of memory "
    "or could not write its files, e.g. on a full disk). Earlier runs are untouched; "
    "start a new run to try again."
)
DAMAGED_STATUS_MESSAGE = (
    "The run's status file (status.json) is damaged and no training process is "
    "working on it. Delete the run and train again."
)
FILE_WORDS = {  # what each file holds, in the words a damaged-run sentence uses
    SPEC_FILE: "settings file",
    INFO_FILE: "data description",
    EVALUATION_FILE: "test report",
    MODEL_FILE: "model file",
}


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
    # "preparing", "training", "saving", "checking", "evaluating" or "packaging"
    phase: str = ""
    time_budget_s: float = 0.0  # the run's time budget; 0 means none
    first_epoch_at: float | None = None  # when the first epoch ended
    run_started_at: float | None = None  # the worker began: the budget counts from here
    after_training_s: float = 0.0  # the time kept for the work after the epochs
    training_ended_at: float | None = None  # when the epochs ended
    stop_reason: str = ""  # "early_stopping", "time_budget", "user" or "" (all epochs)
    best_epoch: int = 0  # the epoch whose model is kept (1-based; 0: unknown)

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
        """Seconds until the run ends; None while there is no estimate yet (see `eta_at`)."""
        return self.eta_at(time.time())

    def budget_left_at(self, now: float) -> float | None:
        """Seconds of the time budget not yet spent at `now`; None without a budget."""
        if self.time_budget_s <= 0:
            return None
        start = self.run_started_at or self.started_at or now
        return max(0.0, start + self.time_budget_s - now)

    def budget_spent_at(self, now: float) -> bool:
        """Tells whether training is out of time at `now`: only the work after it is left.

        The worker stops the epochs once the budget left is the time kept for that work.
        """
        left = self.budget_left_at(now)
        return left is not None and left <= self.after_training_s

    def eta_at(self, now: float) -> float | None:
        """Seconds until the run ends at `now`: the epochs left, then the work after them.

        The usual epoch is the average since the first one ended (the first also
        builds the model, so it runs long), or the first itself while it is the only
        one. The work after the epochs (the last validation, saving, checking the
        download, evaluating) takes `after_training_s`, the worker's estimate. A time
        budget stops the epochs in time for that work, and caps the whole estimate at
        the budget not yet spent.

        None outside the run's training and after-training phases, before the first
        epoch ends (nothing to estimate from), and once the after-training estimate
        has run out.
        """
        if self.state != "running":
            return None
        if self.phase in AFTER_TRAINING_PHASES:
            spent = now - (self.training_ended_at or now)
            return self._capped(self.after_training_s - spent, now) or None
        if self.phase not in ("", "training") or not self.epoch or not self.started_at:
            return None
        last = self.updated_at or now
        if self.epoch > 1 and self.first_epoch_at:
            per_epoch = (last - self.first_epoch_at) / (self.epoch - 1)
        else:
            per_epoch = (last - self.started_at) / self.epoch
        training = max(0.0, per_epoch * (self.epochs - self.epoch))
        budget_left = self.budget_left_at(now)
        if budget_left is not None:
            training = min(training, max(0.0, budget_left - self.after_training_s))
        return self._capped(training + self.after_training_s, now)

    def _capped(self, seconds: float, now: float) -> float:
        budget_left = self.budget_left_at(now)
        seconds = max(0.0, seconds)
        return seconds if budget_left is None else min(seconds, budget_left)


AFTER_TRAINING_PHASES = ("saving", "checking", "evaluating")
STOP_REASONS = ("early_stopping", "time_budget", "user")


def format_duration(seconds: float) -> str:
    """About how long, in words: `40 s`, `3 min`, `1 h 5 min`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def stop_sentence(status: RunStatus) -> str:
    """Why training ended before its last epoch, in plain words ("" if it ran them all).

    E.g. "Stopped early at epoch 33 of 200: the validation score had stopped
    improving (the best epoch, 28, is kept)."
    """
    where = f"at epoch {status.epoch} of {status.epochs}"
    so_far = " so far" if status.stop_reason == "user" else ""
    best = f"the best epoch{so_far}, {status.best_epoch}, is kept"
    if not status.best_epoch:
        best = "the best model so far is kept"
    if status.stop_reason == "early_stopping":
        return (
            f"Stopped early {where}: the validation score had stopped improving "
            f"({best})."
        )
    if status.stop_reason == "time_budget":
        budget = format_duration(status.time_budget_s)
        return f"Stopped at the time budget ({budget}) {where} ({best})."
    if status.stop_reason == "user":
        return f"Stopped by you {where} ({best})."
    return ""


def runs_root() -> Path:
    """Returns the folder that holds every run (created on demand)."""
    root = workspace.root() / workspace.RUNS_FOLDER
    root.mkdir(parents=True, exist_ok=True)
    return root


def run_dir(run_id: str) -> Path:
    """Returns the folder of an existing run.

    Raises:
        RunError: if `run_id` is not a plain name of an existing run.
    """
    if (
        not run_id
        or Path(run_id).name != run_id
        or run_id.startswith(".")
        or len(run_id) > MAX_RUN_ID_LENGTH
    ):
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
    """Writes JSON to a temporary file and moves it over `path` in one step.

    Readers see the old file or the new one, never a part; if the write fails (e.g. a
    full disk) the temporary file is removed and the error is raised.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any]:
    """Reads a JSON object, returning `{}` when it is missing, damaged or not an object."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):  # missing, unreadable, cut short, not UTF-8
        return {}
    return found if isinstance(found, dict) else {}


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
    """Returns the spec of a run as a dict (`{}` if damaged; see `load_spec`)."""
    return read_json(run_dir(run_id) / SPEC_FILE)


def load_spec(run_id: str) -> dict[str, Any]:
    """Returns the spec of a run that is to be trained or used.

    Raises:
        RunError: if the run does not exist or its spec.json is missing or damaged.
    """
    spec = read_spec(run_id)
    problem = _spec_problem(spec)
    if problem:
        raise _unusable(run_id, problem)
    return spec


def _spec_problem(spec: Mapping[str, Any]) -> str:
    """What is wrong with a spec: it names no template ("" if nothing)."""
    template = spec.get("template")
    return (
        "" if isinstance(template, str) and template else _missing_or_damaged(SPEC_FILE)
    )


def _missing_or_damaged(name: str) -> str:
    return f"its {FILE_WORDS[name]} ({name}) is missing or damaged"


def _unusable(run_id: str, problem: str) -> RunError:
    return RunError(
        f"Run `{run_id}` cannot be used: {problem}. Train it again or delete it."
    )


def _refusal(run_id: str, problem: str) -> RunError:
    """Refuses a run whose file written by training is missing or damaged.

    A run still in training has no model or report yet: it is told so instead.
    """
    state = read_status(run_id).state
    if state in ACTIVE_STATES:
        return RunError(
            f"Run `{run_id}` is still {state}; it can be used once training ends."
        )
    return _unusable(run_id, problem)


def write_status(run_id: str, **changes: Any) -> None:
    """Merges `changes` into `status.json`, stamping `updated_at`."""
    path = runs_root() / run_id / STATUS_FILE
    status = read_json(path)
    status.update(changes, updated_at=time.time())
    write_json_atomic(path, status)


def _is_lost(run_id: str, data: Mapping[str, Any]) -> bool:
    """An unfinished run with no worker is lost, except a just-created one.

    Between `create_run` and its worker taking the lock (milliseconds) a run is queued
    with no process id; once a worker wrote its id, losing the lock means it died.
    """
    if data.get("state") in FINAL_STATES or run_locks.has_worker(run_id):
        return False
    age = time.time() - _number(data.get("updated_at"), float, 0.0)
    unclaimed = data.get("state") == "queued" and data.get("pid") is None
    return not (unclaimed and 0 <= age < UNLAUNCHED_SECONDS)


def _mark_lost(run_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Records a lost run as failed; if even that cannot be written, reads it so."""
    known = data.get("state") in ACTIVE_STATES
    failed = {
        "state": "failed",
        "error": LOST_MESSAGE if known else DAMAGED_STATUS_MESSAGE,
    }
    try:
        write_status(run_id, **failed)
    except OSError as err:
        logger.warning("Could not record run %s as failed: %s", run_id, err)
    return {**data, **failed}


def _number(value: Any, number_type: type, default: Any) -> Any:
    """Returns `value` as `number_type` if it is a finite number (not a bool), else `default`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return (
        number_type(value) if math.isfinite(value) and abs(value) < 2**62 else default
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _status_from(run_id: str, data: Mapping[str, Any]) -> RunStatus:
    """Builds a RunStatus from whatever `status.json` held, field by field."""
    state = data.get("state")
    return RunStatus(
        run_id=run_id,
        state=state if state in ACTIVE_STATES + FINAL_STATES else "running",
        epoch=_number(data.get("epoch"), int, 0),
        epochs=_number(data.get("epochs"), int, 0),
        pid=_number(data.get("pid"), int, None),
        error=_text(data.get("error")),
        device=_text(data.get("device")),
        started_at=_number(data.get("started_at"), float, None),
        updated_at=_number(data.get("updated_at"), float, None),
        message=_text(data.get("message")),
        phase=_text(data.get("phase")),
        time_budget_s=max(0.0, _number(data.get("time_budget_s"), float, 0.0)),
        first_epoch_at=_number(data.get("first_epoch_at"), float, None),
        run_started_at=_number(data.get("run_started_at"), float, None),
        after_training_s=max(0.0, _number(data.get("after_training_s"), float, 0.0)),
        training_ended_at=_number(data.get("training_ended_at"), float, None),
        stop_reason=_choice(data.get("stop_reason"), STOP_REASONS),
        best_epoch=max(0, _number(data.get("best_epoch"), int, 0)),
    )


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    return value if value in choices else ""


def read_status(run_id: str) -> RunStatus:
    """Reads the status of a run; an unfinished run with no live worker becomes `failed`.

    A run is alive while its worker holds the run's lock file, never because some
    process id exists. A damaged status file of a run with no worker reads as failed.

    Raises:
        RunError: if the run does not exist.
    """
    data = read_json(run_dir(run_id) / STATUS_FILE)
    if _is_lost(run_id, data):
        data = _mark_lost(run_id, data)
    return _status_from(run_id, data)


def read_metrics(run_id: str) -> pd.DataFrame:
    """Returns one row per finished epoch (empty before the first epoch ends)."""
    path = run_dir(run_id) / METRICS_FILE
    try:
        return pd.read_csv(path)
    except (OSError, ValueError):  # missing, empty, cut short or not CSV
        return pd.DataFrame()


def read_evaluation(run_id: str) -> Report:
    """Returns the evaluation report of a run, or `{}` before it exists (or if damaged)."""
    return read_json(run_dir(run_id) / EVALUATION_FILE)


def load_evaluation(run_id: str) -> Report:
    """Returns the evaluation report of a finished run.

    Raises:
        RunError: if the run does not exist, or its evaluation.json is missing,
            damaged or holds no metrics.
    """
    report = read_evaluation(run_id)
    if not isinstance(report.get("metrics"), dict):
        raise _refusal(run_id, _missing_or_damaged(EVALUATION_FILE))
    return report


def read_info(run_id: str) -> Info:
    """Returns what training learned about the data: schema, classes, split sizes.

    `{}` before training wrote it, or if it is damaged; see `load_info`.
    """
    return read_json(run_dir(run_id) / INFO_FILE)


def load_info(run_id: str) -> Info:
    """Returns what training learned about the data, for a run that is to be used.

    Raises:
        RunError: if the run does not exist or its info.json is missing or damaged.
    """
    info = read_info(run_id)
    if not info:
        raise _refusal(run_id, _missing_or_damaged(INFO_FILE))
    return info


def load_model(run_id: str) -> Any:
    """Loads a run's model with Keras' safe mode on (no code from the file is run).

    Raises:
        RunError: if the run does not exist, is still training, or its model.keras
            is missing, cut short or not a Keras model file (the error's `__cause__`
            is what Keras raised, if it got that far).
    """
    folder = run_dir(run_id)
    problem = _model_problem(folder)
    if problem:
        raise _refusal(run_id, problem)
    import keras

    try:
        # compile=False: predicting needs no loss, and a custom training loss (the
        # forecaster's pinball loss) must not be required to load a model.
        return keras.saving.load_model(folder / MODEL_FILE, compile=False)
    except Exception as err:  # noqa: BLE001  whatever the file holds: one sentence
        raise _refusal(run_id, MODEL_DAMAGED) from err


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


def run_kind(run_id: str) -> str:
    """Returns the kind of data a run models ("table", "series", "images", ...).

    Runs record it in `info.json`; for older runs and imported bundles it is the
    kind of the template named in the run's spec.

    Raises:
        TemplateError: if the run names no registered template and records no kind.
    """
    kind = read_info(run_id).get("data_kind")
    if isinstance(kind, str) and kind:
        return kind
    return registry.get_template(str(read_spec(run_id).get("template"))).data_kind


def request_stop(run_id: str) -> str:
    """Asks the worker to stop after the current epoch and keep the best model.

    A run that is unfinished but has no worker (it will never pick up the request) is
    marked `stopped` at once, so a stuck run always has a way out.

    Returns:
        The run's state after the request.
    """
    path = run_dir(run_id)
    (path / STOP_FILE).touch()
    if read_json(path / STATUS_FILE).get("state") in FINAL_STATES:
        return read_status(run_id).state
    if not run_locks.has_worker(run_id):
        write_status(
            run_id, state="stopped", message="Stopped; it had no training process."
        )
    return read_status(run_id).state


def is_stop_requested(run_id: str) -> bool:
    """Tells whether a graceful stop was requested for the run."""
    return (runs_root() / run_id / STOP_FILE).exists()


def is_folder_gone(run_id: str) -> bool:
    """Tells whether the run's folder was deleted (e.g. while its worker trained)."""
    return not (runs_root() / run_id).is_dir()


def delete_run(run_id: str) -> None:
    """Deletes a finished run's folder.

    Raises:
        RunError: if the run is still queued or running.
    """
    path = run_dir(run_id)
    if read_status(run_id).is_active:
        raise RunError(f"Run `{run_id}` is still active. Stop it before deleting it.")
    shutil.rmtree(path)


MODEL_DAMAGED = "its model file (model.keras) is damaged or cut short"


def _model_problem(folder: Path) -> str:
    model = folder / MODEL_FILE
    if not model.is_file():
        return "its model file (model.keras) is missing"
    if not zipfile.is_zipfile(model):
        return MODEL_DAMAGED
    return ""


def run_problem(run_id: str) -> str:
    """Says what is damaged in a run's folder, or returns "" when nothing is.

    A completed run needs its spec, model, info and evaluation; a stopped one only its
    spec, and a sound model if it kept one.
    """
    folder = run_dir(run_id)
    problem = _spec_problem(read_spec(run_id))
    if problem:
        return problem
    state = read_status(run_id).state
    if state == "stopped" and (folder / MODEL_FILE).exists():
        return _model_problem(folder)
    if state != "completed":
        return ""
    for name in (INFO_FILE, EVALUATION_FILE):
        if not read_json(folder / name):
            return _missing_or_damaged(name)
    return _model_problem(folder)


def is_usable(run_id: str) -> bool:
    """Tells whether a run can predict: finished, sound, and its export check (if any) passed."""
    folder = run_dir(run_id)
    return (
        read_status(run_id).state in USABLE_STATES
        and (folder / MODEL_FILE).is_file()
        and bool(read_json(folder / EVALUATION_FILE))
        and not run_problem(run_id)
        and read_json(folder / EXPORT_CHECK_FILE).get("ok", True) is True
    )


def usable_runs() -> list[str]:
    """Runs that can predict, newest first (see `is_usable`)."""
    return [r for r in list_runs() if is_usable(r)]


def summarize_run(run_id: str) -> dict[str, Any]:
    """Returns one row for a run table: template, dataset, target, metric, state, date.

    A damaged run reads as state "damaged", with what is wrong in "problem".
    """
    spec = read_spec(run_id)
    status = read_status(run_id)
    problem = run_problem(run_id)
    report: Report = read_evaluation(run_id)
    metrics = report.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    key = "accuracy" if "accuracy" in metrics else next(iter(metrics), "")
    headline = report.get("headline_metric")  # e.g. average precision, rare class
    if isinstance(headline, str) and headline in metrics:
        key = headline
    try:
        created = datetime.fromtimestamp(_number(spec.get("created_at"), float, 0.0))
    except (OverflowError, OSError, ValueError):  # a date no calendar holds
        created = datetime.fromtimestamp(0)
    return {
        "run_id": run_id,
        "template": _text(spec.get("template")),
        "dataset": _text(spec.get("dataset_name") or spec.get("dataset_id")),
        "target": _text(spec.get("target")),
        "metric": key,
        "value": _number(metrics.get(key), float, None),
        "state": "damaged" if problem else status.state,
        "created": created.strftime("%Y-%m-%d %H:%M"),
        "problem": problem,
    }
