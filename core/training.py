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


class TimeBudget(keras.callbacks.Callback):
    """Ends the epochs in time for the whole run to fit in `seconds` (0 means no limit).

    The budget is hard and covers the whole run: preparing the data (from `started`, a
    `time.monotonic()` reading; default: when training begins), the epochs, and the
    work after them (the last validation pass, calibrating, saving, checking the
    download and evaluating). Training stops after any batch, not only at an epoch's
    end, once the time used plus the time kept for that after-training work reaches
    the budget; Keras then validates the part-epoch and the best weights are kept.

    The rule for the time kept (`reserve`): `AFTER_TRAINING_PASSES` validation passes
    (the work after training reads the validation and test data a few times: measured
    on the 200k-word book, it took 8-12 of them), timed on the latest pass or, before
    the first one, estimated from the training batches; at least `MIN_AFTER_SHARE` of
    the budget and at most `MAX_AFTER_SHARE` of it, so some training always happens.
    """

    AFTER_TRAINING_PASSES = 10
    MIN_AFTER_SHARE = 0.15
    MAX_AFTER_SHARE = 0.75
    # a validation batch costs about half a training one (no gradients to compute)
    VALIDATION_STEP_COST = 0.5

    def __init__(
        self,
        seconds: float,
        started: float | None = None,
        validation_batches: int | None = None,
    ) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = started
        self.validation_batches = validation_batches
        self.stopped = False  # whether the budget ended the training
        self._batch_seconds: float | None = None  # a training batch, after the first
        self._last_batch_at: float | None = None
        self._validation_seconds: float | None = None  # the latest validation pass
        self._validation_began = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
        if self._last_batch_at is not None:
            took = now - self._last_batch_at
            last = self._batch_seconds
            self._batch_seconds = took if last is None else 0.9 * last + 0.1 * took
        self._last_batch_at = now
        self._check(now)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._last_batch_at = None  # the pause between epochs is not a batch

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._validation_began = time.monotonic()

    def on_test_end(self, logs: dict | None = None) -> None:
        self._validation_seconds = time.monotonic() - self._validation_began

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check(time.monotonic())

    def after_training_seconds(self) -> float:
        """The estimated seconds of work after the epochs (0 until there is a measure)."""
        validation = self._validation_seconds
        if validation is None and self._batch_seconds and self.validation_batches:
            validation = (
                self.validation_batches
                * self._batch_seconds
                * self.VALIDATION_STEP_COST
            )
        return self.AFTER_TRAINING_PASSES * (validation or 0.0)

    def reserve(self) -> float:
        """Seconds kept out of the budget for the work after training (see the rule)."""
        if not self.seconds:
            return self.after_training_seconds()
        share = self.after_training_seconds() / self.seconds
        share = min(self.MAX_AFTER_SHARE, max(self.MIN_AFTER_SHARE, share))
        return share * self.seconds

    def _check(self, now: float) -> None:
        started = now if self.started is None else self.started
        if self.seconds and now - started + self.reserve() >= self.seconds:
            self.stopped = True
            self.model.stop_training = True


class RunDirLogger(keras.callbacks.Callback):
    """Writes progress to the run directory each epoch and honours the STOP flag.

    The time budget and the time `clock` keeps for after the epochs go into
    status.json too, so the time left shown includes that work and never exceeds
    the budget.
    """

    def __init__(
        self, run_id: str, epochs: int, clock: TimeBudget | None = None
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.epochs = epochs
        self.clock = clock or TimeBudget(0)
        self.path = runs.runs_root() / run_id / runs.METRICS_FILE

    def on_train_begin(self, logs: dict | None = None) -> None:
        runs.write_status(
            self.run_id,
            state="running",
            epoch=0,
            epochs=self.epochs,
            started_at=time.time(),
            first_epoch_at=None,
            time_budget_s=self.clock.seconds,
            after_training_s=self.clock.reserve(),
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
        runs.write_status(
            self.run_id,
            epoch=epoch + 1,
            after_training_s=self.clock.reserve(),
            **first,
        )
        if runs.is_stop_requested(self.run_id):
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

    started = time.monotonic()  # the time budget counts from here (see TimeBudget)
    runs.write_status(
        run_id, message="Preparing data.", phase="preparing", run_started_at=time.time()
    )
    runs.write_status(run_id, device=configure_device())
    spec = runs.load_spec(run_id)
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
    extra = template.callbacks(prepared, params)
    fit_model(run_id, model, prepared, params, extra, started=started)
    runs.write_status(run_id, phase="saving", training_ended_at=time.time())
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
    started: float | None = None,
) -> keras.callbacks.History:
    """Fits with early stopping and keeps the best weights, however training ends.

    `extra_callbacks` are the template's own (`Template.callbacks`). The time budget
    counts from `started` (a `time.monotonic()` reading; default: when fitting
    begins) and keeps time for the work after training (see `TimeBudget`). Why the
    epochs ended early, and the best epoch, go into status.json.

    Ctrl-C after the first epoch counts as Stop: the best weights so far are kept.

    Raises:
        TrainingError: if the loss became NaN.
        KeyboardInterrupt: if interrupted before any epoch ended.
    """
    early_stopping = keras.callbacks.EarlyStopping(
        patience=int(params["patience"]), restore_best_weights=True
    )
    batch_size, seed = int(params["batch_size"]), int(params["seed"])
    validation = as_dataset(prepared.val, batch_size)
    budget = TimeBudget(
        float(params["time_budget_s"]), started, batch_count(validation)
    )
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        early_stopping,
        budget,
        RunDirLogger(run_id, int(params["epochs"]), budget),
        *extra_callbacks,
    ]
    try:
        history = model.fit(
            as_dataset(prepared.train, batch_size, shuffle_seed=seed),
            validation_data=validation,
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
    best_epoch = 0
    if early_stopping.best_weights is not None:
        model.set_weights(early_stopping.best_weights)
        best_epoch = early_stopping.best_epoch + 1
    reason = stop_reason(run_id, history, int(params["epochs"]), early_stopping, budget)
    runs.write_status(run_id, stop_reason=reason, best_epoch=best_epoch)
    return history


def stop_reason(
    run_id: str,
    history: keras.callbacks.History,
    epochs: int,
    early_stopping: keras.callbacks.EarlyStopping,
    budget: TimeBudget,
) -> str:
    """Why the epochs ended before the last: one of `runs.STOP_REASONS`, or ""."""
    if runs.is_stop_requested(run_id):
        return "user"
    if len(history.history.get("loss", [])) >= epochs:
        return ""
    if early_stopping.stopped_epoch > 0:
        return "early_stopping"
    return "time_budget" if budget.stopped else ""


def batch_count(dataset: Any) -> int | None:
    """The batches in a tf.data dataset, or None when they cannot be known in advance."""
    cardinality = getattr(dataset, "cardinality", None)
    count = int(cardinality()) if cardinality else -1
    return count if count >= 0 else None


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
