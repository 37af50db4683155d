"""Run store: plain files round-trip, atomic writes, lost workers, the queue, deletion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from core import datasets, launch, run_locks, runs
from core.errors import DataError, RunError, TemplateError, UserError
from core.runs import RunSpec


def _spec(**changes) -> RunSpec:
    fields = {
        "template": "tabular_classification",
        "dataset_id": "0123456789abcdef",
        "target": "label",
        "params": {"epochs": 3, "batch_size": 8},
        "seed": 7,
        "dataset_name": "tiny.csv",
    }
    return RunSpec(**{**fields, **changes})


def _complete(run_id: str, metrics: dict | None = None) -> None:
    """Writes what a finished run holds: status, info, evaluation and a model archive."""
    folder = runs.run_dir(run_id)
    runs.write_status(run_id, state="completed", epoch=3)
    runs.write_json_atomic(folder / runs.INFO_FILE, {"task": "classification"})
    report = {"metrics": metrics or {"accuracy": 0.8}}
    runs.write_json_atomic(folder / runs.EVALUATION_FILE, report)
    with zipfile.ZipFile(folder / runs.MODEL_FILE, "w") as model:
        model.writestr("config.json", "{}")


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


@pytest.fixture
def clock(monkeypatch):
    """Run ids take their time stamp from a clock the test moves by hand."""

    class Clock(datetime):
        current = datetime(2026, 1, 1, 12, 0, 0)

        @classmethod
        def now(cls, tz=None):
            return cls.current

    monkeypatch.setattr(runs, "datetime", Clock)
    return Clock


def _create_in_order(clock, count: int, *, same_second: bool = False) -> list[str]:
    created = []
    for _ in range(count):
        created.append(runs.create_run(_spec()))
        clock.current += timedelta(milliseconds=1 if same_second else 1000)
    return created


def test_create_run_round_trip():
    run_id = runs.create_run(_spec())
    spec = runs.read_spec(run_id)
    assert spec["run_id"] == run_id
    assert spec["template"] == "tabular_classification"
    assert spec["target"] == "label"
    assert spec["params"] == {"epochs": 3, "batch_size": 8}
    assert spec["seed"] == 7
    assert spec["created_at"] == pytest.approx(time.time(), abs=60)

    status = runs.read_status(run_id)
    assert status.run_id == run_id
    assert (status.state, status.epoch, status.epochs) == ("queued", 0, 3)
    assert status.is_active and status.fraction == 0.0
    assert runs.list_runs() == [run_id]
    assert runs.read_metrics(run_id).empty
    assert runs.read_evaluation(run_id) == {}


def test_write_status_merges_and_stamps():
    run_id = runs.create_run(_spec())
    assert run_locks.hold_worker_lock(run_id)
    runs.write_status(run_id, state="running", epoch=1, pid=os.getpid())
    runs.write_status(run_id, epoch=2)
    status = runs.read_status(run_id)
    assert (status.state, status.epoch, status.epochs) == ("running", 2, 3)
    assert status.fraction == pytest.approx(2 / 3)
    assert status.updated_at == pytest.approx(time.time(), abs=60)


def test_write_json_atomic_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "status.json"
    runs.write_json_atomic(path, {"state": "queued"})
    runs.write_json_atomic(path, {"state": "running", "epoch": 1})
    assert [p.name for p in tmp_path.iterdir() if p.name != "workspace"] == [
        "status.json"
    ]
    assert json.loads(path.read_text()) == {"state": "running", "epoch": 1}


def test_read_json_tolerates_missing_and_half_written_files(tmp_path):
    assert runs.read_json(tmp_path / "absent.json") == {}
    (tmp_path / "half.json").write_text('{"state": "runn')
    assert runs.read_json(tmp_path / "half.json") == {}


def test_list_runs_newest_first(clock):
    created = _create_in_order(clock, 3)
    assert runs.list_runs() == created[::-1]


def test_list_runs_newest_first_within_one_second(clock, monkeypatch):
    suffixes = iter(["ffff", "8888", "0000"])
    monkeypatch.setattr(runs.secrets, "token_hex", lambda _: next(suffixes))
    created = _create_in_order(clock, 3, same_second=True)
    assert runs.list_runs() == created[::-1]
    assert runs.runs_ahead_of(created[1]) == [created[0]]


def test_running_run_with_dead_worker_reads_as_failed():
    lost, waiting, done = (runs.create_run(_spec()) for _ in range(3))
    runs.write_status(lost, state="running", epoch=1, pid=_dead_pid())
    runs.write_status(done, state="completed", epoch=3)

    status = runs.read_status(lost)
    assert status.state == "failed"
    assert "ended before it finished" in status.error
    assert status.error == runs.LOST_MESSAGE
    assert not status.is_active
    # The repair is written back, and no other run is touched.
    assert runs.read_json(runs.run_dir(lost) / runs.STATUS_FILE)["state"] == "failed"
    assert runs.read_status(waiting).state == "queued"
    assert runs.read_status(done).state == "completed"


def test_running_run_with_live_worker_stays_running():
    run_id = runs.create_run(_spec())
    assert run_locks.hold_worker_lock(run_id)
    runs.write_status(run_id, state="running", pid=os.getpid())
    assert runs.read_status(run_id).state == "running"


def test_queued_run_never_picked_up_becomes_failed():
    run_id = runs.create_run(_spec())
    path = runs.run_dir(run_id) / runs.STATUS_FILE
    stale = {**runs.read_json(path), "updated_at": time.time() - 3600}
    runs.write_json_atomic(path, stale)
    status = runs.read_status(run_id)
    assert status.state == "failed"
    assert "ended before it finished" in status.error


def test_run_without_status_file_yet_is_readable():
    other = runs.create_run(_spec())
    run_id = runs.create_run(_spec())
    (runs.run_dir(run_id) / runs.STATUS_FILE).unlink()  # as between the two writes

    assert runs.read_status(run_id).state in ("queued", "failed")
    assert other in runs.active_runs()


def test_request_stop_creates_the_flag():
    run_id = runs.create_run(_spec())
    assert not runs.is_stop_requested(run_id)
    runs.request_stop(run_id)
    assert (runs.run_dir(run_id) / runs.STOP_FILE).is_file()
    assert runs.is_stop_requested(run_id)


def test_delete_run_refuses_active_runs():
    queued = runs.create_run(_spec())
    running = runs.create_run(_spec())
    assert run_locks.hold_worker_lock(running)
    runs.write_status(running, state="running", pid=os.getpid())
    for run_id in (queued, running):
        with pytest.raises(RunError, match="still active"):
            runs.delete_run(run_id)
        assert runs.run_dir(run_id).is_dir()


@pytest.mark.parametrize("state", ["completed", "failed", "stopped"])
def test_delete_run_removes_finished_runs(state):
    keep = runs.create_run(_spec())
    gone = runs.create_run(_spec())
    runs.write_status(gone, state=state)
    folder = runs.run_dir(gone)
    (folder / runs.MODEL_FILE).write_bytes(b"model")

    runs.delete_run(gone)
    assert not folder.exists()
    assert runs.list_runs() == [keep]
    with pytest.raises(RunError, match="There is no run"):
        runs.read_status(gone)


def test_runs_ahead_of_is_the_queue(clock):
    first, second, third = _create_in_order(clock, 3)
    assert runs.active_runs() == [first, second, third]
    assert runs.runs_ahead_of(first) == []
    assert runs.runs_ahead_of(third) == [first, second]

    runs.write_status(first, state="completed")
    assert runs.runs_ahead_of(third) == [second]
    runs.write_status(second, state="running", pid=_dead_pid())  # lost worker
    assert runs.runs_ahead_of(third) == []


@pytest.mark.parametrize("bad", ["../x", "..", "", ".hidden", "a/b", "/etc"])
def test_run_dir_rejects_paths(bad):
    with pytest.raises(RunError, match="Invalid value for argument `run_id`"):
        runs.run_dir(bad)


def test_run_dir_unknown_run():
    with pytest.raises(RunError, match="There is no run `nope`"):
        runs.run_dir("nope")


def test_summarize_run_reads_the_evaluation():
    run_id = runs.create_run(_spec())
    _complete(run_id, {"balanced_accuracy": 0.7, "accuracy": 0.8})
    row = runs.summarize_run(run_id)
    assert row["run_id"] == run_id
    assert (row["metric"], row["value"], row["state"]) == ("accuracy", 0.8, "completed")
    assert row["dataset"] == "tiny.csv"


def test_eta_seconds_from_average_epoch():
    status = runs.RunStatus(
        run_id="r",
        state="running",
        epoch=2,
        epochs=10,
        started_at=100.0,
        updated_at=110.0,
    )
    assert status.eta_seconds == pytest.approx(40.0)
    assert runs.RunStatus(run_id="r", state="completed").fraction == 1.0


def test_eta_waits_for_the_first_epoch_then_skips_its_warm_up():
    status = runs.RunStatus(
        run_id="r", state="running", epoch=0, epochs=10, started_at=100.0
    )
    assert status.eta_at(190.0) is None  # estimating: no epoch has ended
    # the first epoch (model building included) took 90 s, the next two 10 s each
    status = replace(status, epoch=3, first_epoch_at=190.0, updated_at=210.0)
    assert status.eta_at(210.0) == pytest.approx(70.0)


def test_eta_never_exceeds_the_time_budget_left():
    # the book: 100 epochs of ~2 min each, under a 9-minute budget
    status = runs.RunStatus(
        run_id="r",
        state="running",
        epoch=1,
        epochs=100,
        started_at=1000.0,
        updated_at=1150.0,
        time_budget_s=540.0,
    )
    assert status.eta_at(1150.0) == pytest.approx(390.0)  # not 99 x 150 s
    assert status.eta_at(1600.0) == 0.0 and status.budget_spent_at(1600.0)
    assert not status.budget_spent_at(1150.0)
    unbudgeted = replace(status, time_budget_s=0.0)
    assert unbudgeted.eta_at(1150.0) == pytest.approx(99 * 150.0)
    assert not unbudgeted.budget_spent_at(1e9)


def test_status_reads_the_budget_and_first_epoch_tolerantly():
    run_id = runs.create_run(_spec())
    runs.write_status(run_id, time_budget_s=540, first_epoch_at=12.5)
    status = runs._status_from(
        run_id, runs.read_json(runs.run_dir(run_id) / "status.json")
    )
    assert (status.time_budget_s, status.first_epoch_at) == (540.0, 12.5)
    runs.write_status(run_id, time_budget_s="9 min", first_epoch_at=float("inf"))
    status = runs._status_from(
        run_id, runs.read_json(runs.run_dir(run_id) / "status.json")
    )
    assert (status.time_budget_s, status.first_epoch_at) == (0.0, None)


def _book_run(**changes) -> runs.RunStatus:
    """Epoch 2 of 100, 20 s an epoch after a 40-s first one, under a 5-min budget."""
    status = runs.RunStatus(
        run_id="r",
        state="running",
        phase="training",
        epoch=2,
        epochs=100,
        run_started_at=990.0,  # preparing the data took 10 s
        started_at=1000.0,
        first_epoch_at=1040.0,
        updated_at=1060.0,
        time_budget_s=300.0,
        after_training_s=60.0,
    )
    return replace(status, **changes)


def test_eta_includes_the_work_after_training_within_the_budget():
    # the budget ends at 1290 and 60 s are kept for evaluating: epochs until 1230
    assert _book_run().eta_at(1060.0) == pytest.approx(230.0)
    assert not _book_run().budget_spent_at(1060.0)
    assert _book_run().budget_spent_at(1231.0)  # only the after-training work is left
    # ten epochs, no budget: 8 more of 20 s, then the evaluation
    unbudgeted = _book_run(epochs=10, time_budget_s=0.0)
    assert unbudgeted.eta_at(1060.0) == pytest.approx(8 * 20 + 60)
    assert unbudgeted.budget_left_at(1060.0) is None
    assert not unbudgeted.budget_spent_at(1e9)


@pytest.mark.parametrize("now", [1000.0, 1100.0, 1200.0, 1250.0, 1289.0, 1400.0])
def test_eta_never_exceeds_the_budget_left(now):
    for changes in ({}, {"after_training_s": 500.0}, {"epoch": 99}):
        status = _book_run(updated_at=min(now, 1060.0), **changes)
        assert status.eta_at(now) <= max(0.0, 1290.0 - now) + 1e-9


def test_eta_after_the_epochs_counts_down_the_evaluation():
    status = _book_run(phase="evaluating", training_ended_at=1200.0)
    assert status.eta_at(1230.0) == pytest.approx(30.0)
    assert status.eta_at(1270.0) is None  # the estimate ran out: no number shown
    assert _book_run(phase="preparing").eta_at(1000.0) is None
    assert _book_run(state="completed").eta_at(1060.0) is None


@pytest.mark.parametrize(
    ("reason", "state", "sentence"),
    [
        (
            "early_stopping",
            "completed",
            "Stopped early at epoch 33 of 200: the validation score had stopped "
            "improving (the best epoch, 28, is kept).",
        ),
        (
            "time_budget",
            "completed",
            "Stopped at the time budget (9 min) at epoch 33 of 200 (the best "
            "epoch, 28, is kept).",
        ),
        (
            "user",
            "stopped",
            "Stopped by you at epoch 33 of 200 (the best epoch so far, 28, is kept).",
        ),
        ("", "completed", ""),
    ],
)
def test_stop_sentence_says_why_training_ended_early(reason, state, sentence):
    status = runs.RunStatus(
        run_id="r",
        state=state,
        epoch=33,
        epochs=200,
        time_budget_s=540.0,
        stop_reason=reason,
        best_epoch=28,
    )
    assert runs.stop_sentence(status) == sentence


def test_stop_reason_and_best_epoch_read_tolerantly():
    run_id = runs.create_run(_spec())
    runs.write_status(run_id, stop_reason="early_stopping", best_epoch=28)
    status = runs.read_status(run_id)
    assert (status.stop_reason, status.best_epoch) == ("early_stopping", 28)
    runs.write_status(run_id, stop_reason="bored", best_epoch="28", after_training_s=-5)
    status = runs.read_status(run_id)
    assert (status.stop_reason, status.best_epoch) == ("", 0)
    assert status.after_training_s == 0.0
    assert runs.stop_sentence(replace(status, stop_reason="time_budget")).endswith(
        "(the best model so far is kept)."
    )


# --- starting a training and the kind of a run ---------------------------------------


def _stored_table(tiny_table) -> str:
    return datasets.store_upload("tiny.csv", tiny_table.to_csv(index=False).encode())


def test_start_training_checks_then_creates_a_queued_run(tiny_table):
    dataset_id = _stored_table(tiny_table)
    run_id = launch.start_training(
        "tabular_classification",
        dataset_id,
        "label",
        {"epochs": 2},
        launch_worker=False,
    )
    spec = runs.read_spec(run_id)
    assert (spec["template"], spec["target"], spec["params"]["epochs"]) == (
        "tabular_classification",
        "label",
        2,
    )
    assert spec["dataset_name"] == "tiny.csv"
    assert runs.read_status(run_id).state == "queued"


def test_start_training_raises_one_user_error_listing_every_problem(tiny_table):
    dataset_id = _stored_table(tiny_table.head(12).assign(label="same"))
    with pytest.raises(UserError) as caught:
        launch.start_training("tabular_classification", dataset_id, "label", {})
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert "only one class" in lines[0] and "at least 20" in lines[1]
    assert runs.list_runs() == []


@pytest.mark.parametrize(
    ("template", "overrides", "error"),
    [
        ("no_such_template", {}, TemplateError),
        ("tabular_classification", {"epochs": -1}, DataError),
    ],
)
def test_start_training_refuses_bad_settings_as_user_errors(
    tiny_table, template, overrides, error
):
    dataset_id = _stored_table(tiny_table)
    with pytest.raises(error) as caught:
        launch.start_training(template, dataset_id, "label", overrides)
    assert isinstance(caught.value, UserError)
    assert runs.list_runs() == []


def test_run_kind_is_recorded_or_comes_from_the_template():
    recorded = runs.create_run(_spec(template="timeseries_forecasting"))
    info = {"task": "forecasting", "data_kind": "series"}
    runs.write_json_atomic(runs.run_dir(recorded) / runs.INFO_FILE, info)
    older = runs.create_run(_spec(template="image_classification"))  # no info.json yet

    assert runs.run_kind(recorded) == "series"
    assert runs.run_kind(older) == "images"
