"""Bundles out (verified in a fresh process) and back in (checked before anything loads)."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import keras
import numpy as np
import pandas as pd
import pytest

from core import bundle_import, datasets, export, prediction, runs
from core.errors import DataError
from tests.conftest import FAST_PARAMS, train_here


def _tiny_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    return pd.DataFrame(
        {
            "x": x,
            "color": rng.choice(["red", "blue"], 60),
            "label": np.where(x > 0, "yes", "no"),
        }
    )


def _train_tiny() -> tuple[str, pd.DataFrame]:
    frame = _tiny_frame()
    dataset_id = datasets.store_upload("tiny.csv", frame.to_csv(index=False).encode())
    spec = runs.RunSpec("tabular_classification", dataset_id, "label", FAST_PARAMS)
    return train_here(spec), frame


@pytest.fixture
def trained_run(trained_workspace, monkeypatch, prepared_downloads):
    """One tiny classification run, trained in-process, shared by this module's tests."""
    run_id, frame = trained_workspace("export", _train_tiny).use(monkeypatch)
    return run_id, frame


@pytest.fixture
def run_id(trained_run):
    return trained_run[0]


@pytest.mark.trains
def test_bundle_holds_model_metadata_card_and_script(run_id):
    check = export.build_bundle(run_id)
    assert check["ok"], check["message"]
    assert check["max_abs_diff"] <= export.CHECK_TOLERANCE
    assert export.read_export_check(run_id)["ok"]
    with zipfile.ZipFile(export.bundle_path(run_id)) as bundle:
        assert sorted(bundle.namelist()) == sorted(bundle_import.BUNDLE_MEMBERS)
        metadata = json.loads(bundle.read("metadata.json"))
        card = bundle.read("README.md").decode()
    assert metadata["class_names"] == ["no", "yes"]
    assert [f["name"] for f in metadata["schema"]] == ["x", "color"]
    assert set(metadata["metrics"]) >= {"accuracy", "balanced_accuracy", "f1"}
    assert metadata["versions"]["keras"] == keras.__version__
    assert "## Limitations" in card and "| accuracy |" in card
    verdict = metadata["verdict"]
    answer = "yes" if verdict["beats_baseline"] else "no"
    assert (
        f"beyond the noise of the test set: {answer}** ({verdict['headline']}" in card
    )


@pytest.mark.trains
def test_training_prepares_the_checked_download_and_it_loads(run_id, tmp_path):
    record = export.read_download(run_id)
    assert record["prepared_by"] == "training", record
    assert record["ok"] and "match the live model" in record["message"], record
    assert record["file"] == runs.BUNDLE_FILE and record["size_bytes"] > 1000
    assert runs.read_status(run_id).state == "completed"
    ready = export.ready_download(run_id)
    assert ready["size_bytes"] == export.bundle_path(run_id).stat().st_size
    with zipfile.ZipFile(export.bundle_path(run_id)) as bundle:
        bundle.extract("model.keras", tmp_path)
    model = keras.saving.load_model(tmp_path / "model.keras")  # safe mode
    assert len(model.inputs) == 2  # x and color


@pytest.mark.trains
def test_a_failed_preparation_leaves_the_run_completed_with_the_reason(
    monkeypatch, prepared_downloads
):
    def broken(run_id):
        raise OSError("No space left on device")

    monkeypatch.setattr(export, "build_bundle", broken)
    run_id, _ = _train_tiny()
    assert runs.read_status(run_id).state == "completed"
    record = export.read_download(run_id)
    assert record["prepared_by"] == "training" and not record["ok"]
    assert record["message"] == (
        "The download could not be prepared: No space left on device"
    )
    assert export.ready_download(run_id) == {}
    assert runs.is_usable(run_id)  # Predict still works with it


def test_preparing_a_missing_run_records_the_reason_instead_of_raising():
    record = export.prepare_download("no-such-run", by="cli")
    assert not record["ok"] and record["size_bytes"] == 0
    assert record["message"].startswith(
        "The download could not be prepared: There is no run `no-such-run`"
    )


def test_a_stopped_run_is_not_packaged(monkeypatch, prepared_downloads):
    monkeypatch.setattr(runs, "is_stop_requested", lambda run_id: True)
    monkeypatch.setattr(export, "prepare_download", pytest.fail)
    export.prepare_download_after_training("any-run")


def test_a_server_that_never_downloads_can_skip_the_packaging(monkeypatch):
    monkeypatch.setenv(export.PREPARE_DOWNLOAD_ENV, "0")
    monkeypatch.setattr(runs, "is_stop_requested", lambda run_id: False)
    monkeypatch.setattr(export, "prepare_download", pytest.fail)
    export.prepare_download_after_training("any-run")


@pytest.mark.trains
def test_predict_frame_appends_predictions_and_warns_on_extra_columns(
    trained_run, run_id
):
    frame = trained_run[1].head(4)
    result, warnings = prediction.predict_frame(run_id, frame)
    assert list(result.columns[-3:]) == [
        "prediction",
        "probability_no",
        "probability_yes",
    ]
    assert np.allclose(result[["probability_no", "probability_yes"]].sum(axis=1), 1)
    assert warnings == ["Ignored columns the model does not use: ['label']."]


@pytest.mark.trains
def test_predict_frame_names_missing_columns(run_id):
    with pytest.raises(DataError, match=r"lacks the model's input columns \['color'\]"):
        prediction.predict_frame(run_id, pd.DataFrame({"x": [1.0]}))


@pytest.mark.trains
def test_predict_frame_names_rows_with_words_in_number_columns(run_id):
    frame = pd.DataFrame({"x": ["1.5", "lots"], "color": ["red", "blue"]})
    with pytest.raises(DataError, match=r"`x` should hold numbers, but row\(s\) 2"):
        prediction.predict_frame(run_id, frame)


@pytest.mark.trains
def test_import_round_trip_gives_a_usable_run(run_id, trained_run):
    export.build_bundle(run_id)
    bundle = export.bundle_path(run_id).read_bytes()
    imported = bundle_import.import_bundle(bundle, "my bundle.zip")
    assert runs.read_status(imported).state == "completed"
    assert (
        bundle_import.import_bundle(bundle, "again.zip") == imported
    )  # same bytes, same run
    assert (
        runs.read_evaluation(imported)["verdict"]
        == runs.read_evaluation(run_id)["verdict"]
    )
    ours, _ = prediction.predict_frame(run_id, trained_run[1].head(3))
    theirs, _ = prediction.predict_frame(imported, trained_run[1].head(3))
    assert np.allclose(ours["probability_yes"], theirs["probability_yes"], atol=1e-6)


def _zip(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"this is not a zip", "is not a zip file"),
        (_zip({"../evil.txt": b"x"}), "unsafe path"),
        (_zip({"/abs/evil.txt": b"x"}), "unsafe path"),
        (_zip({"model.keras": b"x"}, symlink="metadata.json"), "symbolic link"),
        (_zip({"model.keras": b"\0" * (64 * 2**20)}), "zip bomb"),
        (_zip({"model.keras": b"x"}), "lacks ['metadata.json']"),
        (
            _zip({"model.keras": b"x", "metadata.json": b"{"}),
            "unreadable metadata.json",
        ),
        (
            _zip({"model.keras": b"x", "metadata.json": b"{}"}),
            "not a Predictive Studio",
        ),
    ],
    ids=[
        "not-zip",
        "dotdot",
        "absolute",
        "symlink",
        "bomb",
        "no-metadata",
        "bad-json",
        "foreign",
    ],
)
def test_import_refuses_unsafe_or_foreign_zips(payload, message):
    before = runs.list_runs()
    with pytest.raises(
        DataError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        bundle_import.import_bundle(payload, "upload.zip")
    assert runs.list_runs() == before


@pytest.mark.trains
def test_import_refuses_a_model_with_a_lambda_layer(tmp_path, run_id):
    inputs = keras.Input(shape=(1,), name="x")
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    export.build_bundle(run_id)
    with zipfile.ZipFile(export.bundle_path(run_id)) as bundle:
        metadata = bundle.read("metadata.json")
    payload = _zip(
        {
            "model.keras": (tmp_path / "lambda.keras").read_bytes(),
            "metadata.json": metadata,
        }
    )
    before = runs.list_runs()
    with pytest.raises(
        DataError, match="contains a Lambda layer, which could run code"
    ):
        bundle_import.import_bundle(payload, "lambda.zip")
    assert runs.list_runs() == before
