"""A corpus of hostile and damaged inputs: each ends in one sentence or a safe result.

Damaged zips (pictures and bundles), bundles with wrong metadata or hostile models,
odd CSV files, corrupt pictures, CSV formula injection, Markdown injection and odd run
ids. No training here: one tiny untrained model per template is built once.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import stat
import struct
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import core.corpus.ingest
from core import __main__ as cli
from core import (
    archive,
    bundle_import,
    datasets,
    export,
    prediction,
    runs,
    safe_csv,
    table_reading,
    workspace,
)
from core.catalog import get_template, list_templates
from core.errors import DataError, RunError
from core.templates.params import resolve_params
from core.vision import ingest
from pages.ui import state
from pages.ui.text import plain, plot_text
from tests.conftest import FAST_PARAMS, tiny_series
from tests.test_images import class_files, picture
from tests.test_pages import open_page, texts

TEMPLATES = [t.name for t in list_templates()]
MISSING = object()


# --- one tiny untrained model and its metadata per template, built once ---------------


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, tuple[bytes, dict]]:
    """Template name -> (model.keras bytes, metadata.json as a dict)."""
    root = tmp_path_factory.mktemp("made")
    result = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(workspace.WORKSPACE_ENV, str(root / "workspace"))
        for template in list_templates():
            frame, target = template.example_data()
            params = resolve_params(template, {**FAST_PARAMS, "batch_size": 8})
            prepared = template.prepare(frame, target, params, seed=0)
            model = template.build_model(prepared, params)
            template.calibrate(model, prepared, params)  # as training does (decisions)
            path = root / f"{template.name}.keras"
            model.save(path)
            metadata = {
                "format": export.BUNDLE_FORMAT,
                "run_id": "made",
                "template": template.name,
                "dataset": "made",
                "params": dict(params),
                **prepared.info,
                "metrics": {},
                "summary": [],
            }
            result[template.name] = (
                path.read_bytes(),
                json.loads(json.dumps(metadata, default=str)),
            )
    return result


def _bundle(model: bytes, metadata: dict | bytes) -> bytes:
    raw = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("model.keras", model)
        bundle.writestr("metadata.json", raw)
    return buffer.getvalue()


def _refused(payload: bytes, words: str, name: str = "upload.zip") -> None:
    before = runs.list_runs()
    with pytest.raises(DataError) as caught:
        bundle_import.import_bundle(payload, name)
    assert words in str(caught.value)
    assert "Traceback" not in str(caught.value) and "/tmp" not in str(caught.value)
    assert runs.list_runs() == before  # nothing half-imported


# --- item 3: a valid bundle of each template imports and predicts -----------------------


@pytest.mark.parametrize("template", TEMPLATES)
def test_valid_bundle_of_each_template_imports_and_predicts(made, template, tmp_path):
    model, metadata = made[template]
    run_id = bundle_import.import_bundle(_bundle(model, metadata), "ok.zip")
    assert runs.read_status(run_id).state == "completed"
    assert run_id in runs.usable_runs() and runs.run_problem(run_id) == ""
    if template == "image_classification":
        (tmp_path / "pics").mkdir()
        (tmp_path / "pics" / "a.png").write_bytes(picture())
        table, _ = prediction.predict_path(run_id, tmp_path / "pics")
        assert table["prediction"].isin(metadata["class_names"]).all()
    elif template == "timeseries_forecasting":
        tiny_series().to_csv(tmp_path / "history.csv", index=False)
        table, _ = prediction.predict_path(run_id, tmp_path / "history.csv")
        assert len(table) == metadata["horizon"]
        assert {"forecast", "lower", "upper"} <= set(table.columns)
    elif template == "next_word":
        (tmp_path / "prompts.txt").write_text("the cat\n\n")
        table, _ = prediction.predict_path(run_id, tmp_path / "prompts.txt")
        assert len(table) == 2 and table["probability_1"].gt(0).all()
    elif template == "text_classification":
        frame, target = get_template(template).example_data()
        frame.head(3).drop(columns=target).to_csv(tmp_path / "texts.csv", index=False)
        table, _ = prediction.predict_path(run_id, tmp_path / "texts.csv")
        assert (
            len(table) == 3 and table["prediction"].isin(metadata["class_names"]).all()
        )
    else:
        frame, target = get_template(template).example_data()
        rows = frame.head(3).drop(columns=[target] if target else [])
        table, _ = prediction.predict_frame(run_id, rows)
        answer = "anomaly_score" if template == "anomaly_detection" else "prediction"
        assert len(table) == 3 and table[answer].notna().all()


# --- item 3: metadata that is missing a key or has a wrong type is refused --------------

METADATA_CASES = [
    # (template, key, bad value or MISSING, words in the message)
    ("tabular_classification", "class_names", MISSING, "`class_names` is missing"),
    ("tabular_classification", "class_names", "yes,no", "`class_names` should be"),
    ("tabular_classification", "class_names", ["yes"], "`class_names` should be"),
    ("tabular_classification", "class_names", ["a", "a"], "`class_names` should be"),
    ("tabular_classification", "class_names", [1, 2], "`class_names` should be"),
    ("tabular_classification", "schema", [], "`schema` should be"),
    ("tabular_classification", "schema", "x,color", "`schema` should be"),
    ("tabular_classification", "schema", [{"name": "x"}], "`schema` should be"),
    (
        "tabular_classification",
        "schema",
        [{"name": "x", "kind": "number", "default": "0", "min": 0, "max": 1}],
        "`schema` should be",
    ),
    (
        "tabular_classification",
        "schema",
        [{"name": "c", "kind": "category", "default": "a", "choices": "abc"}],
        "`schema` should be",
    ),
    (
        "tabular_classification",
        "schema",
        [{"name": "c", "kind": "exec", "default": ""}],
        "`schema` should be",
    ),
    ("tabular_classification", "target", MISSING, "`target` is missing"),
    ("tabular_classification", "target", ["label"], "`target` should be"),
    ("tabular_classification", "params", MISSING, "`params` is missing"),
    ("tabular_classification", "params", [], "`params` should be"),
    ("tabular_classification", "task", "regression", "`task` should be"),
    ("tabular_regression", "target_mean", MISSING, "`target_mean` is missing"),
    ("tabular_regression", "target_mean", "0.5", "`target_mean` should be"),
    ("tabular_regression", "target_std", True, "`target_std` should be"),
    ("tabular_regression", "target_std", float("nan"), "`target_std` should be"),
    ("tabular_regression", "target_std", float("inf"), "`target_std` should be"),
    ("tabular_regression", "target_mean", 10**400, None),  # a huge int is a number
    ("image_classification", "image_size", MISSING, "`image_size` is missing"),
    ("image_classification", "image_size", "64", "`image_size` should be"),
    ("image_classification", "image_size", 0, "`image_size` should be"),
    ("image_classification", "image_size", 10**6, "`image_size` should be"),
    ("image_classification", "class_names", None, "`class_names` should be"),
    ("timeseries_forecasting", "time_column", MISSING, "`time_column` is missing"),
    ("timeseries_forecasting", "time_column", 3, "`time_column` should be"),
    ("timeseries_forecasting", "columns", [], "`columns` should be"),
    ("timeseries_forecasting", "columns", ["other"], "`columns` should be"),
    ("timeseries_forecasting", "freq", "every tuesday", "`freq` should be"),
    ("timeseries_forecasting", "freq", 7, "`freq` should be"),
    ("timeseries_forecasting", "utc", "no", "`utc` should be"),
    ("timeseries_forecasting", "lookback", 0, "`lookback` should be"),
    ("timeseries_forecasting", "lookback", 2.5, "`lookback` should be"),
    ("timeseries_forecasting", "horizon", "7", "`horizon` should be"),
    ("timeseries_forecasting", "step_seconds", -1, "`step_seconds` should be"),
    ("timeseries_forecasting", "time_format", 5, "`time_format` should be"),
    ("timeseries_forecasting", "fill_gaps", MISSING, "`fill_gaps` is missing"),
    ("timeseries_forecasting", "unit", MISSING, "`unit` is missing"),
]


@pytest.mark.parametrize(
    ("template", "key", "value", "words"),
    METADATA_CASES,
    ids=[
        f"{t}-{k}-{'missing' if v is MISSING else v!r}" for t, k, v, _ in METADATA_CASES
    ],
)
def test_bundle_with_wrong_metadata_is_refused_naming_the_key(
    made, template, key, value, words
):
    model, metadata = made[template]
    metadata = dict(metadata)
    if value is MISSING:
        del metadata[key]
    else:
        metadata[key] = value
    payload = _bundle(model, json.dumps(metadata, allow_nan=True).encode())
    if words is None:  # odd but harmless: imported
        assert (
            runs.read_status(bundle_import.import_bundle(payload, "x.zip")).is_active
            is False
        )
    else:
        _refused(payload, words)


@pytest.mark.parametrize(
    ("template", "change", "words"),
    [
        ("tabular_classification", {"class_names": ["a", "b", "c"]}, "2 outputs for 3"),
        ("image_classification", {"class_names": ["a", "b", "c"]}, "2 outputs for 3"),
        (
            "tabular_classification",
            {
                "schema": [
                    {"name": "age", "kind": "number", "default": 0, "min": 0, "max": 1}
                ]
            },
            "no inputs for the columns ['age']",
        ),
        ("timeseries_forecasting", {"horizon": 999}, "horizon=999"),
        ("timeseries_forecasting", {"lookback": 10**12}, "lookback=1000000000000"),
    ],
    ids=[
        "table-classes",
        "image-classes",
        "table-inputs",
        "forecast-horizon",
        "forecast-lookback",
    ],
)
def test_bundle_whose_model_contradicts_its_metadata_is_refused(
    made, template, change, words
):
    model, metadata = made[template]
    _refused(_bundle(model, {**metadata, **change}), words)


# --- item 11: hostile or broken model files, with the real reason -----------------------


def _edit_config(model: bytes, edit) -> bytes:
    """Returns the .keras archive with its config.json changed by `edit(config)`."""
    source, target = zipfile.ZipFile(io.BytesIO(model)), io.BytesIO()
    with source, zipfile.ZipFile(target, "w") as out:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "config.json":
                config = json.loads(content)
                edit(config)
                content = json.dumps(config).encode()
            out.writestr(entry.filename, content)
    return target.getvalue()


def _first_dense(config: dict) -> dict:
    return next(
        layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"
    )


def _custom_class(config: dict) -> None:
    layer = _first_dense(config)
    layer.update(
        module="evil_pkg", class_name="Backdoor", registered_name="evil>Backdoor"
    )


def _gadget(config: dict) -> None:
    layer = _first_dense(config)
    layer.update(
        module="keras.layers",
        class_name="Lambda",
        registered_name=None,
        config={
            "name": layer["config"]["name"],
            "function": {
                "module": "os",
                "class_name": "function",
                "config": "system",
                "registered_name": "function",
            },
        },
    )


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (lambda m: _edit_config(m, _custom_class), "only models without custom code"),
        (lambda m: _edit_config(m, _gadget), "only models without custom code"),
        (lambda m: b"not a keras file", "damaged or not a Keras model file"),
        (lambda m: b"", "damaged or not a Keras model file"),
        (lambda m: b"\x89HDF\r\n\x1a\n" + bytes(64), "damaged or not a Keras model"),
        (lambda m: m[: len(m) // 2], "damaged or not a Keras model file"),
    ],
    ids=["custom-class", "os-system-gadget", "text", "empty", "hdf5", "truncated"],
)
def test_hostile_or_broken_model_is_refused_with_its_reason(made, model, words):
    keras_bytes, metadata = made["tabular_classification"]
    _refused(_bundle(model(keras_bytes), metadata), words)


def test_refusal_reason_names_a_lambda_layer():
    err = ValueError("Requested the deserialization of a `Lambda` layer whose ...")
    assert bundle_import.refusal_reason(err).startswith("it contains a Lambda layer")


# --- item 2: damaged zips, for bundles and for pictures --------------------------------


def _zip_bytes(members: list[tuple[str, bytes]], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as out:
        for name, content in members:
            out.writestr(name, content)
    return buffer.getvalue()


def _encrypted(members):
    """Sets the 'encrypted' flag on the first entry (local and central headers)."""
    raw = bytearray(_zip_bytes(members))
    first = members[0][0].encode()
    for start in (m.start() for m in re.finditer(re.escape(first), bytes(raw))):
        if raw[start - 30 : start - 26] == b"PK\x03\x04":
            raw[start - 24] |= 0x1
        if raw[start - 46 : start - 42] == b"PK\x01\x02":
            raw[start - 38] |= 0x1
    return bytes(raw)


def _unknown_method(members):
    """Marks the first entry as compressed with method 99 (AES, unsupported)."""
    raw = bytearray(_zip_bytes(members, zipfile.ZIP_STORED))
    first = members[0][0].encode()
    for start in (m.start() for m in re.finditer(re.escape(first), bytes(raw))):
        if raw[start - 30 : start - 26] == b"PK\x03\x04":
            struct.pack_into("<H", raw, start - 22, 99)
        if raw[start - 46 : start - 42] == b"PK\x01\x02":
            struct.pack_into("<H", raw, start - 36, 99)
    return bytes(raw)


def _bad_crc(members):
    """Flips one byte of the first entry's stored data, so its CRC no longer matches."""
    raw = bytearray(_zip_bytes(members, zipfile.ZIP_STORED))
    first = members[0][0].encode()
    start = raw.index(first) + len(first)
    raw[start + 5] ^= 0xFF
    return bytes(raw)


def _corrupt_deflate(members):
    """Garbles the first entry's deflate stream (zlib.error while reading)."""
    raw = bytearray(_zip_bytes(members))
    first = members[0][0].encode()
    start = raw.index(first) + len(first)
    raw[start : start + 8] = b"\xff" * 8
    return bytes(raw)


def _broken_directory(members):
    """Keeps the zip signature but garbles the central directory."""
    raw = bytearray(_zip_bytes(members))
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 4 : central + 46] = b"\xee" * 42
    return bytes(raw)


def _lying_size(members):
    """Declares the first entry smaller than it is (a header that lies)."""
    raw = bytearray(_zip_bytes(members, zipfile.ZIP_STORED))
    first = members[0][0].encode()
    for start in (m.start() for m in re.finditer(re.escape(first), bytes(raw))):
        if raw[start - 30 : start - 26] == b"PK\x03\x04":
            struct.pack_into("<I", raw, start - 8, 3)
        if raw[start - 46 : start - 42] == b"PK\x01\x02":
            struct.pack_into("<I", raw, start - 22, 3)
    return bytes(raw)


DAMAGES = {
    "encrypted": (_encrypted, "password-protected entry"),
    "unknown-method": (_unknown_method, "compression method this app cannot read"),
    "bad-crc": (_bad_crc, "is damaged: the entry"),
    "corrupt-deflate": (_corrupt_deflate, "is damaged: the entry"),
    "broken-directory": (_broken_directory, "damaged zip file"),
    "lying-size": (_lying_size, "is damaged: the entry"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_bundle_zip_is_one_sentence(made, damage):
    model, metadata = made["tabular_classification"]
    make, words = DAMAGES[damage]
    members = [("metadata.json", json.dumps(metadata).encode()), ("model.keras", model)]
    _refused(make(members), words, "damaged.zip")


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_picture_zip_is_one_sentence_and_leaves_nothing(damage, workspace_root):
    make, words = DAMAGES[damage]
    files = class_files()
    with pytest.raises(DataError, match=re.escape(words)) as caught:
        ingest.store_zip("photos.zip", make(files))
    assert "`photos.zip`" in str(caught.value)
    assert not any(datasets.datasets_root().iterdir())  # nothing half-extracted


def test_truncated_zip_is_not_a_zip():
    content = _zip_bytes(class_files())
    with pytest.raises(DataError, match="is not a zip file"):
        ingest.store_zip("cut.zip", content[: len(content) // 2])


def test_read_entry_refuses_an_entry_larger_than_declared():
    content = _lying_size([("a.txt", b"0123456789")])
    with archive.open_zip(content, "x.zip") as zipped:
        entry = zipped.infolist()[0]
        with pytest.raises(DataError, match="'a.txt' cannot be read"):
            archive.read_entry(zipped, entry, "x.zip")


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([("..\\evil.keras", b"x")], "unsafe path"),
        ([("C:evil.keras", b"x")], "unsafe path"),
        ([(f"f{i}.txt", b"x") for i in range(25)], "holds 25 files"),
        ([("model.keras", b"x"), ("metadata.json", b"[1, 2]")], "not a Predictive"),
        (
            [("model.keras", b"x"), ("metadata.json", '{"a": 1}'.encode("utf-16"))],
            "metadata.json lacks ['format'",
        ),
        ([("model.keras", b"x"), ("metadata.json", b"[" * 100_000)], "unreadable"),
        (
            [
                ("model.keras", b"x"),
                (
                    "metadata.json",
                    b'{"format": "other", "template": "x", "task": "x", "schema": []}',
                ),
            ],
            "not a Predictive Studio bundle",
        ),
        (
            [
                ("model.keras", b"x"),
                (
                    "metadata.json",
                    json.dumps(
                        {
                            "format": export.BUNDLE_FORMAT,
                            "template": 7,
                            "task": "x",
                            "schema": [],
                        }
                    ).encode(),
                ),
            ],
            "`template` should be a template name",
        ),
        (
            [
                ("model.keras", b"x"),
                (
                    "metadata.json",
                    json.dumps(
                        {
                            "format": export.BUNDLE_FORMAT,
                            "template": "../../etc",
                            "task": "x",
                            "schema": [],
                        }
                    ).encode(),
                ),
            ],
            "../../etc",
        ),
        ([("metadata.json", b"{}"), ("model.keras/", b"")], "lacks ['model.keras']"),
    ],
    ids=[
        "backslash-dotdot",
        "drive-letter",
        "too-many-files",
        "metadata-list",
        "metadata-utf16",
        "metadata-deep-nesting",
        "foreign-format",
        "template-number",
        "template-path",
        "model-is-a-folder",
    ],
)
def test_foreign_or_unsafe_bundle_is_refused(members, words):
    _refused(_zip_bytes(members), words)


# --- one zip-entry check for every zip: pictures, text corpora and bundles -------------

ZIP_UPLOADERS = {
    "pictures": lambda content: ingest.store_zip("evil.zip", content),
    "corpus": lambda content: core.corpus.ingest.store_upload("evil.zip", content),
    "bundle": lambda content: bundle_import.import_bundle(content, "evil.zip"),
}


def _zip_with(entry: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("a.txt", "some words to read")
        if entry == "link":
            info = zipfile.ZipInfo("link.txt")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            out.writestr(info, "/etc/passwd")
        elif entry == "bomb":
            out.writestr("bomb.txt", b"\0" * (8 * 2**20))
        else:
            out.writestr(entry, "x y z")
    return buffer.getvalue()


@pytest.mark.parametrize("uploader", ZIP_UPLOADERS)
@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("../evil.txt", "unsafe path"),
        ("/abs/evil.txt", "unsafe path"),
        ("C:evil.txt", "unsafe path"),
        ("link", "symbolic link"),
        ("bomb", "zip bomb"),
    ],
    ids=["dotdot", "absolute", "drive-letter", "symlink", "bomb"],
)
def test_every_zip_upload_refuses_the_same_unsafe_entries(uploader, entry, words):
    with pytest.raises(DataError, match=words):
        ZIP_UPLOADERS[uploader](_zip_with(entry))
    assert runs.list_runs() == []
    assert list(datasets.datasets_root().iterdir()) == []


# --- corrupt pictures inside an otherwise good zip --------------------------------------


def _image_bytes(mode: str, size=(16, 16), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (picture()[:40], "not a picture: its content is not JPEG, PNG"),
        (b"", "the file is empty (0 bytes)"),
        (b"hello world", "not a picture: its content is not JPEG, PNG"),
        (
            _image_bytes("L", (20_000, 20_000)),
            "the picture is too large (400,000,000 pixels",
        ),
        (_image_bytes("RGB", fmt="JPEG"), None),  # a JPEG named .png: read by content
        (_image_bytes("RGB", (1, 1)), None),
        (_image_bytes("CMYK", fmt="JPEG"), None),
        (_image_bytes("I;16"), None),
    ],
    ids=[
        "truncated",
        "zero-bytes",
        "text",
        "pixel-bomb",
        "jpeg-as-png",
        "1px",
        "cmyk",
        "16-bit",
    ],
)
def test_corrupt_or_odd_picture_is_skipped_with_a_reason_or_read(content, reason):
    files = [*class_files(), ("red/odd.png", content)]
    loaded = ingest.load_images(ingest.store_zip("odd.zip", _zip_bytes(files)))
    skipped = dict(zip(loaded.skipped["file"], loaded.skipped["reason"], strict=True))
    if reason is None:
        assert "red/odd.png" in set(loaded.table["file"])
    else:
        assert skipped["red/odd.png"].startswith(reason)


# --- CSV files that are odd or hostile -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        (
            b"a,b,label\n1,\x002,x\n3,4,y\n",
            "is not a text CSV file (it contains binary",
        ),
        (b"\x1f\x8b\x08\x00" + bytes(40), "is not a text CSV file"),
        (b"PK\x03\x04" + bytes(60), "is not a text CSV file"),
        (b"<html><body>hi</body></html>\n", "has a header but no data rows"),
        (b'a,b\n"1,2\n3,4\n', "has rows of different lengths"),
        (
            (
                ",".join(f"c{i}" for i in range(3000)) + "\n" + "1," * 2999 + "1\n"
            ).encode(),
            "has 3000 columns; the limit is 2000",
        ),
        ("a,b,label\n1,2,x\n3,4,y\n".encode("utf-16"), ["a", "b", "label"]),
        ("name,b\nJos\xe9,2\nAndr\xe9,4\n".encode("latin-1"), ["name", "b"]),
        (b"\xef\xbb\xbfa,b\n1,2\n3,4\n", ["a", "b"]),
        (b"a,b\r1,2\r3,4\r", ["a", "b"]),
        (b"a\tb\n1\t2\n3\t4\n", ["a", "b"]),
        (b"a;b;c\n1;2;3\n4;5;6\n", ["a", "b", "c"]),
        (b"a,a,b\n1,2,3\n4,5,6\n", ["a", "a.1", "b"]),
        (b",,\n1,2,3\n4,5,6\n", ["column_1", "column_2", "column_3"]),
        (b"a,b\n" + b"x" * (2 * 2**20) + b",1\n2,3\n", ["a", "b"]),
        (b"a,label\n=1+1,x\n@SUM(A1),y\n", ["a", "label"]),
    ],
    ids=[
        "nul-byte",
        "gzip",
        "xlsx",
        "html",
        "unclosed-quote",
        "3000-columns",
        "utf-16",
        "latin-1",
        "utf-8-bom",
        "cr-line-ends",
        "tabs",
        "semicolons",
        "duplicate-headers",
        "empty-headers",
        "2-MB-field",
        "formula-cells-read-as-text",
    ],
)
def test_odd_csv_is_read_or_refused_in_one_sentence(raw, outcome):
    if isinstance(outcome, str):
        with pytest.raises(DataError, match=re.escape(f"`up.csv` {outcome}")):
            table_reading.read_csv_bytes(raw, "up.csv")
    else:
        assert list(table_reading.read_csv_bytes(raw, "up.csv").columns) == outcome


def test_latin_1_text_is_decoded():
    frame = table_reading.read_csv_bytes(
        "name,b\nJos\xe9,2\nAndr\xe9,4\n".encode("latin-1")
    )
    assert list(frame["name"]) == ["José", "André"]


# --- item 9: CSV formula injection -----------------------------------------------------

FORMULA_CASES = [
    ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("=1+1", "'=1+1"),
    ("-3.5", "-3.5"),
    ("+7", "+7"),
    ("-1e-3", "-1e-3"),
    ("safe text", "safe text"),
    (" =1+1", " =1+1"),  # a leading space is not a formula
]
BUNDLE_SCRIPTS = ["core.tables.bundle", "core.series.bundle", "core.vision.bundle"]


@pytest.mark.parametrize(("cell", "written"), FORMULA_CASES)
def test_formula_cells_are_neutralised(cell, written):
    assert safe_csv.neutralise_text(cell) == written


@pytest.mark.parametrize("script", BUNDLE_SCRIPTS)
@pytest.mark.parametrize(("cell", "written"), FORMULA_CASES)
def test_each_bundle_script_neutralises_like_the_app(script, cell, written):
    module = importlib.import_module(script)
    frame = pd.DataFrame({cell: [cell, 1.0]})
    safe = module.neutralise(frame)
    assert list(safe.columns) == [written]
    assert safe.iloc[0, 0] == written


def test_numbers_dates_and_headers_in_a_csv():
    frame = pd.DataFrame(
        {
            "=1+1": ["=HYPERLINK(1)", "-2"],
            "n": [-3.5, 2.0],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "kind": pd.Categorical(["@x", "ok"]),
        }
    )
    assert safe_csv.to_csv(frame).splitlines() == [
        "'=1+1,n,when,kind",
        "'=HYPERLINK(1),-3.5,2024-01-01,'@x",
        "-2,2.0,2024-01-02,ok",
    ]


def test_cli_prediction_csv_is_injection_safe(made, tmp_path):
    model, metadata = made["tabular_classification"]
    metadata = {**metadata, "class_names": ["=1+1", "@SUM(A1)"]}
    (tmp_path / "bundle.zip").write_bytes(_bundle(model, metadata))
    rows = pd.DataFrame(
        {"x": [0.5, -1.0], "z": [0.1, 0.2], "color": ["=cmd|' /C calc'!A0", "red"]}
    )
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "out.csv"
    argv = ["predict", str(tmp_path / "bundle.zip"), str(tmp_path / "rows.csv")]
    assert cli.main([*argv, "-o", str(out)]) == 0
    written = pd.read_csv(out, dtype=str)
    assert list(written.columns[-2:]) == ["probability_=1+1", "probability_@SUM(A1)"]
    assert set(written["prediction"]) <= {"'=1+1", "'@SUM(A1)"}
    assert written["color"][0] == "'=cmd|' /C calc'!A0"
    assert written["x"].tolist() == ["0.5", "-1.0"]  # numbers stay numbers


def test_bundle_predict_script_writes_an_injection_safe_csv(made, tmp_path):
    from core.tables import bundle as tables_bundle

    model, metadata = made["tabular_classification"]
    (tmp_path / "model.keras").write_bytes(model)
    (tmp_path / "metadata.json").write_text(
        json.dumps({**metadata, "class_names": ["=1+1", "b"]})
    )
    pd.DataFrame({"x": [1.0], "z": [0.1], "color": ["@SUM(A1)"]}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    argv = [str(tmp_path / "rows.csv"), "-o", str(tmp_path / "out.csv")]
    argv += ["--model", str(tmp_path / "model.keras")]
    argv += ["--metadata", str(tmp_path / "metadata.json")]
    assert tables_bundle.main(argv) == 0
    written = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert written["color"][0] == "'@SUM(A1)"
    assert written["prediction"][0] in {"'=1+1", "b"}


# --- item 10: Markdown injection --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("![p](http://host/pixel.png)", r"!\[p\](http\://host/pixel.png)"),
        ("[click](javascript:alert(1))", r"\[click\](javascript:alert(1))"),
        ("<img src=x onerror=alert(1)>", r"\<img src=x onerror=alert(1)\>"),
        ("a`b`c", r"a\`b\`c"),
        ("**bold** _it_", r"\*\*bold\*\* \_it\_"),
        ("# heading", r"\# heading"),
        ("- item", r"\- item"),
        ("1. first", r"1\. first"),
        (":red[alarm] :material/home:", r":red\[alarm\] \:material/home:"),
        ("$x^2$", r"\$x^2\$"),
        ("www.evil.com", r"www\.evil.com"),
        ("a|b", r"a\|b"),
        ("hidden_units", "hidden_units"),
        ("-3.5", "-3.5"),
        ("Received: x=1.", "Received: x=1."),
    ],
)
def test_user_strings_are_shown_as_text(text, shown):
    assert plain(text) == shown


def test_plotly_text_is_html_escaped():
    assert plot_text("<a href='x'>y</a>") == "&lt;a href=&#x27;x&#x27;&gt;y&lt;/a&gt;"


def _all_markdown(at) -> str:
    shown = ("markdown", "caption", "error", "warning", "info", "success", "subheader")
    parts = [str(e.value) for element in shown for e in at.get(element)]
    parts += [str(w.label) for w in at.get("selectbox")]
    return "\n".join(parts)


def test_data_page_shows_hostile_names_as_text():
    image, link = "![p](http://host/pixel.png)", "[click](javascript:alert(1))"
    rows = [f"{i % 3},{link if i % 2 else 'ok'}" for i in range(30)]
    raw = (f"{image},target\n" + "\n".join(rows) + "\n").encode()
    dataset_id = datasets.store_upload(f"{link}.csv", raw)
    at = open_page("pages/data.py", **{state.DATASET_ID: dataset_id})
    shown = _all_markdown(at)
    assert r"\[click\](javascript:alert(1))" in shown  # the file name, escaped
    assert "![" not in shown  # no image syntax
    assert not re.search(r"(?<!\\)\]\(", shown)  # no `](` that is not escaped
    assert f"{link}.csv" in texts(at.subheader)  # what the viewer reads
    charts = "\n".join(str(c.proto.spec) for c in at.get("plotly_chart"))
    assert "javascript" not in charts or "[click](javascript" in charts
    assert "<" not in charts.replace("&lt;", "")  # no HTML tags reach Plotly


def test_model_card_shows_hostile_names_as_text():
    image, link = "![p](http://host/pixel.png)", "[click](javascript:alert(1))"
    metadata = {
        "template": "tabular_classification",
        "task": "classification",
        "run_id": "r1",
        "dataset": f"{link}.csv",
        "target": image,
        "schema": [{"name": image, "kind": "number", "input": "c0_p"}],
        "class_names": [link, "ok"],
        "excluded": [link],
        "summary": [f"`{image}` matters most."],
        "verdict": {"beats_baseline": False, "headline": link, "method": image},
    }
    card = export.model_card(metadata)
    assert "![" not in card  # no image syntax anywhere
    assert not re.search(r"(?<!\\)\]\(", card)  # no `](` that is not escaped
    assert r"\[click\](javascript:alert(1))" in card  # the names, readable


# --- odd run ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_id", "words"),
    [
        ("../x", "Invalid value for argument `run_id`"),
        ("..", "Invalid value for argument `run_id`"),
        ("", "Invalid value for argument `run_id`"),
        (".hidden", "Invalid value for argument `run_id`"),
        ("a/b", "Invalid value for argument `run_id`"),
        ("/etc/passwd", "Invalid value for argument `run_id`"),
        ("x" * 300, "Invalid value for argument `run_id`"),
        ("20261127-000000-000-tabular_classification-0000", "There is no run"),
    ],
    ids=[
        "dotdot-slash",
        "dotdot",
        "empty",
        "hidden",
        "nested",
        "absolute",
        "long",
        "unknown",
    ],
)
def test_odd_run_id_is_refused(run_id, words):
    with pytest.raises(RunError, match=re.escape(words)):
        runs.load_model(run_id)


def test_bundle_import_writes_no_file_outside_the_run(made, workspace_root):
    model, metadata = made["tabular_classification"]
    run_id = bundle_import.import_bundle(_bundle(model, metadata), "../../evil.zip")
    assert runs.read_spec(run_id)["dataset_name"] == "imported from evil.zip"
    assert sorted(p.name for p in Path(workspace_root).iterdir()) == ["runs"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_checks_the_metadata_keys_it_reads(name, made):
    template = get_template(name)
    _, metadata = made[name]
    assert template.metadata_checks  # an imported bundle is checked key by key
    for key, (is_valid, expected) in template.metadata_checks.items():
        assert is_valid(metadata[key]), (key, expected)
    assert template.metadata_conflict(metadata) is None
