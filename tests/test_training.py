"""The training worker: in-process runs, STOP, divergence, failures, subprocess, queue."""

from __future__ import annotations

import threading

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
