"""Image classification: safe ingestion, robust decoding, preflight, video, training, bundle."""

from __future__ import annotations

import io
import json
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from core import datasets, export, prediction, runs, training
from core.catalog import get_template
from core.errors import DataError
from core.templates.params import resolve_params
from core.vision import bundle as vision_bundle
from core.vision import ingest, previews, saliency, video
from core.vision import template as vision_template
from core.vision.bundle import ImageDecodeError

FAST = {"epochs": 1, "batch_size": 8, "patience": 1, "image_size": 32}
COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def picture(color=(200, 50, 50), size=(16, 16), fmt="PNG", mode="RGB", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.clip(
        np.array(color) + rng.integers(-20, 20, (size[1], size[0], 3)), 0, 255
    ).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


def class_files(per_class: int = 6, root: str = "") -> list[tuple[str, bytes]]:
    return [
        (f"{root}{label}/{label}_{i}.png", picture(color, seed=i + 10 * n))
        for n, (label, color) in enumerate(COLORS.items())
        for i in range(per_class)
    ]


def make_zip(files: list[tuple[str, bytes]], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def huge_png_header(width=30_000, height=30_000) -> bytes:
    """A tiny file whose PNG header claims a 30000×30000 picture (1-bit)."""

    def chunk(chunk_type: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(chunk_type + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def nothing_escaped(workspace_root: Path) -> None:
    outside = [p for p in workspace_root.parent.rglob("evil*")]
    assert outside == []
    leftovers = list(datasets.datasets_root().glob(".tmp-*"))
    assert leftovers == []


def tiny_image_set() -> ingest.ImageSet:
    """2 classes × 6 pictures of 16×16, stored in the test's workspace."""
    return ingest.load_images(ingest.store_files("tiny", class_files()))


def raw_pictures(n: int, size: tuple[int, int] = (30, 20)) -> np.ndarray:
    """Raw RGB pictures (not the model's size) as the float batch a user passes."""
    batch = [vision_bundle.decode_image(picture(size=size, seed=i)) for i in range(n)]
    return np.stack(batch).astype("float32")


@pytest.fixture
def tiny_images() -> str:
    return ingest.store_files("tiny", class_files())


# --- ingestion ---------------------------------------------------------------------


def test_zip_with_wrapping_folder_hidden_files_and_macosx(workspace_root):
    files = class_files(root="photos/") + [
        ("__MACOSX/photos/red/._red_0.png", b"junk"),
        ("photos/.DS_Store", b"junk"),
        ("photos/red/notes.txt", b"hello"),
    ]
    dataset_id = ingest.store_zip("photos.zip", make_zip(files))
    loaded = ingest.load_images(dataset_id)
    assert ingest.class_counts(loaded).to_dict() == {"red": 6, "blue": 6}
    assert loaded.skipped["file"].tolist() == ["red/notes.txt"]
    assert datasets.dataset_kind(dataset_id) == "images"
    assert ingest.check(loaded) == []
    # Stored under content hashes, never under the uploaded names.
    assert all(
        p.startswith("images/") and "red_" not in p for p in loaded.table["path"]
    )
    assert ingest.store_zip("again.zip", make_zip(files)) == dataset_id


@pytest.mark.parametrize(
    "bad_name, words",
    [
        ("../evil.png", "unsafe path"),
        ("red/../../evil.png", "unsafe path"),
        ("/tmp/evil.png", "unsafe path"),
        ("C:/evil.png", "unsafe path"),
    ],
)
def test_zip_with_unsafe_path_is_refused(workspace_root, bad_name, words):
    content = make_zip(class_files() + [(bad_name, picture())])
    with pytest.raises(DataError, match=words):
        ingest.store_zip("evil.zip", content)
    nothing_escaped(workspace_root)


def test_zip_with_symlink_is_refused(workspace_root):
    content = make_zip(class_files(), links=("red/evil_link.png",))
    with pytest.raises(DataError, match="symbolic link"):
        ingest.store_zip("links.zip", content)
    nothing_escaped(workspace_root)


def test_zip_bomb_is_refused(workspace_root):
    content = make_zip(class_files() + [("red/evil.png", b"\x00" * (50 * 2**20))])
    assert len(content) < 200_000
    with pytest.raises(DataError, match="zip bomb"):
        ingest.store_zip("bomb.zip", content)
    nothing_escaped(workspace_root)


def test_too_many_files_is_refused(workspace_root, monkeypatch):
    monkeypatch.setattr("core.archive.MAX_FILES", 5)
    with pytest.raises(DataError, match="more than 5 files"):
        ingest.store_zip("many.zip", make_zip(class_files()))


@pytest.mark.parametrize(
    "content, words",
    [
        (b"this is not a zip", "plain text"),
        (picture(fmt="PNG"), "PNG picture"),
        (b"", "empty"),
    ],
)
def test_non_zip_named_zip_is_refused(content, words):
    with pytest.raises(DataError, match=words):
        ingest.store_zip("photos.zip", content)


def test_unreadable_files_are_listed_and_skipped(workspace_root):
    good_jpeg = picture(fmt="JPEG", size=(64, 64))
    files = class_files() + [
        ("red/empty.jpg", b""),
        ("red/truncated.jpg", good_jpeg[: len(good_jpeg) // 2]),
        ("blue/text.png", b"I am only text pretending to be a picture"),
        ("blue/huge.png", huge_png_header()),
    ]
    loaded = ingest.load_images(ingest.store_zip("mixed.zip", make_zip(files)))
    reasons = dict(zip(loaded.skipped["file"], loaded.skipped["reason"], strict=True))
    assert "empty (0 bytes)" in reasons["red/empty.jpg"]
    assert "truncated" in reasons["red/truncated.jpg"]
    assert "not a picture" in reasons["blue/text.png"]
    assert "900,000,000 pixels" in reasons["blue/huge.png"]
    assert "decompression bomb" in reasons["blue/huge.png"]
    assert len(loaded.table) == 12  # the rest is used
    assert any("4 files were skipped" in f.message for f in ingest.preflight(loaded))


def test_nested_split_folders_are_refused():
    files = class_files(root="train/") + class_files(root="test/")
    with pytest.raises(DataError, match="nested class folders"):
        ingest.store_files("split", files)


def test_sub_folders_inside_a_class_take_the_top_folder():
    files = class_files() + [("red/more/extra.png", picture(COLORS["red"]))]
    loaded = ingest.load_images(ingest.store_files("nested", files))
    assert ingest.class_counts(loaded)["red"] == 7
    assert any("sub-folders" in note for note in loaded.notes)


def test_loose_images_with_labels_csv():
    files = [
        (f"img_{i}.png", picture(COLORS["red" if i % 2 else "blue"], seed=i))
        for i in range(10)
    ]
    csv = "filename,label\n" + "".join(
        f"img_{i}.png,{'red' if i % 2 else 'blue'}\n" for i in range(9)
    )
    loaded = ingest.load_images(
        ingest.store_files("loose", files + [("labels.csv", csv.encode())])
    )
    assert ingest.class_counts(loaded).to_dict() == {"blue": 5, "red": 4}
    assert "no label" in loaded.skipped["reason"].iloc[0]


def test_loose_images_without_folders_or_csv_are_refused():
    with pytest.raises(DataError, match="no class folders"):
        ingest.store_files("loose", [("a.png", picture()), ("b.png", picture())])


def test_folder_on_disk_skips_symlinks(tmp_path):
    for name, content in class_files():
        path = tmp_path / "photos" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    outside = tmp_path / "secret.png"
    outside.write_bytes(picture())
    (tmp_path / "photos" / "red" / "link.png").symlink_to(outside)
    loaded = ingest.load_images(ingest.store_path(tmp_path / "photos"))
    assert "red/link.png" not in set(loaded.table["file"])
    assert len(loaded.table) == 12


# --- decoding ----------------------------------------------------------------------


def test_exif_orientation_is_applied():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.new("RGB", (40, 20), (10, 200, 10)).save(buffer, "JPEG", exif=exif)
    assert vision_bundle.decode_image(buffer.getvalue()).shape == (40, 20, 3)


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "1", "I;16"])
def test_modes_become_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    if mode == "I;16":
        buffer = io.BytesIO()
        Image.fromarray(np.full((8, 8), 60000, np.uint16)).save(buffer, "TIFF")
        pixels = vision_bundle.decode_image(buffer.getvalue())
        assert pixels.dtype == np.uint8 and pixels.max() > 200  # scaled, not clipped
        return
    pixels = vision_bundle.decode_image(picture(mode=mode, fmt=fmt))
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8


def test_transparent_pixels_become_white():
    buffer = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(buffer, "PNG")
    assert vision_bundle.decode_image(buffer.getvalue()).min() == 255


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    pixels = vision_bundle.decode_image(buffer.getvalue())
    assert pixels[0, 0, 0] > 200 and pixels[0, 0, 2] < 50


# --- preflight and checks ----------------------------------------------------------


def test_one_class_only_is_refused():
    loaded = ingest.load_images(ingest.store_files("one", class_files()[:6]))
    assert "Only one class" in ingest.check(loaded)[0]


def test_class_with_one_picture_is_refused():
    files = class_files()[:6] + [("blue/only.png", picture(COLORS["blue"]))]
    problems = ingest.check(ingest.load_images(ingest.store_files("single", files)))
    assert "`blue` has a single picture" in problems[0]


def test_preflight_duplicates_tiny_and_few(tiny_images):
    files = class_files() + [("blue/copy.png", class_files()[0][1])]
    loaded = ingest.load_images(ingest.store_files("dupes", files))
    messages = " ".join(f.message for f in ingest.preflight(loaded))
    assert "different classes" in messages
    assert "exact copies" in messages
    assert "tiny" in messages
    assert "Few pictures" in messages


def test_thumbnails_per_class(tiny_images):
    shown = previews.thumbnails(tiny_images, per_class=3, size=24)
    assert set(shown) == {"red", "blue"}
    assert all(len(v) == 3 and v[0][1].shape[2] == 3 for v in shown.values())


# --- video -------------------------------------------------------------------------


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    frames = [
        np.full((32, 48, 3), (20 * i, 0, 255 - 20 * i), np.uint8) for i in range(10)
    ]
    path = tmp_path / "clip.mp4"
    video.write_test_video(path, frames, fps=5)
    return path


def test_video_frames_are_sampled_at_the_chosen_rate(tiny_video):
    frames = video.sample_frames(tiny_video.read_bytes(), "clip.mp4", every_s=0.4)
    assert [t for t, _ in frames] == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6])
    assert frames[0][1].shape == (32, 48, 3)


@pytest.mark.parametrize(
    "content, words",
    [
        (picture(), "PNG picture, not a video"),
        (b"\x00garbage" * 100, "could not be decoded"),
    ],
)
def test_bad_videos_get_a_clear_message(content, words):
    with pytest.raises(DataError, match=words):
        video.sample_frames(content, "clip.mp4")


# --- template ----------------------------------------------------------------------


def image_contract(template, tmp_path: Path) -> None:
    """The template contract of tests/test_templates.py for picture templates."""
    dataset = template.load_data(ingest.store_files("tiny", class_files()))
    params = resolve_params(template, FAST)
    assert template.check(dataset, None, params) == []
    prepared = template.prepare(dataset, None, params, seed=0)
    info = prepared.info
    assert info["n_train"] + info["n_val"] + info["n_test"] == 12
    model = template.build_model(prepared, params)
    history = model.fit(
        prepared.train.inputs, validation_data=prepared.val.inputs, epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # safe_mode=True
    for size in ((20, 20), (50, 31)):  # raw pictures of any size
        raw = vision_bundle.decode_image(picture(size=size))[None].astype("float32")
        outputs = np.asarray(loaded(raw))
        assert outputs.shape == (1, 2)
        np.testing.assert_allclose(outputs.sum(), 1.0, rtol=1e-5)
        np.testing.assert_allclose(
            outputs, np.asarray(model(raw)), rtol=1e-5, atol=1e-6
        )


def image_layers(template, tmp_path: Path) -> set[str]:
    """Layer class names of a saved, built (untrained) picture model."""
    dataset = template.load_data(ingest.store_files("tiny", class_files()))
    params = resolve_params(template, FAST)
    model = template.build_model(template.prepare(dataset, None, params, 0), params)
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        config = json.dumps(json.loads(archive.read("config.json")))
    assert "Lambda" not in config
    return {
        type(layer).__name__
        for layer in keras.saving.load_model(tmp_path / "model.keras").layers
    }


def test_model_preprocesses_inside_and_the_pipeline_augments(tmp_path):
    names = image_layers(get_template("image_classification"), tmp_path)
    assert {"Resizing", "Rescaling"} <= names
    assert not any(name.startswith("Random") for name in names)  # answers are stable
    augmenter = vision_template.build_augmenter(seed=0)
    layer_types = {type(layer).__name__ for layer in augmenter.layers}
    assert layer_types == {
        "RandomFlip",
        "RandomRotation",
        "RandomZoom",
        "RandomContrast",
    }
    pictures = raw_pictures(2, (32, 32))
    assert not np.allclose(np.asarray(augmenter(pictures, training=True)), pictures)


def test_no_weights_falls_back_to_the_small_cnn(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(
        vision_template.vision_weights, "find_cached", lambda backbone: None
    )
    backbone, weights, note = vision_template.resolve_backbone(
        {"backbone": "auto", "weights_path": ""}
    )
    assert (backbone, weights) == ("small_cnn", "")
    assert "trained from scratch instead" in note


def test_preflight_says_what_to_expect_from_scratch(monkeypatch, tiny_images):
    template = get_template("image_classification")
    loaded = template.load_data(tiny_images)
    params = {"backbone": "auto", "weights_path": ""}
    monkeypatch.setattr(
        vision_template.vision_weights, "find_cached", lambda backbone: None
    )
    assert any(
        "scored at chance" in m for m in template.preflight(loaded, None, params)
    )
    monkeypatch.setattr(
        vision_template.vision_weights, "find_cached", lambda backbone: Path(__file__)
    )
    assert not any(
        "scored at chance" in m for m in template.preflight(loaded, None, params)
    )


def test_cached_weights_are_found(monkeypatch, tmp_path):
    name = vision_template.vision_weights.BACKBONES["mobilenet_v3_small"].file_name
    cached = tmp_path / "keras" / "models" / name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    backbone, weights, note = vision_template.resolve_backbone(
        {"backbone": "auto", "weights_path": ""}
    )
    assert backbone == "mobilenet_v3_small" and weights == str(cached.resolve())
    assert "Transfer learning" in note


@pytest.mark.trains
def test_pretrained_backbone_with_a_local_weights_file(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    weights = tmp_path / "keras" / "models" / "mobilenet.weights.h5"
    weights.parent.mkdir(parents=True)
    keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    ).save_weights(weights)  # stands in for the ImageNet file we cannot download
    template = get_template("image_classification")
    params = resolve_params(
        template,
        {**FAST, "backbone": "mobilenet_v3_small", "weights_path": str(weights)},
    )
    dataset = template.load_data(ingest.store_files("tiny", class_files()))
    assert template.check(dataset, None, params) == []
    prepared = template.prepare(dataset, None, params, seed=0)
    assert prepared.info["backbone"] == "mobilenet_v3_small"
    model = template.build_model(prepared, params)
    backbone = next(
        layer for layer in model.layers if layer.name.startswith("MobileNet")
    )
    assert not backbone.trainable
    model.fit(prepared.train.inputs, epochs=1, verbose=0)
    assert np.asarray(model(np.zeros((1, 40, 40, 3), "float32"))).shape == (1, 2)


def test_weights_path_outside_the_caches_is_refused_up_front():
    template = get_template("image_classification")
    with pytest.raises(DataError, match="weights_path.*Keras cache"):
        resolve_params(template, {**FAST, "weights_path": "/nowhere/w.h5"})


# --- end to end: train, evaluate, bundle, predict ----------------------------------


@pytest.fixture
def trained_image_run(tiny_images) -> str:
    spec = runs.RunSpec(
        "image_classification", tiny_images, None, FAST, dataset_name="tiny"
    )
    run_id = runs.create_run(spec)
    assert training.train_run(run_id) == "completed", runs.read_status(run_id)
    return run_id


@pytest.mark.trains
def test_train_evaluate_export_and_predict(trained_image_run, tiny_video, tmp_path):
    run_id = trained_image_run
    report = runs.read_evaluation(run_id)
    assert {"accuracy", "balanced_accuracy"} <= set(report["metrics"])
    assert report["baseline"]["accuracy"] == pytest.approx(0.5, abs=0.26)
    assert np.sum(report["confusion_matrix"]) == report["n_test"]
    wrong = sum(len(v) for v in report["misclassified"].values())
    assert wrong == report["n_test"] - np.trace(report["confusion_matrix"])
    assert all(e["file"].endswith(".png") for e in report["examples"])
    assert "most common class" in report["summary"][0]
    verdict = report["verdict"]
    assert report["summary"][0] == verdict["sentence"]
    assert verdict["value"] == pytest.approx(report["metrics"]["accuracy"])
    assert f"from {report['n_test']} test pictures" in verdict["sentence"]

    check = export.build_bundle(run_id)
    assert check["ok"], check
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(export.bundle_path(run_id)) as bundle:
        bundle.extractall(folder)
        assert "import core" not in bundle.read("predict.py").decode()

    table, _ = prediction.predict_path(
        run_id, ingest.dataset_folder(runs.read_spec(run_id)["dataset_id"]) / "images"
    )
    assert len(table) == 12 and set(table["prediction"]) <= {"red", "blue"}
    frames, _ = prediction.predict_path(run_id, tiny_video)
    assert list(frames.columns[:2]) == ["time_s", "prediction"]
    renamed = tmp_path / "photo.mp4"
    renamed.write_bytes(picture())
    with pytest.raises(DataError, match="not a video"):
        prediction.predict_path(run_id, renamed)


@pytest.mark.trains
def test_saliency_overlay_has_the_picture_shape(trained_image_run):
    model = runs.load_model(trained_image_run)
    content = picture(size=(40, 30))
    heat = saliency.saliency(model, vision_bundle.decode_image(content))
    assert heat.shape == (30, 40) and 0 <= heat.min() and heat.max() <= 1
    assert saliency.explain(model, content, 32).shape == (32, 32, 3)


def test_decode_errors_are_value_errors():
    assert issubclass(ImageDecodeError, ValueError)
    with pytest.raises(ImageDecodeError, match="too large"):
        vision_bundle.decode_image(huge_png_header())
