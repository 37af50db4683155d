"""Pre-trained weights: download (good, broken, cut short, offline), cache, fine-tuning.

A local `http.server` on 127.0.0.1 stands in for Keras' storage; the weights it serves
are those of a freshly built MobileNetV3Small (no ImageNet weights exist here).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from core import runs, training
from core.__main__ import main as cli
from core.catalog import get_template
from core.errors import WeightsError
from core.templates.params import resolve_params
from core.vision import finetune, ingest, weights
from core.vision import template as vision_template
from tests.test_images import class_files
from tests.test_pages import open_page, texts

NAME = "mobilenet_v3_small"
SIZE = 32


def tiny_backbone(path: Path | str | None = None) -> keras.Model:
    return keras.applications.MobileNetV3Small(
        include_top=False, weights=path, input_shape=(SIZE, SIZE, 3), pooling="avg"
    )


@pytest.fixture(scope="module")
def weights_bytes(tmp_path_factory) -> bytes:
    """A MobileNetV3Small weights file in the legacy HDF5 layout Keras publishes."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(3)
    backbone = calibrated(tiny_backbone())
    path = tmp_path_factory.mktemp("weights") / "mobilenet.h5"
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, backbone)
    return path.read_bytes()


def calibrated(backbone: keras.Model) -> keras.Model:
    """Sets each BatchNorm's statistics from sample pictures, as trained weights have.

    Freshly initialized, the network's activations shrink to ~1e-11 by the top, so
    nothing there would learn visibly; real ImageNet statistics keep them near 1.
    """
    pictures = np.random.default_rng(0).uniform(0, 255, (8, SIZE, SIZE, 3))
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            seen = keras.Model(backbone.input, layer.input)(pictures, training=False)
            seen = np.asarray(seen)
            layer.moving_mean.assign(seen.mean(axis=(0, 1, 2)))
            layer.moving_variance.assign(seen.var(axis=(0, 1, 2)) + 1e-3)
    return backbone


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.files[path] = (body, declared length)`; anything else is a 404."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body, length = self.server.files.get(self.path, (None, 0))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)  # fewer bytes than declared: a cut-short download

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A local weights server; KERAS_HOME and the download URL point at tmp_path/it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(weights.WEIGHTS_URL_ENV, f"http://127.0.0.1:{httpd.server_port}")
    monkeypatch.setattr(weights, "cache_folders", lambda: [tmp_path / "keras/models"])
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def serve(server, monkeypatch, body: bytes, length: int | None = None, good=b""):
    """Serves `body` as MobileNetV3Small's file; its known checksum is that of `good`."""
    entry = weights.BACKBONES[NAME]
    known = hashlib.md5(good or body).hexdigest()
    monkeypatch.setitem(
        weights.BACKBONES, NAME, dataclasses.replace(entry, file_hash=known)
    )
    server.files[f"/{entry.file_name}"] = (
        body,
        len(body) if length is None else length,
    )
    return Path(weights.cache_folders()[0]) / entry.file_name


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_download_is_checked_cached_and_reported(
    server, monkeypatch, weights_bytes
):
    target = serve(server, monkeypatch, weights_bytes)
    seen = []
    assert weights.readiness()[NAME] is None
    path = weights.fetch(NAME, progress=lambda done, total: seen.append((done, total)))
    assert path == target and path.read_bytes() == weights_bytes
    assert seen[-1] == (len(weights_bytes), len(weights_bytes)) and len(seen) > 1
    assert leftovers(target.parent) == [target.name]  # no temporary file is left
    assert weights.readiness()[NAME] == target
    server.files.clear()  # a second fetch uses the cache, not the network
    assert weights.fetch(NAME) == target


def test_broken_download_fails_its_checksum_and_leaves_nothing(
    server, monkeypatch, weights_bytes
):
    broken = bytearray(weights_bytes)
    broken[len(broken) // 2] ^= 0xFF
    target = serve(server, monkeypatch, bytes(broken), good=weights_bytes)
    with pytest.raises(WeightsError, match="damaged.*checksum"):
        weights.fetch(NAME)
    assert leftovers(target.parent) == []


def test_truncated_download_says_how_far_it_got(server, monkeypatch, weights_bytes):
    half = weights_bytes[: len(weights_bytes) // 2]
    target = serve(server, monkeypatch, half, length=len(weights_bytes))
    with pytest.raises(WeightsError, match=f"stopped after {len(half):,} of"):
        weights.fetch(NAME)
    assert leftovers(target.parent) == []


def test_offline_and_missing_files_get_the_plain_fallback_message(server, monkeypatch):
    with pytest.raises(WeightsError, match="answered 404.*small network"):
        weights.fetch(NAME)
    with socket.socket() as probe:  # a port nobody listens on: like being offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(weights.WEIGHTS_URL_ENV, f"http://127.0.0.1:{port}/")
    with pytest.raises(
        WeightsError, match="cannot reach the internet.*Upload the file instead"
    ):
        weights.fetch(NAME, timeout=5)
    with pytest.raises(WeightsError, match="Expected one of"):
        weights.fetch("resnet")


def test_url_defaults_to_keras_own_storage(monkeypatch):
    monkeypatch.delenv(weights.WEIGHTS_URL_ENV, raising=False)
    assert weights.weights_url(NAME) == (
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    )


def test_cli_weights_fetch_and_list(server, monkeypatch, weights_bytes, capsys):
    target = serve(server, monkeypatch, weights_bytes)
    assert cli(["weights", "list"]) == 0
    assert f"{NAME}" in capsys.readouterr().out
    assert cli(["weights", "fetch", NAME]) == 0
    assert target.is_file() and str(target) in capsys.readouterr().out
    assert cli(["weights", "fetch", "efficientnet_b0"]) == 1  # the server lacks it
    assert "error: Could not download" in capsys.readouterr().err


@pytest.mark.trains
def test_a_run_fine_tunes_on_the_downloaded_weights(server, monkeypatch, weights_bytes):
    serve(server, monkeypatch, weights_bytes)
    weights.fetch(NAME)
    params = {"epochs": 2, "batch_size": 8, "image_size": SIZE, "augment": False}
    dataset_id = ingest.store_files("tiny", class_files())
    run_id = runs.create_run(
        runs.RunSpec("image_classification", dataset_id, None, params)
    )
    assert training.train_run(run_id) == "completed"
    assert "Transfer learning" in runs.read_evaluation(run_id)["model_note"]
    assert runs.read_info(run_id)["backbone"] == NAME


@pytest.mark.trains
def test_fine_tuning_trains_the_top_and_keeps_batchnorm_and_the_bottom(
    server, monkeypatch, weights_bytes, tmp_path
):
    """Head first on the frozen backbone, then its top layers; BatchNorm stays as loaded."""
    serve(server, monkeypatch, weights_bytes)
    path = weights.fetch(NAME)
    template = get_template("image_classification")
    params = resolve_params(
        template, {"epochs": 3, "batch_size": 8, "image_size": SIZE, "augment": False}
    )
    dataset = template.load_data(ingest.store_files("tiny", class_files()))
    prepared = template.prepare(dataset, None, params, seed=0)
    model = template.build_model(prepared, params)
    callbacks = template.callbacks(prepared, params)
    model.fit(prepared.train.inputs, epochs=3, callbacks=callbacks, verbose=0)
    model.save(tmp_path / "model.keras")  # with the fine-tuning optimizer
    trained = finetune.backbone_of(keras.saving.load_model(tmp_path / "model.keras"))
    loaded = {layer.name: layer for layer in tiny_backbone(path).layers}
    changed = {
        layer.name: not all(
            np.allclose(a, b)
            for a, b in zip(
                layer.get_weights(), loaded[layer.name].get_weights(), strict=True
            )
        )
        for layer in trained.layers
        if layer.weights
    }
    batch_norms = {
        layer.name
        for layer in trained.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    top = set(callbacks[0].opened)
    assert batch_norms and top and not batch_norms & top
    assert all(changed[n] for n in top)  # fine-tuned
    assert not any(changed[n] for n in set(changed) - top)  # kept as loaded


def test_fine_tuning_starts_after_a_third_with_a_lower_rate():
    callback = finetune.fine_tune_callback(epochs=30, learning_rate=1e-3)
    assert (callback.start, callback.learning_rate) == (10, pytest.approx(1e-4))
    backbone = tiny_backbone()
    opened = finetune.unfreeze_top(backbone)
    trainable = [layer for layer in backbone.layers if layer.trainable]
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in trainable
    )
    assert opened == [layer.name for layer in trainable if layer.weights]
    assert len(trainable) <= 0.25 * len(backbone.layers) + 1  # only the top quarter
    assert not backbone.layers[1].trainable  # the bottom stays frozen


def test_auto_uses_downloaded_weights_and_the_note_says_how_to_get_them(
    server, monkeypatch, weights_bytes
):
    params = {"backbone": "auto", "weights_path": ""}
    backbone, _, note = vision_template.resolve_backbone(params)
    assert backbone == "small_cnn" and "upload them on Home or Train" in note
    serve(server, monkeypatch, weights_bytes)
    path = weights.fetch(NAME)
    assert vision_template.resolve_backbone(params)[:2] == (NAME, str(path.resolve()))


def test_home_says_which_networks_are_ready_and_downloads_one(
    server, monkeypatch, weights_bytes
):
    serve(server, monkeypatch, weights_bytes)
    at = open_page()
    assert "**MobileNetV3Small**: not downloaded" in texts(at.markdown)
    at.button(key=f"_w_fetch_{NAME}").click().run()
    assert not at.exception
    assert "**MobileNetV3Small**: ready" in texts(at.markdown)
    assert weights.readiness()[NAME] is not None
    at.button(key="_w_fetch_efficientnet_b0").click().run()  # the server lacks it
    assert not at.exception
    assert "Could not download the pre-trained EfficientNetB0" in texts(at.warning)
