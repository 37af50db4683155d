"""The training worker: in-process runs, STOP, divergence, failures, subprocess, queue."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from core import datasets, launch, runs, training
from core.runs import RunSpec
from tests.conftest import FAST_PARAMS, wait_for


@pytest.fixture
def numeric_table(tiny_table) -> pd.DataFrame:
    """The tiny table written with numbers only: color as a code, label as 0/1."""
    return tiny_table.assign(
        color=tiny_table["color"].map({"red": 0, "green": 1, "blue": 2}),
        label=(tiny_table["label"] == "yes").astype(int),
    )


def _make_run(
    frame: pd.DataFrame,
    target: str = "label",
    template: str = "tabular_classification",
    **params,
) -> str:
    raw = frame.to_csv(index=False).encode()
    dataset_id = datasets.store_upload("tiny.csv", raw)
    spec = RunSpec(
        template=template,
        dataset_id=dataset_id,
        target=target,
        params={**FAST_PARAMS, **params},
        seed=0,
        dataset_name="tiny.csv",
    )
    return runs.create_run(spec)


def _assert_completed(run_id: str, epochs: int) -> None:
    status = runs.read_status(run_id)
    assert status.state == "completed", status.error
    assert (status.epoch, status.epochs, status.error) == (epochs, epochs, "")
    assert (
        status.started_at <= status.first_epoch_at <= status.updated_at
    )  # for the ETA
    folder = runs.run_dir(run_id)
    for name in (runs.MODEL_FILE, runs.EVALUATION_FILE, runs.METRICS_FILE):
        assert (folder / name).is_file(), name
    metrics = runs.read_metrics(run_id)
    assert metrics["epoch"].tolist() == list(range(1, epochs + 1))
    assert {"loss", "val_loss"} <= set(metrics.columns)
    assert np.isfinite(metrics["loss"]).all()
    report = runs.read_evaluation(run_id)
    assert report["n_test"] == runs.read_info(run_id)["n_test"]
    assert report["summary"]
    info = runs.read_info(run_id)
    assert (info["data_kind"], info["template"]) == (
        "table",
        runs.read_spec(run_id)["template"],
    )


@pytest.mark.trains
@pytest.mark.parametrize(
    "table",
    ["numeric_table", "tiny_table"],
)
def test_train_run_completes(table, request):
    frame = request.getfixturevalue(table)
    run_id = _make_run(frame)

    assert training.train_run(run_id) == "completed"
    _assert_completed(run_id, FAST_PARAMS["epochs"])
    info = runs.read_info(run_id)
    assert info["class_names"] == (
        ["no", "yes"] if table == "tiny_table" else ["0", "1"]
    )
    assert info["n_train"] + info["n_val"] + info["n_test"] == len(frame)
    assert {f["name"] for f in info["schema"]} == {"x", "z", "color"}
    report = runs.read_evaluation(run_id)
    assert {"accuracy", "balanced_accuracy"} <= set(report["metrics"])


@pytest.mark.trains
def test_train_run_regression_completes(tiny_regression_table):
    frame = tiny_regression_table.drop(columns="color")
    run_id = _make_run(frame, "y", "tabular_regression", epochs=1, time_budget_s=60)
    assert training.train_run(run_id) == "completed"
    _assert_completed(run_id, 1)
    assert runs.read_status(run_id).time_budget_s == 60.0  # caps the time left shown
    assert set(runs.read_evaluation(run_id)["metrics"]) == {"mae", "rmse", "r2"}


@pytest.mark.trains
def test_stop_file_before_training_keeps_the_model(numeric_table):
    run_id = _make_run(numeric_table, epochs=5, patience=5)
    runs.request_stop(run_id)

    assert training.train_run(run_id) == "stopped"
    status = runs.read_status(run_id)
    assert status.state == "stopped"
    assert status.epoch == 1 < status.epochs == 5
    assert len(runs.read_metrics(run_id)) == 1
    assert (runs.run_dir(run_id) / runs.MODEL_FILE).is_file()
    assert runs.read_evaluation(run_id)["metrics"]


@pytest.mark.trains
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_diverging_training_fails_with_the_plain_nan_message(tiny_regression_table):
    frame = tiny_regression_table.drop(columns="color")
    frame["y"] = frame["y"] * 1e25  # the squared error overflows float32
    run_id = _make_run(frame, "y", "tabular_regression", learning_rate=1.0, epochs=2)

    assert training.train_run(run_id) == "failed"
    status = runs.read_status(run_id)
    assert status.state == "failed"
    assert status.error == training.DIVERGED_MESSAGE
    assert "Lower the learning rate" in status.error
    assert not (runs.run_dir(run_id) / runs.EVALUATION_FILE).exists()


def _finished_run() -> tuple[str, dict[str, bytes]]:
    """A run that finished earlier, with files that must survive later failures."""
    run_id = runs.create_run(
        RunSpec("tabular_classification", "0" * 16, "label", dict(FAST_PARAMS))
    )
    runs.write_status(run_id, state="completed", epoch=2)
    folder = runs.run_dir(run_id)
    (folder / runs.MODEL_FILE).write_bytes(b"earlier model")
    runs.write_json_atomic(folder / runs.EVALUATION_FILE, {"metrics": {"accuracy": 1}})
    return run_id, {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"label": 1}, "has only one class"),
        ({"label": np.nan}, "is empty in every row"),
    ],
    ids=["one-class", "no-target"],
)
def test_bad_data_fails_with_the_message_and_leaves_other_runs(
    numeric_table, change, words
):
    earlier, files = _finished_run()
    run_id = _make_run(numeric_table.assign(**change))

    assert training.train_run(run_id) == "failed"
    status = runs.read_status(run_id)
    assert status.state == "failed"
    assert words in status.error
    assert (
        runs.read_json(runs.run_dir(run_id) / runs.STATUS_FILE)["error"] == status.error
    )
    assert not (runs.run_dir(run_id) / runs.MODEL_FILE).exists()

    assert runs.read_status(earlier).state == "completed"
    folder = runs.run_dir(earlier)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_unknown_template_fails_the_run(numeric_table):
    run_id = _make_run(numeric_table, template="no_such_template")
    assert training.train_run(run_id) == "failed"
    assert "Unknown template `no_such_template`" in runs.read_status(run_id).error


def test_bad_param_fails_the_run(numeric_table):
    run_id = _make_run(numeric_table, hidden_units="abc")
    assert training.train_run(run_id) == "failed"
    assert "hidden_units" in runs.read_status(run_id).error


def test_time_budget_stops_training(monkeypatch):
    class FakeModel:
        stop_training = False

    clock = iter([100.0, 101.0, 106.0])
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock))
    budget = training.TimeBudget(5.0)
    budget.set_model(FakeModel())
    budget.on_train_begin()
    budget.on_epoch_end(0)
    assert not budget.model.stop_training  # 1 s used
    budget.on_epoch_end(1)
    assert budget.model.stop_training  # 6 s used


def test_no_time_budget_never_stops(monkeypatch):
    class FakeModel:
        stop_training = False

    budget = training.TimeBudget(0)
    budget.set_model(FakeModel())
    budget.on_train_begin()
    monkeypatch.setattr(training.time, "monotonic", lambda: 1e9)
    budget.on_epoch_end(0)
    assert not budget.model.stop_training


class _FakeModel:
    stop_training = False


def _budget(seconds: float, **kwargs) -> training.TimeBudget:
    budget = training.TimeBudget(seconds, started=0.0, **kwargs)
    budget.set_model(_FakeModel())
    return budget


def test_time_budget_stops_mid_epoch_keeping_time_for_evaluation(monkeypatch):
    # a 100-s budget keeps at least 15 s for the work after training: stop at 85 s
    now = iter([30.0, 60.0, 84.0, 86.0])
    monkeypatch.setattr(training.time, "monotonic", lambda: next(now))
    budget = _budget(100.0)
    budget.on_epoch_begin(0)
    for batch in range(3):  # an epoch far longer than the budget: batches decide
        budget.on_train_batch_end(batch)
        assert not budget.model.stop_training, batch
    budget.on_train_batch_end(3)
    assert budget.model.stop_training and budget.stopped
    assert budget.reserve() == pytest.approx(15.0)


def test_time_kept_for_after_training_follows_the_validation_pass(monkeypatch):
    now = iter([0.0, 5.0, 10.0, 40.0])
    monkeypatch.setattr(training.time, "monotonic", lambda: next(now))
    budget = _budget(1000.0)
    budget.on_test_begin()
    budget.on_test_end()  # a 5-s validation pass: 10 passes, 50 s
    assert budget.after_training_seconds() == pytest.approx(50.0)
    assert budget.reserve() == pytest.approx(150.0)  # the floor: 15% of the budget
    budget.on_test_begin()
    budget.on_test_end()  # a 30-s pass: 300 s
    assert budget.reserve() == pytest.approx(300.0)
    assert _budget(200.0).reserve() == pytest.approx(30.0)
    capped = _budget(200.0)
    capped._validation_seconds = 100.0  # 1000 s of work: training still gets 25%
    assert capped.reserve() == pytest.approx(150.0)
    unbudgeted = _budget(0.0)
    unbudgeted._validation_seconds = 2.0
    assert unbudgeted.reserve() == pytest.approx(20.0)  # shown in the time left


def test_validation_pass_is_estimated_from_batches_before_it_runs(monkeypatch):
    now = iter([10.0, 12.0, 14.0])  # the first batch builds the model: not counted
    monkeypatch.setattr(training.time, "monotonic", lambda: next(now))
    budget = _budget(0.0, validation_batches=30)
    budget.on_epoch_begin(0)
    for batch in range(3):
        budget.on_train_batch_end(batch)
    # 30 batches of validation at half a training batch (2 s), 10 passes
    assert budget.after_training_seconds() == pytest.approx(10 * 30 * 1.0)
    assert not budget.model.stop_training  # no budget: never stops


class _FastClock:
    """`time` for core.training whose monotonic clock runs 10 s a reading."""

    def __init__(self) -> None:
        self.readings = 0

    def monotonic(self) -> float:
        self.readings += 1
        return time.monotonic() + 10.0 * self.readings

    sleep = staticmethod(time.sleep)
    time = staticmethod(time.time)


@pytest.mark.trains
def test_time_budget_run_records_why_it_stopped(numeric_table, monkeypatch):
    monkeypatch.setattr(training, "time", _FastClock())
    run_id = _make_run(numeric_table, epochs=50, patience=50, time_budget_s=600)
    assert training.train_run(run_id) == "completed"
    status = runs.read_status(run_id)
    assert status.stop_reason == "time_budget" and 1 <= status.epoch < 50
    assert status.run_started_at <= status.started_at <= status.training_ended_at
    assert (runs.run_dir(run_id) / runs.EVALUATION_FILE).is_file()
    assert runs.stop_sentence(status).startswith(
        f"Stopped at the time budget (10 min) at epoch {status.epoch} of 50"
    )


@pytest.mark.trains
def test_early_stopping_run_records_the_best_epoch(numeric_table):
    run_id = _make_run(numeric_table, epochs=300, patience=1, learning_rate=0.05)
    assert training.train_run(run_id) == "completed"
    status = runs.read_status(run_id)
    assert status.stop_reason == "early_stopping" and status.epoch < 300
    assert status.best_epoch == status.epoch - 1  # patience 1: one epoch past it
    assert runs.stop_sentence(status) == (
        f"Stopped early at epoch {status.epoch} of 300: the validation score had "
        f"stopped improving (the best epoch, {status.best_epoch}, is kept)."
    )


@pytest.mark.trains
def test_second_run_waits_for_the_first(numeric_table, monkeypatch, ordered_run_ids):
    monkeypatch.setattr(training, "QUEUE_POLL_SECONDS", 0.05)
    first = _make_run(numeric_table)
    second = _make_run(numeric_table)
    assert runs.runs_ahead_of(second) == [first]

    results = {}
    waiter = threading.Thread(
        target=lambda: results.setdefault(second, training.train_run(second))
    )
    waiter.start()
    try:
        wait_for(
            lambda: runs.read_status(second).message.startswith("Waiting for run"),
            30,
            "the second run to wait",
        )
        status = runs.read_status(second)
        assert status.state == "queued"
        assert status.message == f"Waiting for run {first} to finish."

        assert training.train_run(first) == "completed"
    finally:
        waiter.join(timeout=120)
    assert not waiter.is_alive()
    assert results[second] == "completed"
    _assert_completed(first, FAST_PARAMS["epochs"])
    _assert_completed(second, FAST_PARAMS["epochs"])


def test_stop_while_queued_never_trains(numeric_table, monkeypatch, ordered_run_ids):
    monkeypatch.setattr(training, "QUEUE_POLL_SECONDS", 0.05)
    first = _make_run(numeric_table)
    second = _make_run(numeric_table)
    runs.request_stop(second)

    assert training.train_run(second) == "stopped"
    status = runs.read_status(second)
    assert status.message == "Stopped before it started."
    assert runs.read_metrics(second).empty
    assert runs.read_status(first).state == "queued"


@pytest.mark.slow
@pytest.mark.trains
def test_launch_runs_the_worker_to_completion(numeric_table):
    run_id = _make_run(numeric_table)
    pid = int(launch.executor().submit(run_id))
    assert runs.read_status(run_id).pid == pid

    wait_for(lambda: not runs.read_status(run_id).is_active, 120, "the worker")
    log = (runs.run_dir(run_id) / runs.LOG_FILE).read_text()
    assert runs.read_status(run_id).state == "completed", log[-2000:]
    _assert_completed(run_id, FAST_PARAMS["epochs"])
