"""SavedModel, TFLite and ONNX exports: each verified in a fresh process, or refused.

One private workspace holds tiny runs of a numeric table, a forecast and pictures (plus a
table with a category column); each format is converted once per run and reused.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import (
    bundle_import,
    datasets,
    export,
    formats,
    runs,
)
from core.__main__ import main
from core.errors import Refusal
from core.formats import build
from core.vision import ingest
from tests.conftest import FAST_PARAMS, tiny_series, train_here
from tests.test_images import class_files

MODEL_FILES = {
    "savedmodel": "saved_model/saved_model.pb",
    "tflite": "model.tflite",
    "onnx": "model.onnx",
}


def _numbers_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    return pd.DataFrame(
        {
            "x": x,
            "z": np.where(np.arange(60) % 7 == 0, np.nan, rng.normal(size=60)),
            "y": 3 * x + rng.normal(scale=0.1, size=60),
        }
    )


def _categories_table() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    return pd.DataFrame(
        {
            "x": x,
            "color": rng.choice(["red", "blue"], 60),
            "label": np.where(x > 0, "yes", "no"),
        }
    )


def _specs() -> dict[str, runs.RunSpec]:
    def csv(name: str, frame: pd.DataFrame) -> str:
        return datasets.store_upload(name, frame.to_csv(index=False).encode())

    fast = {**FAST_PARAMS, "epochs": 2}
    return {
        "numbers": runs.RunSpec(
            "tabular_regression", csv("numbers.csv", _numbers_table()), "y", fast
        ),
        "forecast": runs.RunSpec(
            "timeseries_forecasting", csv("series.csv", tiny_series()), "y", fast
        ),
        "images": runs.RunSpec(
            "image_classification",
            ingest.store_files("tiny", class_files()),
            None,
            {**fast, "image_size": 32},
        ),
        "categories": runs.RunSpec(
            "tabular_classification",
            csv("cats.csv", _categories_table()),
            "label",
            fast,
        ),
    }


def _train_each() -> dict[str, str]:
    return {case: train_here(spec) for case, spec in _specs().items()}


@pytest.fixture
def run_ids(trained_workspace, monkeypatch) -> dict[str, str]:
    return trained_workspace("formats", _train_each).use(monkeypatch)


def _exported(run_id: str, fmt: str) -> dict:
    """Builds in this process (verification still runs in a fresh one); cached."""
    return formats.read_result(run_id, fmt) or build.build(run_id, fmt)


def _snippet(card: str, language: str) -> str:
    return re.search(rf"```{language}\n(.*?)```", card, re.S).group(1)


def _unzip(run_id: str, fmt: str, folder: Path) -> str:
    with zipfile.ZipFile(formats.download_path(run_id, fmt)) as archive:
        archive.extractall(folder)
    return (folder / "README.md").read_text()


@pytest.mark.trains
@pytest.mark.parametrize("case", ["numbers", "forecast", "images"])
@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "onnx"])
def test_each_format_exports_and_verifies_in_a_fresh_process(
    run_ids, case, fmt, tmp_path
):
    result = _exported(run_ids[case], fmt)
    assert result["ok"], result["message"]
    assert "fresh process" in result["message"]
    assert result["max_abs_diff"] <= export.CHECK_TOLERANCE
    assert result["size_bytes"] > 0 and result["latency_ms"] > 0
    card = _unzip(run_ids[case], fmt, tmp_path)
    assert (tmp_path / MODEL_FILES[fmt]).is_file()
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["export"]["format"] == fmt
    for spec in result["inputs"]:  # the fixed shapes are stated in the card
        assert f"`{spec['name']}`: (n, " in card
    # The card's Python snippet runs as written, next to the unzipped model.
    code = _snippet(card, "python")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"\d", done.stdout)


@pytest.mark.trains
def test_tflite_precisions_report_size_and_test_score(run_ids):
    result = _exported(run_ids["images"], "tflite")
    variants = {v["name"]: v for v in result["variants"]}
    assert list(variants) == ["float32", "float16", "int8", "int8_full"]
    keras_score = result["keras"]["score"]
    assert keras_score[0] == "accuracy"
    assert variants["float32"]["score"][1] == pytest.approx(keras_score[1])
    float_size = variants["float32"]["size_bytes"]
    assert variants["float16"]["size_bytes"] < float_size
    assert variants["int8"]["size_bytes"] < variants["float16"]["size_bytes"]
    for variant in variants.values():
        assert 0 <= variant["score"][1] <= 1
    line = formats.describe_variant(variants["int8"], keras_score)
    assert "accuracy" in line and "on the test rows" in line


@pytest.mark.trains
@pytest.mark.parametrize("case", ["numbers", "forecast", "images"])
def test_phone_snippets_name_the_inputs_and_outputs_with_their_shapes(
    run_ids, case, tmp_path
):
    result = _exported(run_ids[case], "tflite")
    card = _unzip(run_ids[case], "tflite", tmp_path)
    kotlin, swift = _snippet(card, "kotlin"), _snippet(card, "swift")
    for spec in result["inputs"]:
        dims = [1 if d == -1 else d for d in spec["shape"]]
        nested = (
            "".join(f"Array({d}) {{ " for d in dims[:-1]) + f"FloatArray({dims[-1]})"
        )
        assert f'"{spec["name"]}" to {nested}' in kotlin
        assert f"count: {int(np.prod(dims))})" in swift
        assert f"`{spec['name']}`" in swift
    output = result["outputs"][0]
    assert f'mapOf("{output["name"]}" to output)' in kotlin
    assert f"FloatArray({output['shape'][-1]})" in kotlin
    assert "output(at: 0)" in swift


@pytest.mark.trains
def test_category_table_goes_to_tflite_but_onnx_is_refused_in_a_sentence(run_ids):
    run_id = run_ids["categories"]
    tflite = _exported(run_id, "tflite")
    assert tflite["ok"], tflite["message"]
    assert {"string" in i["dtype"] for i in tflite["inputs"]} == {True, False}
    onnx = _exported(run_id, "onnx")
    assert not onnx["ok"] and onnx["refused"]
    assert "ONNX cannot carry this model" in onnx["message"]
    assert "Use the SavedModel or TFLite" in onnx["message"]
    assert not formats.download_path(
        run_id, "onnx"
    ).exists()  # no file that fails later


@pytest.mark.trains
def test_cli_exports_a_format_and_refuses_unknown_ones(run_ids, tmp_path, capsys):
    run_id, out = run_ids["numbers"], tmp_path / "model.zip"
    formats.result_path(run_id, "savedmodel").unlink(missing_ok=True)  # convert anew
    assert main(["export", run_id, "--format", "savedmodel", "-o", str(out)]) == 0
    assert "fresh process" in capsys.readouterr().out
    assert "saved_model/saved_model.pb" in zipfile.ZipFile(out).namelist()
    assert main(["export", run_id, "--format", "coreml", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Invalid value for argument `format`" in err and "coreml" in err


@pytest.mark.trains
@pytest.mark.parametrize(
    ("fmt", "name", "member"),
    [
        ("tflite", "model.tflite", "model.tflite"),
        ("onnx", "model.onnx", "model.onnx"),
        ("bundle", "model.keras", "model.keras"),
    ],
)
def test_cli_writes_the_file_its_extension_names(
    run_ids, fmt, name, member, tmp_path, capsys
):
    run_id, out = run_ids["numbers"], tmp_path / name
    if fmt != "bundle":
        _exported(run_id, fmt)  # cached: the CLI reuses it
    assert main(["export", run_id, "--format", fmt, "-o", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    with zipfile.ZipFile(formats.download_path(run_id, fmt)) as archive:
        assert out.read_bytes() == archive.read(member)
    if fmt != "bundle":  # a .keras file is itself a zip
        assert not zipfile.is_zipfile(out)


@pytest.mark.trains
def test_cli_writes_a_savedmodel_folder_for_a_path_without_extension(run_ids, tmp_path):
    run_id, out = run_ids["numbers"], tmp_path / "served" / "1"
    _exported(run_id, "savedmodel")
    out.parent.mkdir()
    assert main(["export", run_id, "--format", "savedmodel", "-o", str(out)]) == 0
    assert (out / "saved_model.pb").is_file() and (out / "variables").is_dir()
    assert [p.name for p in out.parent.iterdir()] == ["1"]  # no partial left
    assert main(["export", run_id, "--format", "savedmodel", "-o", str(out)]) == 1


@pytest.mark.parametrize(
    ("fmt", "name", "works"),
    [
        ("tflite", "model.onnx", "a .zip or as a .tflite file"),
        ("onnx", "model.tflite", "a .zip or as a .onnx file"),
        ("savedmodel", "model.tflite", "a .zip or as a folder"),
        ("bundle", "bundle", "a .zip or as a .keras file"),
    ],
)
def test_cli_refuses_an_extension_the_format_cannot_write(
    fmt, name, works, tmp_path, capsys
):
    out = tmp_path / name
    argv = ["export", "any-run", "--format", fmt, "-o", str(out)]
    assert main(argv) == 1  # before looking for the run or converting anything
    err = capsys.readouterr().err.strip().splitlines()
    assert "Invalid value for argument `output`" in err[-1] and works in err[-1]
    assert name in err[-1] and not out.exists()


@pytest.mark.trains
def test_an_imported_run_without_check_inputs_is_refused(run_ids):
    export.build_bundle(run_ids["numbers"])
    data_ = export.bundle_path(run_ids["numbers"]).read_bytes()
    imported = bundle_import.import_bundle(data_, "bundle.zip")
    result = build.build(imported, "tflite")
    assert result["refused"] and "no recorded check inputs" in result["message"]
    assert not formats.download_path(imported, "tflite").exists()


@pytest.mark.trains
def test_results_page_offers_each_converted_format_with_size_and_latency(run_ids):
    from pages.ui import state
    from tests.test_pages import open_page, texts

    run_id = run_ids["forecast"]
    for fmt in ("tflite", "onnx"):
        _exported(run_id, fmt)
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: run_id})
    labels = [b.label for b in at.download_button]
    tflite = next(label for label in labels if label.startswith("Download tflite"))
    assert re.search(r"\(\d+ KB, \d+\.\d ms a prediction\)", tflite)
    assert any(label.startswith("Download onnx") for label in labels)
    assert "match the Keras model" in texts(at.success)
    assert "model_int8.tflite" in texts(at.caption)
    # A file not prepared yet (this run's bundle: the tests skip packaging after
    # training) waits for its button: nothing runs on a rerun.
    assert "Prepare the model download" in [b.label for b in at.button]


@pytest.mark.trains
@pytest.mark.parametrize("case", ["numbers", "forecast", "images"])
def test_test_score_of_the_keras_model_is_the_one_in_its_report(run_ids, case):
    result = _exported(run_ids[case], "tflite")
    name, value = result["keras"]["score"]
    assert value == pytest.approx(runs.read_evaluation(run_ids[case])["metrics"][name])


def test_tflite_refusal_names_the_ops_a_phone_lacks():
    # The converter's words for a text model (TextVectorization), shortened.
    err = RuntimeError(
        "Could not translate MLIR to FlatBuffer.<unknown>:0: error: 'tf.StringLower' "
        "op is neither a custom op nor a flex op\nSome ops are not supported by the "
        "native TFLite runtime, you can enable TF kernels fallback using TF Select.\n"
        "TF Select ops: StringLower, StringSplitV2\nDetails:\n\ttf.StringLower"
    )
    message = build.tflite_refusal(err)
    assert "(StringLower, StringSplitV2)" in message
    assert message.startswith("TFLite cannot carry this model")
    assert "Use the SavedModel or the bundle" in message
    other = build.tflite_refusal(ValueError("Unsupported data type\nmore"))
    assert '"Unsupported data type"' in other and "instead" in other


def test_a_model_with_several_outputs_is_refused_before_converting():
    import keras

    from core.formats import convert

    rows = keras.Input((3,), name="rows")
    model = keras.Model(
        rows,
        {"score": keras.layers.Dense(1)(rows), "errors": keras.layers.Dense(3)(rows)},
    )
    with pytest.raises(Refusal, match="gives 2 outputs .* use its bundle"):
        convert.record("any-run", model)
