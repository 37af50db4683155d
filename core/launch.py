"""Starting, stopping and watching training runs through one executor contract.

This sits at the top of core, beside the catalog: it checks a run's settings with
its template, creates the run in the run store (`core.runs`) and hands it to the
executor. The executor is the one seam between the studio and whatever runs the
training process; `LocalExecutor` (one `python -m core.training RUN_DIR` process
per run on this machine) is the default, and a cluster engine can stand behind the
same four calls. `PREDICTIVE_STUDIO_EXECUTOR` picks it ("local" when unset).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from core import datasets, run_locks, runs
from core.catalog import get_template
from core.errors import RunError, UserError
from core.templates.params import resolve_params

EXECUTOR_ENV = "PREDICTIVE_STUDIO_EXECUTOR"
LOG_TAIL_BYTES = 20_000
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Executor(Protocol):
    """What runs a run's training process: submit, state, stop and logs.

    The run folder stays the single source of truth: an executor starts the worker
    (`python -m core.training RUN_DIR`), which writes the run's files itself.
    """

    name: str

    def submit(self, run_id: str) -> str:
        """Starts (or queues) the training process of a created run; returns its handle."""

    def state(self, run_id: str) -> runs.RunStatus:
        """Returns the run's status, with `lost` for a process that died."""

    def stop(self, run_id: str) -> str:
        """Asks the run to stop and keep its best model; returns its state after."""

    def logs(self, run_id: str) -> str:
        """Returns the end of the training process's output."""


class LocalExecutor:
    """One worker process per run on this machine; runs wait their turn in a queue.

    The worker waits for earlier active runs to finish (one run per device). The
    launching process takes the run's lock first and hands it to the worker, so the
    run is never without a holder while the worker starts up.
    """

    name = "local"

    def submit(self, run_id: str) -> str:
        """Starts `python -m core.training RUN_DIR` in the background.

        Returns:
            The worker's process id, as text.

        Raises:
            RunError: if another process already works on the run.
        """
        fd = run_locks.take_worker_lock(run_id)
        if fd is None:
            raise RunError(f"Run `{run_id}` already has a training process.")
        try:
            pid = self._start_worker(runs.run_dir(run_id), fd)
        finally:
            os.close(fd)  # the worker holds it now
        runs.write_status(run_id, pid=pid)
        return str(pid)

    def _start_worker(self, path: Path, lock_fd: int) -> int:
        """Starts the worker process, handing it the run's lock; returns its pid."""
        with open(path / runs.LOG_FILE, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "core.training", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=PROJECT_ROOT,
                pass_fds=(lock_fd,),
                env={**os.environ, run_locks.LOCK_FD_ENV: str(lock_fd)},
            ).pid

    def state(self, run_id: str) -> runs.RunStatus:
        """Returns the run's status as its folder tells it."""
        return runs.read_status(run_id)

    def stop(self, run_id: str) -> str:
        """Asks the worker to stop after the current epoch (see `runs.request_stop`)."""
        return runs.request_stop(run_id)

    def logs(self, run_id: str) -> str:
        """Returns the last 20 kB of the run's `train.log`."""
        path = runs.run_dir(run_id) / runs.LOG_FILE
        if not path.is_file():
            return ""
        with open(path, "rb") as log:
            log.seek(max(path.stat().st_size - LOG_TAIL_BYTES, 0))
            return log.read().decode("utf-8", errors="replace")


EXECUTORS: dict[str, type] = {"local": LocalExecutor}


def executor() -> Executor:
    """Returns the executor `$PREDICTIVE_STUDIO_EXECUTOR` names ("local" when unset).

    Raises:
        UserError: if the setting names no known executor.
    """
    name = os.environ.get(EXECUTOR_ENV) or "local"
    if name not in EXECUTORS:
        raise UserError(
            f"Invalid value for setting `{EXECUTOR_ENV}`. Expected one of "
            f"{sorted(EXECUTORS)}. Received: {EXECUTOR_ENV}={name!r}"
        )
    return EXECUTORS[name]()


def start_run(spec: runs.RunSpec) -> str:
    """Creates a run and submits it to the executor.

    Returns:
        The new run id (its state is `queued` until the worker starts training).

    Raises:
        RunError: if the training process could not be started.
    """
    run_id = runs.create_run(spec)
    try:
        executor().submit(run_id)
    except OSError as err:
        runs.write_status(
            run_id, state="failed", error=f"Could not start training: {err}"
        )
        raise RunError(f"Could not start the training process: {err}") from None
    return run_id


def start_training(
    template_name: str,
    dataset_id: str,
    target: str | None,
    params: Mapping[str, Any],
    *,
    launch_worker: bool = True,
) -> str:
    """Checks the settings and the data, then creates a run; the app and the CLI call it.

    Args:
        template_name: a registered template (`core.catalog.list_templates`).
        dataset_id: a stored dataset the template trains on.
        target: the column to predict, or None where the template needs none.
        params: overrides of the template's parameter defaults.
        launch_worker: submit the run to the executor (the app); False leaves the run
            queued for the caller to train in its own process (the CLI).

    Returns:
        The new run id.

    Raises:
        UserError: if a setting is invalid or the data cannot train this template
            (the message lists the problems, one per line).
    """
    template = get_template(template_name)
    resolved = resolve_params(template, params)
    problems = template.check(template.load_data(dataset_id), target, resolved)
    if problems:
        raise UserError("\n".join(problems))
    spec = runs.RunSpec(
        template.name,
        dataset_id,
        target,
        resolved,
        seed=int(resolved["seed"]),
        dataset_name=datasets.dataset_name(dataset_id),
    )
    return start_run(spec) if launch_worker else runs.create_run(spec)


def stop(run_id: str) -> str:
    """Asks a run to stop and keep its best model; returns its state after the request."""
    return executor().stop(run_id)


def state(run_id: str) -> runs.RunStatus:
    """Returns a run's status as its executor sees it (`lost` for a dead process)."""
    return executor().state(run_id)


def logs(run_id: str) -> str:
    """Returns the end of a run's training output."""
    return executor().logs(run_id)
