"""Pictures that would score at chance: said before Train, with the remedy right there.

The remedy's offline half, `weights.install`, keeps a weights file only once its
checksum matches; these tests use a tiny stand-in network whose published checksum is
that of a few bytes, so nothing here needs Keras or the internet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core import runs
from core.__main__ import main as cli
from core.errors import WeightsError
from core.vision import ingest, weights
from pages.ui import state
from tests.test_images import class_files
from tests.test_pages import _walk, open_page, texts

GOOD = b"the published weights, in miniature"
FAKE = weights.Backbone(
    "tiny_net",
    "TinyNet",
    "tiny_net_notop.h5",
    "https://weights.example/tiny/",
    hashlib.md5(GOOD).hexdigest(),
)


@pytest.fixture
def keras_cache(monkeypatch, tmp_path) -> Path:
    """An empty Keras cache in tmp_path; "auto" wants the tiny stand-in network."""
    folder = tmp_path / "keras" / "models"
    monkeypatch.setattr(weights, "cache_folders", lambda: [folder])
    monkeypatch.delenv(weights.WEIGHTS_URL_ENV, raising=False)
    monkeypatch.setitem(weights.BACKBONES, FAKE.name, FAKE)
    monkeypatch.setattr(weights, "AUTO", FAKE.name)
    return folder


def stored(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- install: checked by hash, stored under the backbone's own name ------------------


def test_install_keeps_the_right_bytes_under_the_networks_own_file_name(keras_cache):
    assert weights.find_cached(FAKE.name) is None
    path = weights.install(FAKE.name, GOOD)
    assert path == keras_cache / FAKE.file_name
    assert path.read_bytes() == GOOD
    assert stored(keras_cache) == [FAKE.file_name]  # no temporary file is left
    assert weights.find_cached(FAKE.name) == path
    assert weights.install(None, GOOD) == path  # any network: found by its checksum


def test_install_refuses_other_bytes_naming_the_file_and_where_to_get_it(keras_cache):
    with pytest.raises(WeightsError) as refused:
        weights.install(FAKE.name, GOOD + b"!")
    message = str(refused.value)
    assert "not the pre-trained network's weights file" in message
    assert f"`{FAKE.file_name}`" in message
    assert f"https://weights.example/tiny/{FAKE.file_name}" in message
    assert stored(keras_cache) == []  # nothing was written


def test_install_any_network_names_every_expected_file(keras_cache):
    with pytest.raises(WeightsError) as refused:
        weights.install(None, b"<html>not found</html>")
    for entry in weights.BACKBONES.values():
        assert f"`{entry.file_name}`" in str(refused.value)
    assert stored(keras_cache) == []


def test_install_checks_sha256_checksums_too(keras_cache, monkeypatch):
    entry = dataclasses.replace(FAKE, file_hash=hashlib.sha256(GOOD).hexdigest())
    monkeypatch.setitem(weights.BACKBONES, FAKE.name, entry)
    assert weights.install(FAKE.name, GOOD).read_bytes() == GOOD
    with pytest.raises(WeightsError, match="checksum does not match"):
        weights.install(FAKE.name, hashlib.md5(GOOD).digest())


def test_install_unknown_network_is_a_keras_style_error(keras_cache):
    with pytest.raises(WeightsError, match="Expected one of .*Received: name='resnet'"):
        weights.install("resnet", GOOD)


def test_cli_weights_install(keras_cache, tmp_path, capsys):
    good, bad = tmp_path / "download (1).h5", tmp_path / "other.h5"
    good.write_bytes(GOOD)
    bad.write_bytes(b"something else")
    assert cli(["weights", "install", str(good)]) == 0
    assert str(keras_cache / FAKE.file_name) in capsys.readouterr().out
    assert cli(["weights", "install", str(bad)]) == 1
    assert "error: That file is not the pre-trained" in capsys.readouterr().err
    assert stored(keras_cache) == [FAKE.file_name]


def test_offline_download_is_a_plain_sentence_offering_the_upload(
    keras_cache, monkeypatch
):
    def no_dns(url, timeout):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", no_dns)
    with pytest.raises(WeightsError) as failed:
        weights.fetch(FAKE.name)
    message = str(failed.value)
    assert message.startswith("This computer cannot reach the internet")
    assert "Upload the file instead: `tiny_net_notop.h5` from https://" in message
    assert "Errno" not in message and "Name or service" not in message
    assert stored(keras_cache) == []


# --- Train: the warning in plain sight, before the Train button, with the remedy ------


def _train_page():
    dataset_id = ingest.store_files("tiny", class_files())
    return open_page("pages/train.py", **{state.DATASET_ID: dataset_id})


def _containers_of(root, element) -> list[str]:
    """The types of the blocks that hold `element` (e.g. "expandable")."""
    for child in getattr(root, "children", {}).values():
        if child is element:
            return [root.type]
        found = _containers_of(child, element)
        if found:
            return [root.type, *found]
    return []


def test_train_warns_before_the_button_and_offers_download_and_upload(keras_cache):
    at = _train_page()
    assert "likely score no better than guessing" in texts(at.warning)
    assert "smallest class has 6 pictures" in texts(at.warning)
    assert "expandable" not in _containers_of(at.main, at.warning[0])  # in plain sight
    assert at.button(key="_w_train_weights_fetch").label == (
        "Download the pre-trained network"
    )
    assert at.file_uploader(key="_w_train_weights_upload")
    assert FAKE.file_name in texts(at.caption)  # where to get the file
    # the note is said once, above: not again in the collapsed notes
    assert "no better than guessing" not in texts(at.markdown)
    position = {id(e): i for i, e in enumerate(_walk(at.main))}
    train = position[id(at.form_submit_button[0])]
    assert position[id(at.warning[0])] < train  # said before the Train button
    assert position[id(at.file_uploader(key="_w_train_weights_upload"))] < train


def test_train_upload_of_the_wrong_file_says_which_file_is_expected(keras_cache):
    at = _train_page()
    at.file_uploader(key="_w_train_weights_upload").set_value(
        ("weights.h5", b"a photo, not weights", "application/octet-stream")
    ).run()
    assert not at.exception
    error = texts(at.error)
    assert "not the pre-trained network's weights file" in error
    assert FAKE.file_name in error and "https://weights.example/tiny/" in error
    assert stored(keras_cache) == []
    assert "no better than guessing" in texts(at.warning)  # still to be done


def test_train_upload_of_the_right_file_keeps_it_under_its_own_name(
    keras_cache, tmp_path
):
    at = _train_page()
    at.file_uploader(key="_w_train_weights_upload").set_value(
        ("../../evil.h5", GOOD, "application/octet-stream")
    ).run()
    assert not at.exception
    assert stored(keras_cache) == [FAKE.file_name]
    assert (keras_cache / FAKE.file_name).read_bytes() == GOOD
    assert not list(tmp_path.rglob("evil.h5"))
    assert "no better than guessing" not in texts(at.warning)  # the remedy worked
    assert not at.file_uploader  # and the offer is gone


def test_train_offline_download_says_so_and_keeps_the_upload(keras_cache, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    at = _train_page()
    at.button(key="_w_train_weights_fetch").click().run()
    assert not at.exception
    assert "This computer cannot reach the internet" in texts(at.warning)
    assert "Errno" not in texts(at.warning)
    url = weights.weights_url(FAKE.name)  # the whole address is one link
    assert f"](<{url}>)" in "".join(w.value for w in at.warning)
    assert at.file_uploader(key="_w_train_weights_upload")


def test_train_has_no_warning_once_the_network_is_here(keras_cache):
    weights.install(FAKE.name, GOOD)
    at = _train_page()
    assert "no better than guessing" not in texts(at.warning)
    assert not at.file_uploader


def test_tables_get_no_picture_warning(keras_cache):
    at = open_page(
        "pages/train.py",
        **{state.DATASET_ID: runs_free_table(), state.TARGET_COLUMN: "label"},
    )
    assert "no better than guessing" not in texts(at.warning)
    assert not at.file_uploader


def runs_free_table() -> str:
    from core import datasets

    return datasets.store_sample("heart.csv")


# --- Home: the same upload ------------------------------------------------------------


def test_home_takes_the_weights_file_as_an_upload(keras_cache):
    at = open_page()
    assert "**TinyNet**: not downloaded" in texts(at.markdown)
    at.file_uploader(key="_w_weights_home").set_value(
        ("x.h5", b"wrong", "application/octet-stream")
    ).run()
    assert "That file is not the pre-trained" in texts(at.error)
    at.file_uploader(key="_w_weights_home").set_value(
        ("x.h5", GOOD, "application/octet-stream")
    ).run()
    assert not at.exception
    assert "**TinyNet**: ready" in texts(at.markdown)
    assert not texts(at.error)


# --- item 10: a picture run was tested on photos, not rows ---------------------------


@pytest.mark.parametrize(
    ("template", "noun"),
    [("image_classification", "photos"), ("tabular_classification", "rows")],
)
def test_finished_run_names_what_it_was_tested_on(template, noun, keras_cache):
    pictures = template == "image_classification"
    dataset_id = (
        ingest.store_files("tiny", class_files()) if pictures else runs_free_table()
    )
    target = None if pictures else "target"
    spec = runs.RunSpec(template, dataset_id, target, {"epochs": 1})
    run_id = runs.create_run(spec)
    runs.write_status(run_id, state="completed", epoch=1, epochs=1, pid=os.getpid())
    session = {state.DATASET_ID: dataset_id, state.ACTIVE_RUN_ID: run_id}
    if target:
        session[state.TARGET_COLUMN] = target
    at = open_page("pages/train.py", **session)
    assert f"The model was tested on {noun} it never saw." in texts(at.success)
