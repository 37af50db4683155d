"""Faults around runs (issue 8): stuck queues, damaged folders, full disks, Ctrl-C,
deleted folders, hostile parameters and tracebacks. Each case asserts its exact outcome.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from core import datasets, launch, run_locks, runs, training, workspace
from core.__main__ import main
from core.catalog import get_template
from core.errors import DataError, RunError, TrainingError, UserError
from core.runs import RunSpec
from core.templates.params import resolve_params
from tests.conftest import FAST_PARAMS, wait_for

pytestmark = pytest.mark.usefixtures("ordered_run_ids")  # ids sort by creation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dataset_id(tiny_table) -> str:
    return datasets.store_upload("tiny.csv", tiny_table.to_csv(index=False).encode())


@pytest.fixture
def table_csv(tmp_path, tiny_table) -> Path:
    path = tmp_path / "tiny.csv"
    tiny_table.to_csv(path, index=False)
    return path


def _spec(dataset_id: str = "0123456789abcdef", **params) -> RunSpec:
    return RunSpec(
        template="tabular_classification",
        dataset_id=dataset_id,
        target="label",
        params={**FAST_PARAMS, **params},
        seed=0,
        dataset_name="tiny.csv",
    )


def _complete(run_id: str) -> None:
    """Writes what a finished run holds: status, info, evaluation and a model archive."""
    folder = runs.run_dir(run_id)
    runs.write_status(run_id, state="completed", epoch=2, epochs=2)
    runs.write_json_atomic(folder / runs.INFO_FILE, {"task": "classification"})
    runs.write_json_atomic(
        folder / runs.EVALUATION_FILE, {"metrics": {"accuracy": 0.75}}
    )
    with zipfile.ZipFile(folder / runs.MODEL_FILE, "w") as model:
        model.writestr("config.json", "{}" * 200)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# 1. The queue: a status file can never block later runs or crash `runs`/`train`.
BAD_STATUS = {
    "cut_short": b'{"state": "runn',
    "reused_pid": b'{"state": "running", "pid": 1}',
    "reused_pid_queued": b'{"state": "queued", "pid": 1, "updated_at": 1}',
    "not_an_object": b"1",
    "pid_as_text": b'{"state": "running", "pid": "1234"}',
    "a_list": b"[]",
    "null": b"null",
    "empty": b"",
    "binary": b"\xff\xfe\x00garbage",
    "state_is_a_number": b'{"state": 5}',
    "unknown_state": b'{"state": "exploding", "epoch": 3}',
    "updated_at_text": b'{"state": "queued", "updated_at": "soon"}',
    "updated_at_future": b'{"state": "queued", "updated_at": 1e300}',
    "fields_of_wrong_types": b'{"state": "running", "epoch": "x", "epochs": null, '
    b'"started_at": "t", "error": 3, "message": []}',
    "nan_epoch": b'{"state": "running", "epoch": NaN, "epochs": Infinity}',
}


@pytest.mark.parametrize("content", BAD_STATUS.values(), ids=list(BAD_STATUS))
def test_bad_status_without_worker_never_blocks_the_queue(content):
    stuck = runs.create_run(_spec())
    later = runs.create_run(_spec())
    (runs.run_dir(stuck) / runs.STATUS_FILE).write_bytes(content)

    status = runs.read_status(stuck)
    assert status.state == "failed"
    assert status.error in (runs.LOST_MESSAGE, runs.DAMAGED_STATUS_MESSAGE)
    assert runs.runs_ahead_of(later) == []
    assert runs.summarize_run(stuck)["state"] == "failed"
    runs.delete_run(stuck)  # Delete works on a dead run
    assert runs.list_runs() == [later]


def test_status_file_that_is_a_folder_reads_as_failed():
    run_id = runs.create_run(_spec())
    status_path = runs.run_dir(run_id) / runs.STATUS_FILE
    status_path.unlink()
    status_path.mkdir()  # not even writable as a file: the failure is only read
    status = runs.read_status(run_id)
    assert (status.state, status.error) == ("failed", runs.DAMAGED_STATUS_MESSAGE)


def test_cut_short_status_of_a_live_worker_stays_active_and_queues():
    running = runs.create_run(_spec())
    later = runs.create_run(_spec())
    assert run_locks.hold_worker_lock(running)
    (runs.run_dir(running) / runs.STATUS_FILE).write_bytes(b'{"sta')
    assert runs.read_status(running).state == "running"
    assert runs.runs_ahead_of(later) == [running]
    with pytest.raises(RunError, match="still active"):
        runs.delete_run(running)
    run_locks.release_worker_lock(running)  # the worker dies
    assert runs.read_status(running).state == "failed"
    assert runs.runs_ahead_of(later) == []


@pytest.mark.trains
def test_a_second_worker_for_the_same_run_is_refused():
    run_id = runs.create_run(_spec())
    assert run_locks.hold_worker_lock(run_id)
    with pytest.raises(RunError, match="already has a training process"):
        launch.executor().submit(run_id)


def test_stop_on_a_run_without_worker_marks_it_stopped_at_once():
    run_id = runs.create_run(_spec())
    assert runs.request_stop(run_id) == "stopped"
    assert runs.read_status(run_id).message == "Stopped; it had no training process."


def test_stop_on_a_live_run_asks_the_worker():
    run_id = runs.create_run(_spec())
    assert run_locks.hold_worker_lock(run_id)
    runs.write_status(run_id, state="running")
    assert runs.request_stop(run_id) == "running"
    assert runs.is_stop_requested(run_id)


def test_stop_on_a_finished_run_changes_nothing():
    run_id = runs.create_run(_spec())
    _complete(run_id)
    assert runs.request_stop(run_id) == "completed"


def test_cli_stop_and_delete_a_stuck_run(capsys):
    run_id = runs.create_run(_spec())
    (runs.run_dir(run_id) / runs.STATUS_FILE).write_text('{"state":"running","pid":1}')
    assert main(["stop", run_id]) == 0
    assert capsys.readouterr().out == f"Run {run_id} is stopped.\n"
    assert main(["delete", run_id]) == 0
    assert capsys.readouterr().out == f"Deleted run {run_id}.\n"
    assert runs.list_runs() == []


def test_cli_runs_survives_every_bad_status(capsys):
    for content in BAD_STATUS.values():
        run_id = runs.create_run(_spec())
        (runs.run_dir(run_id) / runs.STATUS_FILE).write_bytes(content)
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["state"] for row in rows] == ["failed"] * len(BAD_STATUS)


@pytest.mark.slow
@pytest.mark.trains
def test_queue_survives_kill_corrupt_and_restart(dataset_id):
    """A real worker is SIGKILLed mid-training and its status corrupted: the next runs
    in the queue still start and finish."""
    first = runs.create_run(_spec(dataset_id, epochs=5000, patience=500))
    pid = int(launch.executor().submit(first))
    second = runs.create_run(_spec(dataset_id))
    launch.executor().submit(second)
    wait_for(lambda: runs.read_status(first).epoch >= 1, 120, "the first to train")
    assert runs.read_status(second).message == f"Waiting for run {first} to finish."

    os.kill(pid, signal.SIGKILL)
    (runs.run_dir(first) / runs.STATUS_FILE).write_text('{"state":"running","pid":1}')
    wait_for(lambda: not runs.read_status(second).is_active, 120, "the second run")
    assert runs.read_status(second).state == "completed"
    assert runs.read_status(first).state == "failed"

    runs.delete_run(first)  # the dead run can go, and a new run starts after it
    third = runs.create_run(_spec(dataset_id))
    launch.executor().submit(third)
    wait_for(lambda: not runs.read_status(third).is_active, 120, "the third run")
    assert runs.read_status(third).state == "completed"
    assert runs.usable_runs() == [third, second]


# 2. Damaged run folders: one bad run is listed as damaged, the others keep working.
def _remove(path: Path) -> None:
    path.unlink()


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


DAMAGE = {
    "info_deleted": (runs.INFO_FILE, _remove, "info.json"),
    "spec_cut_short": (runs.SPEC_FILE, _cut, "spec.json"),
    "spec_a_list": (runs.SPEC_FILE, lambda p: p.write_text("[]"), "spec.json"),
    "model_cut_short": (runs.MODEL_FILE, _cut, "model.keras"),
    "model_deleted": (runs.MODEL_FILE, _remove, "model.keras"),
    "model_empty": (runs.MODEL_FILE, lambda p: p.write_bytes(b""), "model.keras"),
    "evaluation_a_list": (
        runs.EVALUATION_FILE,
        lambda p: p.write_text("[]"),
        "evaluation.json",
    ),
    "evaluation_deleted": (runs.EVALUATION_FILE, _remove, "evaluation.json"),
    "info_not_utf8": (
        runs.INFO_FILE,
        lambda p: p.write_bytes(b"\xff\xfe"),
        "info.json",
    ),
}


@pytest.mark.parametrize(("name", "damage", "named"), DAMAGE.values(), ids=list(DAMAGE))
def test_one_damaged_run_is_listed_as_damaged(name, damage, named, capsys):
    good = runs.create_run(_spec())
    bad = runs.create_run(_spec())
    for run_id in (good, bad):
        _complete(run_id)
    damage(runs.run_dir(bad) / name)

    assert named in runs.run_problem(bad)
    assert runs.run_problem(good) == ""
    assert runs.usable_runs() == [good]
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{bad}  damaged") and named in lines[0]
    assert lines[1].startswith(f"{good}  completed") and "accuracy=0.750" in lines[1]


@pytest.mark.parametrize(
    ("report", "value"),
    [
        ({"metrics": []}, None),
        ({"metrics": {"accuracy": "high"}}, None),
        ({"metrics": {"accuracy": float("nan")}}, None),
        ({"metrics": {"rmse": 1.5}}, 1.5),
        ({"metrics": {"accuracy": 0.9}, "headline_metric": ["accuracy"]}, 0.9),
        (
            {
                "metrics": {"accuracy": 0.9, "average_precision": 0.8},
                "headline_metric": "average_precision",
            },
            0.8,
        ),
    ],
)
def test_odd_evaluation_contents_summarize(report, value):
    run_id = runs.create_run(_spec())
    _complete(run_id)
    runs.write_json_atomic(runs.run_dir(run_id) / runs.EVALUATION_FILE, report)
    assert runs.summarize_run(run_id)["value"] == value


def test_created_at_no_calendar_holds_still_summarizes():
    run_id = runs.create_run(_spec())
    spec_path = runs.run_dir(run_id) / runs.SPEC_FILE
    runs.write_json_atomic(
        spec_path, {**runs.read_json(spec_path), "created_at": 1e300}
    )
    assert runs.summarize_run(run_id)["created"] == runs.datetime.fromtimestamp(
        0
    ).strftime("%Y-%m-%d %H:%M")


def test_cut_short_metrics_read_as_empty():
    run_id = runs.create_run(_spec())
    (runs.run_dir(run_id) / runs.METRICS_FILE).write_bytes(b'epoch,loss\n1,"0.5\n\xff')
    assert runs.read_metrics(run_id).empty


# 3. A full disk: atomic files, no partial model, the failure still recorded.
def test_full_disk_leaves_the_old_json_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    runs.write_json_atomic(path, {"state": "running"})
    monkeypatch.setattr(Path, "write_text", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        runs.write_json_atomic(path, {"state": "completed"})
    assert runs.read_json(path) == {"state": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_full_disk_while_saving_leaves_no_model_file(tmp_path):
    class HalfSaver:
        def save(self, path):
            Path(path).write_bytes(b"PK\x03\x04half")
            _disk_full()

    target = tmp_path / runs.MODEL_FILE
    with pytest.raises(OSError, match="No space left"):
        training.save_model(HalfSaver(), target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.trains
def test_full_disk_at_save_fails_the_run_with_a_sentence(dataset_id, monkeypatch):
    import keras

    def half_save(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04half")
        _disk_full()

    monkeypatch.setattr(keras.Model, "save", half_save)
    run_id = runs.create_run(_spec(dataset_id))
    assert training.train_run(run_id) == "failed"
    status = runs.read_status(run_id)
    assert status.error.startswith("The disk is full")
    folder = runs.run_dir(run_id)
    assert not (folder / runs.MODEL_FILE).exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp.keras")]
    assert runs.usable_runs() == []


def test_full_disk_even_for_the_failed_status_reads_as_failed(monkeypatch):
    run_id = runs.create_run(_spec(template_missing=True))  # fails: unknown param
    real_write = runs.write_status

    def write_status(run, **changes):
        if changes.get("state") in runs.FINAL_STATES:
            _disk_full()
        real_write(run, **changes)

    monkeypatch.setattr(runs, "write_status", write_status)
    assert training.train_run(run_id) == "failed"
    status = runs.read_status(run_id)
    assert (status.state, status.error) == ("failed", runs.LOST_MESSAGE)


def test_predict_offers_only_sound_finished_checked_runs():
    good, failed, active, unchecked, refused = (
        runs.create_run(_spec()) for _ in range(5)
    )
    for run_id in (good, failed, unchecked, refused):
        _complete(run_id)
    runs.write_status(failed, state="failed", error="boom")  # its model stays on disk
    run_locks.hold_worker_lock(active)
    folder = runs.run_dir(refused)
    runs.write_json_atomic(folder / runs.EXPORT_CHECK_FILE, {"ok": False})
    runs.write_json_atomic(
        runs.run_dir(good) / runs.EXPORT_CHECK_FILE, {"ok": True, "message": "ok"}
    )
    assert sorted(runs.usable_runs()) == sorted([good, unchecked])


# 4. Ctrl-C in the CLI is Stop: one line, the best model kept, exit status 130.
def _interrupt_at_epoch_end(monkeypatch, at_epoch: int) -> None:
    original = training.RunDirLogger.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 == at_epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(training.RunDirLogger, "on_epoch_end", on_epoch_end)


def _train_argv(table_csv: Path, *extra: str) -> list[str]:
    return ["train", str(table_csv), "--target", "label", "--epochs", "4", *extra]


@pytest.mark.trains
def test_ctrl_c_after_an_epoch_keeps_the_best_model(table_csv, monkeypatch, capsys):
    _interrupt_at_epoch_end(monkeypatch, at_epoch=2)
    assert main(_train_argv(table_csv, "--param", "batch_size=8")) == 130
    err = capsys.readouterr().err.strip().splitlines()
    (run_id,) = runs.list_runs()
    model = runs.run_dir(run_id) / runs.MODEL_FILE
    assert err == [f"Run {run_id} stopped. The best model so far was kept: {model}"]
    status = runs.read_status(run_id)
    assert (status.state, status.epoch) == ("stopped", 2)
    assert runs.usable_runs() == [run_id]


@pytest.mark.trains
def test_ctrl_c_before_the_first_epoch_keeps_nothing(table_csv, monkeypatch, capsys):
    def interrupt(self, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.RunDirLogger, "on_train_begin", interrupt)
    assert main(_train_argv(table_csv)) == 130
    (run_id,) = runs.list_runs()
    assert capsys.readouterr().err == (
        f"Run {run_id} stopped. {training.NOT_STARTED_MESSAGE}\n"
    )
    assert runs.read_status(run_id).state == "stopped"
    assert runs.usable_runs() == []


def test_ctrl_c_while_reading_the_data_prints_one_line(table_csv, monkeypatch, capsys):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets, "store_upload", interrupt)
    assert main(_train_argv(table_csv)) == 130
    assert capsys.readouterr().err == "Stopped.\n"


def test_ctrl_c_while_queued_stops_the_run(monkeypatch):
    earlier = runs.create_run(_spec())
    run_id = runs.create_run(_spec())
    run_locks.hold_worker_lock(earlier)

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.time, "sleep", interrupt)
    assert training.train_run(run_id) == "stopped"
    assert runs.read_status(run_id).message == training.NOT_STARTED_MESSAGE


def test_sigterm_handler_turns_into_stop():
    with pytest.raises(KeyboardInterrupt):
        training._interrupt(signal.SIGTERM, None)


# 5. A folder deleted while training, and parameters checked before a run exists.
@pytest.mark.trains
def test_deleting_the_folder_while_training_ends_quietly(
    dataset_id, monkeypatch, capsys
):
    original = training.RunDirLogger.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            shutil.rmtree(runs.runs_root() / self.run_id)
        original(self, epoch, logs)

    monkeypatch.setattr(training.RunDirLogger, "on_epoch_end", on_epoch_end)
    run_id = runs.create_run(_spec(dataset_id))
    assert training.train_run(run_id) == "failed"
    assert not (runs.runs_root() / run_id).exists()  # nothing written back
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.trains
def test_cli_says_a_run_deleted_while_training_was_deleted(
    table_csv, monkeypatch, capsys
):
    def on_epoch_end(self, epoch, logs=None):
        shutil.rmtree(runs.runs_root() / self.run_id)
        raise training.RunFolderGone(self.run_id)

    monkeypatch.setattr(training.RunDirLogger, "on_epoch_end", on_epoch_end)
    assert main(_train_argv(table_csv)) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: Run `[\w-]+` was deleted while it trained\.\n", err)
    assert runs.list_runs() == []


def test_deleting_the_folder_while_queued_ends_quietly(monkeypatch):
    earlier = runs.create_run(_spec())
    run_id = runs.create_run(_spec())
    run_locks.hold_worker_lock(earlier)
    monkeypatch.setattr(
        training.time, "sleep", lambda s: shutil.rmtree(runs.runs_root() / run_id)
    )
    assert training.train_run(run_id) == "failed"
    assert runs.list_runs() == [earlier]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"learning_rate": float("nan")}, "`learning_rate`. Expected a finite number"),
        ({"learning_rate": float("inf")}, "`learning_rate`. Expected a finite number"),
        ({"learning_rate": "-inf"}, "`learning_rate`. Expected a finite number"),
        ({"learning_rate": "NaN"}, "`learning_rate`. Expected a finite number"),
        ({"dropout": float("nan")}, "`dropout`. Expected a finite number"),
        ({"val_fraction": float("nan")}, "`val_fraction`. Expected a finite number"),
        ({"epochs": float("inf")}, "`epochs`. Expected a whole number"),
        ({"epochs": 2.5}, "`epochs`. Expected a whole number"),
        ({"epochs": [3]}, "`epochs`. Expected a whole number"),
        ({"column_kinds": "abc"}, "Invalid value for argument `column_kinds`"),
        ({"column_kinds": ["x"]}, "Invalid value for argument `column_kinds`"),
        ({"column_kinds": {"x": "weird"}}, "Invalid value for argument `column_kinds`"),
        ({"column_kinds": {"x": None}}, "Invalid value for argument `column_kinds`"),
    ],
)
def test_bad_table_params_are_refused(overrides, message):
    with pytest.raises(DataError, match=re.escape(message)):
        resolve_params(get_template("tabular_classification"), overrides)


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("False", False), (False, False)]
)
def test_boolean_params_accept_true_and_false(value, expected):
    params = resolve_params(get_template("image_classification"), {"augment": value})
    assert params["augment"] is expected


@pytest.mark.parametrize("value", ["maybe", 2, "yes please"])
def test_boolean_params_refuse_anything_else(value):
    with pytest.raises(DataError, match="`augment`. Expected true or false"):
        resolve_params(get_template("image_classification"), {"augment": value})


def _weights_refused(value: str) -> None:
    with pytest.raises(DataError) as caught:
        resolve_params(get_template("image_classification"), {"weights_path": value})
    assert str(caught.value).startswith(
        "Invalid value for argument `weights_path`. Expected an existing .h5 or .keras "
        "file in the Keras cache"
    )


@pytest.mark.parametrize(
    "value", ["/etc/passwd", "/etc/../etc/passwd", "~/.bashrc", "/nonexistent/w.h5"]
)
def test_weights_path_outside_the_allowed_folders_is_refused(value):
    _weights_refused(value)


def test_weights_path_refuses_a_wrong_suffix_and_a_symlink_out(workspace_root):
    workspace_root.mkdir()
    text = workspace_root / "weights.txt"
    text.write_text("x")
    _weights_refused(str(text))
    link = workspace_root / "sneaky.h5"
    link.symlink_to("/etc/passwd")
    _weights_refused(str(link))
    outside = workspace_root.parent / "elsewhere.h5"
    outside.write_bytes(b"x")
    _weights_refused(str(outside))


def test_weights_path_in_the_keras_cache_or_workspace_is_accepted(
    workspace_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    workspace_root.mkdir()
    cached = tmp_path / "keras" / "models" / "mobilenet.weights.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    mine = workspace_root / "mine.keras"
    mine.write_bytes(b"x")
    template = get_template("image_classification")
    for path in (cached, mine):
        params = resolve_params(template, {"weights_path": str(path)})
        assert params["weights_path"] == str(path)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("learning_rate=NaN", "`learning_rate`. Expected a finite number"),
        ("dropout=NaN", "`dropout`. Expected a finite number"),
        ("column_kinds=abc", "`column_kinds`. Expected a mapping"),
        ('column_kinds={"x": "weird"}', "`column_kinds`. Expected a mapping"),
        ("epochs=1e999", "`epochs`. Expected a whole number"),
    ],
)
def test_cli_refuses_bad_params_before_a_run_exists(param, message, table_csv, capsys):
    assert main(_train_argv(table_csv, "--param", param)) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert runs.list_runs() == []


# 6. Tracebacks stay in train.log; the CLI and the browser get a sentence.
def test_unexpected_training_error_prints_one_sentence(table_csv, monkeypatch, capsys):
    template = get_template("tabular_classification")

    def broken(*args):
        raise RuntimeError("wires crossed")

    monkeypatch.setattr(type(template), "build_model", broken)
    assert main(_train_argv(table_csv)) == 1
    err = capsys.readouterr().err
    (run_id,) = runs.list_runs()
    log = runs.run_dir(run_id) / runs.LOG_FILE
    assert err == (
        f"error: Unexpected error (RuntimeError: wires crossed). The full log is {log}.\n"
    )
    assert "Traceback" in log.read_text() and "wires crossed" in log.read_text()


def test_known_training_error_prints_only_its_sentence(table_csv, monkeypatch, capsys):
    template = get_template("tabular_classification")

    def refuse(*args):
        raise DataError("The data is not fit to learn from.\nsecond line")

    monkeypatch.setattr(type(template), "prepare", refuse)
    assert main(_train_argv(table_csv)) == 1
    assert capsys.readouterr().err == "error: The data is not fit to learn from.\n"


def test_training_error_is_a_user_error_that_prints_one_line(
    table_csv, monkeypatch, capsys
):
    assert issubclass(TrainingError, UserError)
    template = get_template("tabular_classification")

    def diverge(*args):
        raise TrainingError(training.DIVERGED_MESSAGE)

    monkeypatch.setattr(type(template), "build_model", diverge)
    assert main(_train_argv(table_csv)) == 1
    assert capsys.readouterr().err == f"error: {training.DIVERGED_MESSAGE}\n"


def test_streamlit_shows_no_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


@pytest.mark.trains
def test_worker_process_with_a_foreign_lock_exits_without_training(dataset_id):
    run_id = runs.create_run(_spec(dataset_id))
    assert run_locks.hold_worker_lock(run_id)
    done = subprocess.run(
        [sys.executable, "-m", "core.training", str(runs.run_dir(run_id))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"Run `{run_id}` already has a training process." in done.stderr
    assert "Traceback" not in done.stderr
    assert runs.read_status(run_id).state == "queued"
    assert runs.read_status(run_id).pid is None


# 7. A damaged trained run is refused in one sentence: by the CLI and by the pages.
@pytest.fixture(scope="module")
def trained_workspace(tmp_path_factory) -> Path:
    """A workspace with one trained table run, trained once for the tests below."""
    root = tmp_path_factory.mktemp("trained") / "workspace"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(workspace.WORKSPACE_ENV, str(root))
        spec = RunSpec(
            "tabular_classification",
            datasets.store_sample("heart.csv"),
            "target",
            FAST_PARAMS,
            seed=0,
            dataset_name="heart.csv",
        )
        run_id = runs.create_run(spec)
        assert training.train_run(run_id) == "completed", runs.read_status(run_id)
    return root


@pytest.fixture
def trained_run(trained_workspace, workspace_root) -> str:
    """A copy of the trained run in this test's own workspace, to damage at will."""
    shutil.copytree(trained_workspace, workspace_root, dirs_exist_ok=True)
    return runs.list_runs()[0]


@pytest.fixture
def heart_rows(tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    rows = (ROOT / "sample_data" / "heart.csv").read_text().splitlines()[:6]
    path.write_text("\n".join(rows) + "\n")
    return path


def _cut_weights(path: Path) -> None:
    """Cuts the weights inside model.keras short; the zip itself stays readable."""
    with zipfile.ZipFile(path) as model:
        members = {name: model.read(name) for name in model.namelist()}
    with zipfile.ZipFile(path, "w") as model:
        for name, content in members.items():
            cut = name.endswith(".h5")
            model.writestr(name, content[: len(content) // 2] if cut else content)


RUN_DAMAGE = {
    "info_deleted": (
        runs.INFO_FILE,
        _remove,
        "data description (info.json) is missing",
    ),
    "model_cut_short": (runs.MODEL_FILE, _cut, "model file (model.keras) is damaged"),
    "model_weights_cut": (
        runs.MODEL_FILE,
        _cut_weights,
        "model file (model.keras) is damaged",
    ),
    "model_deleted": (runs.MODEL_FILE, _remove, "model file (model.keras) is missing"),
    "spec_cut_short": (runs.SPEC_FILE, _cut, "settings file (spec.json) is missing"),
}


def _refusal(run_id: str, words: str) -> re.Pattern:
    return re.compile(
        rf"Run `{run_id}` cannot be used: its {re.escape(words)}[\w ]*\. "
        r"Train it again or delete it\."
    )


@pytest.mark.trains
@pytest.mark.parametrize(
    ("name", "damage", "words"), RUN_DAMAGE.values(), ids=list(RUN_DAMAGE)
)
def test_cli_predict_refuses_a_damaged_run_in_one_line(
    name, damage, words, trained_run, heart_rows, tmp_path, capsys
):
    damage(runs.run_dir(trained_run) / name)
    out = tmp_path / "out.csv"

    assert main(["predict", trained_run, str(heart_rows), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and _refusal(trained_run, words).fullmatch(lines[0][7:])
    assert not out.exists()


@pytest.mark.trains
def test_cli_predict_in_a_fresh_process_prints_no_traceback(
    trained_run, heart_rows, tmp_path, workspace_root
):
    """As a person would run it: `python -m core predict RUN rows.csv`."""
    (runs.run_dir(trained_run) / runs.INFO_FILE).unlink()
    done = subprocess.run(
        [sys.executable, "-m", "core", "predict", trained_run, str(heart_rows)]
        + ["-o", str(tmp_path / "out.csv")],
        cwd=ROOT,
        env={**os.environ, workspace.WORKSPACE_ENV: str(workspace_root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert _refusal(trained_run, RUN_DAMAGE["info_deleted"][2]).fullmatch(last[7:])


@pytest.mark.trains
def test_the_sound_copy_still_predicts(trained_run, heart_rows, tmp_path):
    out = tmp_path / "out.csv"
    assert main(["predict", trained_run, str(heart_rows), "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6  # a header and five rows


def test_readers_tell_a_run_in_training_to_wait():
    run_id = runs.create_run(_spec())  # queued: no model, info or report yet
    for load in (runs.load_model, runs.load_info, runs.load_evaluation):
        with pytest.raises(RunError, match="is still queued; it can be used once"):
            load(run_id)
    assert runs.load_spec(run_id)["template"] == "tabular_classification"


@pytest.mark.trains
def test_predict_page_shows_a_damaged_model_in_one_sentence(trained_run):
    from pages.ui import state
    from pages.ui.cache import load_model_cached
    from tests.test_pages import open_page, texts

    load_model_cached.clear()
    _cut_weights(runs.run_dir(trained_run) / runs.MODEL_FILE)  # still offered: a zip
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: trained_run})
    at.form_submit_button[0].click().run()

    assert not at.exception
    assert _refusal(trained_run, "model file (model.keras) is damaged").search(
        texts(at.error)
    )


@pytest.mark.trains
def test_results_page_shows_a_deleted_report_in_one_sentence(trained_run):
    from pages.ui import state
    from tests.test_pages import open_page, texts

    (runs.run_dir(trained_run) / runs.EVALUATION_FILE).unlink()
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})

    assert not at.exception
    words = "test report (evaluation.json) is missing"
    assert _refusal(trained_run, words).search(texts(at.error))
