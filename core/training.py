"""The training worker: `python -m core.training RUN_DIR` trains one run, writing only files.

The run directory is the single source of truth: status.json and metrics.csv are updated
every epoch, model.keras and evaluation.json are written at the end.
"""

from __future__ import annotations

import csv
import errno
import logging
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from core import export, run_locks, runs
from core.catalog import get_template
from core.errors import DataError, RunError, TrainingError, UserError
from core.templates.base import Info, Prepared, Report, Split
from core.templates.params import resolve_params

logger = logging.getLogger(__name__)

QUEUE_POLL_SECONDS = 1.0
DIVERGED_MESSAGE = (
    "Training diverged: the error became infinite (NaN), so the model learned nothing "
    "useful. Lower the learning rate (e.g. divide it by 10) and train again."
)


NOT_STARTED_MESSAGE = "Stopped before the first epoch ended; no model was kept."


class RunFolderGone(RuntimeError):
    """The run's folder was deleted while its worker was training."""


class RunDirLogger(keras.callbacks.Callback):
    """Writes progress to the run directory each epoch and honours the STOP flag.

    `time_budget_s` goes into status.json too, so the time left shown never exceeds it.
    """

    def __init__(self, run_id: str, epochs: int, time_budget_s: float = 0.0) -> None:
        super().__init__()
        self.run_id = run_id
        self.epochs = epochs
        self.time_budget_s = time_budget_s
        self.path = runs.runs_root() / run_id / runs.METRICS_FILE

    def on_train_begin(self, logs: dict | None = None) -> None:
        runs.write_status(
            self.run_id,
            state="running",
            epoch=0,
            epochs=self.epochs,
            started_at=time.time(),
            first_epoch_at=None,
            time_budget_s=self.time_budget_s,
            message="",
            phase="training",
        )
        self.path.unlink(missing_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if runs.is_folder_gone(self.run_id):
            raise RunFolderGone(self.run_id)
        logs = logs or {}
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        is_new = not self.path.exists()
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if is_new:
                writer.writeheader()
            writer.writerow(row)
        first = {"first_epoch_at": time.time()} if epoch == 0 else {}
        runs.write_status(self.run_id, epoch=epoch + 1, **first)
        if runs.is_stop_requested(self.run_id):
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `seconds` have passed (0 means no limit)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.seconds and time.monotonic() - self.started > self.seconds:
            self.model.stop_training = True


def configure_device() -> str:
    """Enables GPU memory growth and mixed precision where supported.

    Returns:
        A short description of the device used, e.g. "GPU: NVIDIA H100" or "CPU (2 cores)".
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    details = tf.config.experimental.get_device_details(gpus[0])
    if details.get("compute_capability", (0, 0)) >= (7, 0):
        keras.mixed_precision.set_global_policy("mixed_float16")
    return f"GPU: {details.get('device_name', gpus[0].name)}"


def wait_for_turn(run_id: str) -> bool:
    """Waits while earlier runs use the device; returns False if a stop came first."""
    while ahead := runs.runs_ahead_of(run_id):
        runs.write_status(run_id, message=f"Waiting for run {ahead[0]} to finish.")
        if runs.is_stop_requested(run_id):
            return False
        time.sleep(QUEUE_POLL_SECONDS)
    return True


def train_run(run_id: str) -> str:
    """Trains, saves and evaluates one run, recording every outcome in its directory.

    The worker holds the run's lock for the whole run, which is what tells other
    processes that the run is alive. Ctrl-C (KeyboardInterrupt) counts as Stop.

    Args:
        run_id: an existing run created with `runs.create_run`.

    Returns:
        The final state: "completed", "stopped" or "failed".

    Raises:
        RunError: if another process already trains this run.
    """
    if not run_locks.hold_worker_lock(run_id):
        raise RunError(f"Run `{run_id}` already has a training process.")
    try:
        return _run_to_end(run_id)
    finally:
        run_locks.release_worker_lock(run_id)


def _run_to_end(run_id: str) -> str:
    try:
        runs.write_status(run_id, pid=os.getpid())
        if not wait_for_turn(run_id):
            return _finish(run_id, "stopped", message="Stopped before it started.")
        _train(run_id)
        export.prepare_download_after_training(run_id)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: Stop, keeping what was saved
        if runs.is_folder_gone(run_id):
            return _folder_gone(run_id)
        return _finish(run_id, "stopped", message=_stopped_message(run_id))
    except Exception as err:  # noqa: BLE001  any bug must still end the run as failed
        if runs.is_folder_gone(run_id):
            return _folder_gone(run_id)
        _log_traceback(run_id)
        return _finish(run_id, "failed", error=failure_message(run_id, err))
    state = "stopped" if runs.is_stop_requested(run_id) else "completed"
    return _finish(run_id, state, message="")


def _folder_gone(run_id: str) -> str:
    logger.info("Run %s: its folder was deleted, so training ended.", run_id)
    return "failed"


def _stopped_message(run_id: str) -> str:
    if (runs.run_dir(run_id) / runs.MODEL_FILE).is_file():
        return "Stopped; the best model so far was kept."
    return NOT_STARTED_MESSAGE


def _finish(run_id: str, state: str, **changes: str) -> str:
    """Writes the final state; if the disk refuses, the lock's release tells readers."""
    try:
        runs.write_status(run_id, state=state, **changes)
    except OSError as err:
        logger.error("Run %s ended %s but could not record it: %s", run_id, state, err)
        return "failed"
    return state


def _log_traceback(run_id: str) -> None:
    """Appends the current exception's traceback to the run's train.log, not the screen."""
    try:
        with open(runs.run_dir(run_id) / runs.LOG_FILE, "a") as log:
            log.write(traceback.format_exc())
    except (OSError, RunError):
        pass  # the folder is gone or the disk is full: the sentence still reaches the user


def failure_message(run_id: str, err: Exception) -> str:
    """Returns the one-line sentence a user sees for a failed run."""
    log = runs.runs_root() / run_id / runs.LOG_FILE
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            "The disk is full, so the run's files could not be written. Free some "
            "space and train again."
        )
    if isinstance(err, (UserError, ValueError)) and str(err):  # said for a person
        return str(err).splitlines()[0]
    detail = str(err).splitlines()[0] if str(err) else "no details"
    return f"Unexpected error ({type(err).__name__}: {detail}). The full log is {log}."


def _train(run_id: str) -> None:
    from core import prediction

    spec = runs.load_spec(run_id)
    runs.write_status(
        run_id, device=configure_device(), message="Preparing data.", phase="preparing"
    )
    template = get_template(spec["template"])
    params = resolve_params(template, spec["params"])
    frame = template.load_data(spec["dataset_id"])
    problems = template.check(frame, spec["target"], params)
    if problems:
        raise DataError(" ".join(problems))
    keras.utils.set_random_seed(int(params["seed"]))
    prepared = template.prepare(frame, spec["target"], params, int(params["seed"]))
    _write_info(run_id, template, prepared)
    model = template.build_model(prepared, params)
    fit_model(run_id, model, prepared, params, template.callbacks(prepared, params))
    runs.write_status(run_id, phase="saving")
    template.calibrate(model, prepared, params)
    _write_info(run_id, template, prepared)  # with what calibration learned
    save_model(model, runs.run_dir(run_id) / runs.MODEL_FILE)
    runs.write_status(run_id, phase="checking")
    prediction.record_check(run_id, model, prepared)
    runs.write_status(
        run_id, message="Evaluating on the test rows.", phase="evaluating"
    )
    report: Report = template.evaluate(model, prepared, params)
    runs.write_json_atomic(runs.run_dir(run_id) / runs.EVALUATION_FILE, report)


def _write_info(run_id: str, template: Any, prepared: Prepared) -> None:
    info: Info = {
        **prepared.info,
        "data_kind": template.data_kind,
        "template": template.name,
    }
    runs.write_json_atomic(runs.run_dir(run_id) / runs.INFO_FILE, info)


def save_model(model: keras.Model, path: Path) -> None:
    """Saves to a temporary file and moves it over `path`: never a partial model file."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fit_model(
    run_id: str,
    model: keras.Model,
    prepared: Prepared,
    params: dict[str, Any],
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.callbacks.History:
    """Fits with early stopping and keeps the best weights, however training ends.

    `extra_callbacks` are the template's own (`Template.callbacks`).

    Ctrl-C after the first epoch counts as Stop: the best weights so far are kept.

    Raises:
        TrainingError: if the loss became NaN.
        KeyboardInterrupt: if interrupted before any epoch ended.
    """
    early_stopping = keras.callbacks.EarlyStopping(
        patience=int(params["patience"]), restore_best_weights=True
    )
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        early_stopping,
        TimeBudget(float(params["time_budget_s"])),
        RunDirLogger(run_id, int(params["epochs"]), float(params["time_budget_s"])),
        *extra_callbacks,
    ]
    batch_size, seed = int(params["batch_size"]), int(params["seed"])
    try:
        history = model.fit(
            as_dataset(prepared.train, batch_size, shuffle_seed=seed),
            validation_data=as_dataset(prepared.val, batch_size),
            epochs=int(params["epochs"]),
            class_weight=prepared.class_weight,
            shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a dataset
            callbacks=callbacks,
            verbose=0,
        )
    except KeyboardInterrupt:
        if early_stopping.best_weights is None:
            raise
        runs.request_stop(run_id)  # the run ends as "stopped", with the best model
        history = model.history
    if any(math.isnan(v) or math.isinf(v) for v in history.history.get("loss", [])):
        raise TrainingError(DIVERGED_MESSAGE)
    if early_stopping.best_weights is not None:
        model.set_weights(early_stopping.best_weights)
    return history


def as_dataset(split: Split, batch_size: int, shuffle_seed: int | None = None) -> Any:
    """Returns a cached, batched, prefetched tf.data pipeline for a split.

    A split whose `targets` is None already is a dataset (the template built it).
    Feeding Keras a dict of tensors costs 3-4x more per epoch on small tables.
    """
    if split.targets is None:
        return split.inputs
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((split.inputs, split.targets)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(split.targets), seed=shuffle_seed)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m core.training RUN_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops like the Stop button
    try:
        state = train_run(Path(argv[0]).name)
    except RunError as err:
        logger.error("%s", err)
        return 1
    return 0 if state in ("completed", "stopped") else 1


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
