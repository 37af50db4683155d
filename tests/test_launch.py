"""The launch seam: the executor contract, run against every executor there is."""

from __future__ import annotations

import pytest

from core import launch, run_locks, runs
from core.errors import RunError, UserError
from core.runs import RunSpec
from tests.conftest import FAST_PARAMS

EXECUTORS = sorted(launch.EXECUTORS)


def _created_run() -> str:
    spec = RunSpec("tabular_classification", "0123456789abcdef", "label", FAST_PARAMS)
    return runs.create_run(spec)


def test_the_local_executor_is_the_default(monkeypatch):
    monkeypatch.delenv(launch.EXECUTOR_ENV, raising=False)
    assert launch.executor().name == "local"


def test_an_unknown_executor_is_refused_in_one_sentence(monkeypatch):
    monkeypatch.setenv(launch.EXECUTOR_ENV, "slurm")
    with pytest.raises(UserError, match=r"Expected one of \['local'\].*'slurm'"):
        launch.executor()


@pytest.mark.parametrize("name", EXECUTORS)
def test_state_is_what_the_run_folder_says(name, monkeypatch):
    monkeypatch.setenv(launch.EXECUTOR_ENV, name)
    run_id = _created_run()
    runs.write_status(run_id, state="completed", epoch=3, epochs=3)
    assert launch.state(run_id) == runs.read_status(run_id)
    assert launch.state(run_id).state == "completed"


@pytest.mark.parametrize("name", EXECUTORS)
def test_stop_without_a_process_marks_the_run_stopped(name, monkeypatch):
    monkeypatch.setenv(launch.EXECUTOR_ENV, name)
    run_id = _created_run()
    assert launch.stop(run_id) == "stopped"
    assert runs.is_stop_requested(run_id)


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_second_process_for_one_run_is_refused(name, monkeypatch):
    monkeypatch.setenv(launch.EXECUTOR_ENV, name)
    run_id = _created_run()
    assert run_locks.hold_worker_lock(run_id)
    with pytest.raises(RunError, match="already has a training process"):
        launch.executor().submit(run_id)


@pytest.mark.parametrize("name", EXECUTORS)
def test_logs_are_the_end_of_the_training_output(name, monkeypatch):
    monkeypatch.setenv(launch.EXECUTOR_ENV, name)
    run_id = _created_run()
    assert launch.logs(run_id) == ""
    text = "x" * launch.LOG_TAIL_BYTES + "last line\n"
    (runs.run_dir(run_id) / runs.LOG_FILE).write_text(text)
    assert launch.logs(run_id).endswith("last line\n")
    assert len(launch.logs(run_id)) == launch.LOG_TAIL_BYTES
