"""Tell pictures apart (e.g. faces with or without a mask) from a folder per class."""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.columns import split_indices
from core.errors import DataError
from core.templates import checks
from core.templates.base import Prepared, Split, Template
from core.templates.params import Param, dropout_param, training_params
from core.templates.registry import register
from core.vision import bundle as vision_bundle
from core.vision import ingest, video
from core.vision import weights as vision_weights

CHECK_IMAGES = 5
# The from-scratch CNN learns on a cosine-decaying rate over all epochs, so it trains them
# all (patience = epochs) and keeps the epoch with the best validation loss.
_DEFAULTS = {"epochs": 90, "patience": 90}
WEIGHT_DECAY = 1e-4
# Under this many pictures per class, a from-scratch CNN rarely learns everyday photos
# (bench/README.md, "Pictures": 150 cats and 150 dogs scored at chance).
SCRATCH_ENOUGH = 1000
IMAGE_PARAMS = training_params(**_DEFAULTS) + (
    Param(
        "image_size",
        "Picture size (pixels)",
        64,
        choices=(32, 64, 96, 128, 160, 224),
        help="Pictures are resized to this square size; larger sees more detail but "
        "trains slower. Pre-trained networks see best at 128-224.",
    ),
    Param(
        "backbone",
        "Network",
        "auto",
        choices=("auto", "small_cnn", *vision_weights.BACKBONES),
        help="'auto' reuses a network pre-trained on ImageNet when its weights are on "
        "this computer (download or upload them on Home or Train, or run `python -m "
        "core weights fetch`), else trains a small network from scratch.",
    ),
    Param(
        "weights_path",
        "Pre-trained weights file (optional)",
        "",
        help="Path to a downloaded ImageNet weights file (.h5) for the chosen network.",
        advanced=True,
        file_suffixes=(".h5", ".keras"),
    ),
    Param(
        "augment",
        "Augment pictures while training",
        True,
        help="Random flips, turns, zooms and contrast changes, so the model does not "
        "learn the exact pictures by heart.",
        advanced=True,
    ),
    dropout_param(0.3),
)


@register
class ImageClassification(Template):
    """Classify pictures: a small CNN from scratch, or a pre-trained backbone if present."""

    name = "image_classification"
    title = "Classify images"
    description = (
        "Learns to tell which class a picture belongs to from a folder of examples per "
        "class, e.g. faces with or without a mask; then classifies photos, camera "
        "snapshots and the frames of a video."
    )
    task = "classification"
    data_kind = "images"
    noun = "photos"
    params = IMAGE_PARAMS
    bundle_script = "core.vision.bundle"
    predict_input = "your_photo.jpg"
    metadata_checks = {
        "class_names": (checks.are_classes, "a list of 2 or more distinct class names"),
        "image_size": (
            lambda v: checks.is_count(v) and v <= 1024,
            "a size of 1 to 1024",
        ),
    }
    limitations = (
        "It knows only the classes it was trained on: any other picture still gets one "
        "of them, often with high confidence.",
        "Lighting, camera and framing unlike the training pictures lower its accuracy.",
    )
    usage = (
        "`python predict.py FOLDER -o predictions.csv` classifies every picture in a "
        "folder. In Python: `keras.saving.load_model('model.keras')` takes RGB pictures "
        "as a float array of shape (n, height, width, 3) with values 0-255, any size "
        "(the model resizes and rescales them itself); see `load_image` in predict.py. "
        "predict.py also needs `pip install pillow`."
    )

    def store_input(self, path: Path) -> str:
        """Stores a zip or a folder of class folders; returns its dataset id."""
        return ingest.store_path(path)

    def load_data(self, dataset_id: str) -> ingest.ImageSet:
        """Loads the stored picture index."""
        return ingest.load_images(dataset_id)

    def suggest(self, data_: ingest.ImageSet, target: str | None) -> tuple[float, str]:
        """Pictures in class folders: learn which class a picture shows."""
        counts = ingest.class_counts(data_)
        return 0.9, (
            f"{int(counts.sum())} pictures in {len(counts)} classes, so the app learns "
            "which class a picture shows."
        )

    def example_data(self) -> tuple[ingest.ImageSet, None]:
        """2 classes × 6 small pictures of two colours, stored in the workspace."""
        files = [
            (f"{label}/{label}_{i}.png", _example_picture(color, seed=i))
            for label, color in (("red", (200, 50, 50)), ("blue", (50, 50, 200)))
            for i in range(6)
        ]
        return ingest.load_images(ingest.store_files("example", files)), None

    def preflight(
        self, data_: ingest.ImageSet, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Data-quality findings as plain sentences, and what to expect from scratch."""
        findings = [f.message for f in ingest.preflight(data_)]
        warning = self.chance_warning(data_, target, params)
        return [*findings, warning] if warning else findings

    def chance_warning(
        self, data_: ingest.ImageSet, target: str | None, params: Mapping[str, Any]
    ) -> str:
        """Few pictures per class and no pre-trained network here: likely at chance."""
        smallest = int(ingest.class_counts(data_).min())
        if smallest >= SCRATCH_ENOUGH or resolve_backbone(params)[0] != "small_cnn":
            return ""
        return (
            f"This will likely score no better than guessing: the smallest class has "
            f"{smallest} pictures and no pre-trained network is on this computer, so a "
            "small network would learn from scratch. Everyday photos (pets, objects, "
            "scenes) need a pre-trained network or thousands of pictures per class: "
            "300 photos of cats and dogs scored at chance. Tight crops and clear "
            "colours or shapes can still work (faces with or without a mask: about "
            "86%). Get the pre-trained network first: download it, or upload its "
            "weights file."
        )

    def check(
        self, data_: ingest.ImageSet, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Needs two classes with at least 3 pictures each; a given weights file must exist."""
        problems = ingest.check(data_)
        weights = str(params.get("weights_path") or "")
        if weights and not Path(weights).expanduser().is_file():
            problems.append(
                f"Invalid value for argument `weights_path`. Expected an existing weights "
                f"file. Received: weights_path={weights!r}"
            )
        return problems

    def prepare(
        self,
        data_: ingest.ImageSet,
        target: str | None,
        params: Mapping[str, Any],
        seed: int,
    ) -> Prepared:
        """Splits pictures (stratified, seeded) into cached, prefetched tf.data pipelines."""
        table = data_.table.reset_index(drop=True)
        class_names = sorted(table["label"].unique())
        y = table["label"].map({c: i for i, c in enumerate(class_names)}).to_numpy()
        y = y.astype("int32")
        parts = split_indices(y, params["val_fraction"], params["test_fraction"], seed)
        size, batch = int(params["image_size"]), int(params["batch_size"])
        paths = np.array(data_.paths())
        splits = []
        for index, part in enumerate(parts):
            train = index == 0
            augment = train and bool(params["augment"])
            dataset = make_dataset(
                paths[part], y[part], size, batch, seed, train, augment
            )
            raw = table.iloc[part].assign(y=y[part])
            splits.append(Split(dataset, None if index < 2 else y[part], raw))
        backbone, weights, note = resolve_backbone(params)
        info = {
            "task": self.task,
            "target": None,
            "schema": [{"name": "image", "kind": "image"}],
            "class_names": class_names,
            "image_size": size,
            "dataset_id": data_.dataset_id,
            "n_images": len(table),
            "n_skipped": len(data_.skipped),
            "n_train": len(parts[0]),
            "n_val": len(parts[1]),
            "n_test": len(parts[2]),
            "backbone": backbone,
            "weights_file": weights,
            "model_note": note,
        }
        return Prepared(*splits, info=info, class_weight=_class_weight(y[parts[0]]))

    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns the compiled end-to-end model: raw RGB pictures of any size in."""
        import keras

        info = prepared.info
        model = build_image_model(
            len(info["class_names"]),
            int(info["image_size"]),
            info["backbone"],
            info["weights_file"],
            float(params["dropout"]),
        )
        if info["backbone"] != "small_cnn":
            rate = float(params["learning_rate"])
            return _compile(model, keras.optimizers.Adam(rate))
        return _compile_from_scratch(model, params, int(info["n_train"]))

    def callbacks(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Any]:
        """A pre-trained backbone is fine-tuned after the new head has learned."""
        if prepared.info["backbone"] == "small_cnn":
            return []
        from core.vision import finetune

        return [
            finetune.fine_tune_callback(
                int(params["epochs"]), float(params["learning_rate"])
            )
        ]

    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> dict:
        """Test accuracy, per-class scores, confusion matrix with the misclassified pictures."""
        from core.vision import report

        proba = np.asarray(model.predict(prepared.test.inputs, verbose=0), "float64")
        return report.image_report(proba, prepared)

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Copies a few test pictures into `folder/images`, the input predict.py takes."""
        target = folder / "images"
        target.mkdir(parents=True, exist_ok=True)
        rows = prepared.test.raw.head(CHECK_IMAGES)
        dataset = ingest.dataset_folder(prepared.info["dataset_id"])
        for index, stored in enumerate(rows["path"]):
            shutil.copyfile(
                dataset / stored, target / f"{index:02d}{Path(stored).suffix}"
            )
        return target

    def predict_file(
        self, model: Any, path: Path, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Classifies a picture, every picture in a folder, or sampled frames of a video.

        Raises:
            DataError: if there is nothing to classify or the video cannot be decoded.
        """
        if path.is_file() and video.is_video_name(path.name):
            table, _ = video.predict_video(
                model, path.read_bytes(), path.name, dict(info)
            )
            return table, []
        named = vision_bundle.read_named(path)
        if not named:
            raise DataError(f"`{path.name}` holds no pictures to classify.")
        result = vision_bundle.predict_images(model, named, dict(info))
        bad = result.loc[result["problem"] != "", "file"].tolist()
        warnings = (
            [f"Could not read {len(bad)} pictures, e.g. `{bad[0]}`."] if bad else []
        )
        return result, warnings


def _example_picture(color: tuple[int, int, int], seed: int) -> bytes:
    """A 16×16 PNG of one colour with a little noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    noise = rng.integers(-20, 20, (16, 16, 3))
    pixels = np.clip(np.array(color) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def resolve_backbone(params: Mapping[str, Any]) -> tuple[str, str, str]:
    """Chooses the network: a pre-trained backbone only if its weights are on disk.

    Returns:
        The backbone name, the weights file ("" for none) and a note for the user.
    """
    choice = str(params["backbone"])
    if choice == "small_cnn":
        return "small_cnn", "", "A small CNN was trained from scratch, as chosen."
    wanted = vision_weights.backbone(
        vision_weights.AUTO if choice == "auto" else choice
    )
    given = str(params.get("weights_path") or "")
    path = (
        Path(given).expanduser() if given else vision_weights.find_cached(wanted.name)
    )
    if path is not None and path.is_file():
        return (
            wanted.name,
            str(path.resolve()),
            f"Transfer learning: {wanted.keras_class} with pre-trained weights from "
            f"`{path.name}` and a new classifier on top, trained first alone, then "
            "with the network's top layers at a lower learning rate.",
        )
    return (
        "small_cnn",
        "",
        f"No pre-trained weights for {wanted.keras_class} were found on this computer "
        f"(Keras cache: `{wanted.file_name}`), so a small CNN was trained from scratch "
        "instead. To use them, download or upload them on Home or Train, or run "
        "`python -m core weights fetch`.",
    )


def make_dataset(
    paths: np.ndarray,
    labels: np.ndarray,
    size: int,
    batch: int,
    seed: int,
    shuffle: bool,
    augment: bool = False,
) -> Any:
    """A tf.data pipeline: decode each picture once (robustly), cache, shuffle, prefetch.

    Augmentation (random flips, turns, zooms, contrast) runs after the cache, so each
    epoch sees new variations. It lives in the pipeline, not in the saved model: Keras'
    random layers augment whenever a model is called without `training=False`, and a
    saved model must answer the same way every time.
    """
    import tensorflow as tf

    def _load(path: bytes) -> np.ndarray:
        return vision_bundle.load_image(Path(path.decode()).read_bytes(), size)

    def _decode(path: Any, label: Any) -> tuple[Any, Any]:
        pixels = tf.numpy_function(_load, [path], tf.uint8)
        pixels.set_shape((size, size, 3))
        return pixels, label  # cached as uint8: a quarter of the memory of floats

    dataset = tf.data.Dataset.from_tensor_slices((paths.astype(str), labels))
    dataset = dataset.map(_decode, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch).map(
        lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE
    )
    if augment:
        augmenter = build_augmenter(seed)
        dataset = dataset.map(
            lambda x, y: (augmenter(x, training=True), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def build_augmenter(seed: int) -> Any:
    """Random flips, turns, zooms and contrast changes (active only while training)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed, dtype="float32"),
            layers.RandomRotation(0.08, seed=seed, dtype="float32"),
            layers.RandomZoom(0.1, seed=seed, dtype="float32"),
            layers.RandomContrast(0.2, seed=seed, dtype="float32"),
        ],
        name="augment",
    )


def build_image_model(
    n_classes: int,
    size: int,
    backbone: str,
    weights_file: str,
    dropout: float,
) -> Any:
    """Builds the network: resize → (rescale →) body → softmax.

    The small CNN rescales to [0, 1] itself; the keras.applications backbones include
    their own preprocessing and take 0-255 values.
    """
    import keras
    from keras import layers

    from core.tables.model import classification_head

    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Resizing(size, size, name="resize")(inputs)
    if backbone == "small_cnn":
        x = _small_cnn(layers.Rescaling(1.0 / 255, name="rescale")(x))
    else:
        x = _pretrained(x, backbone, weights_file, size)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = classification_head(x, n_classes)
    return keras.Model(inputs, outputs, name="image_classifier")


def _small_cnn(x: Any) -> Any:
    """Four blocks of two 3x3 convs + pool (16-128 filters): two convs per block beat one
    wider conv at about the same cost (validation accuracy, 3 seeds). No batch
    normalization: with a few hundred pictures its moving statistics lag behind and
    make validation scores jump."""
    from keras import layers

    for index, filters in enumerate((16, 32, 64, 128)):
        for part in "ab":
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                name=f"conv_{index}{part}",
            )(x)
        x = layers.MaxPooling2D(name=f"pool_{index}")(x)
    return layers.GlobalAveragePooling2D(name="pool")(x)


def _compile_from_scratch(model: Any, params: Mapping[str, Any], n_train: int) -> Any:
    """AdamW with a learning rate that decays (cosine) to zero over all the epochs.

    A decaying rate settles the weights at the end instead of leaving them to jump
    between epochs; built-in schedule and optimizer, so the saved model loads anywhere.
    """
    import keras

    steps = int(params["epochs"]) * max(1, -(-n_train // int(params["batch_size"])))
    schedule = keras.optimizers.schedules.CosineDecay(
        float(params["learning_rate"]), decay_steps=steps
    )
    return _compile(model, keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY))


def _compile(model: Any, optimizer: Any) -> Any:
    """Cross-entropy on class indices, with accuracy."""
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return model


def _pretrained(x: Any, backbone: str, weights_file: str, size: int) -> Any:
    """The frozen backbone on 0-255 pictures (its own preprocessing is inside it).

    It is called in inference mode, so its BatchNormalization layers keep their
    ImageNet statistics also once its top layers are fine-tuned (`core.vision.finetune`).
    """
    import keras

    factory = getattr(keras.applications, vision_weights.backbone(backbone).keras_class)
    model = factory(
        include_top=False,
        weights=weights_file,
        input_shape=(size, size, 3),
        pooling="avg",
    )
    model.trainable = False  # keep the pre-trained features; train the new head first
    return model(x, training=False)


def _class_weight(y_train: np.ndarray) -> dict[int, float] | None:
    counts = np.bincount(y_train)
    if counts.min() / counts.max() >= ingest.IMBALANCE_RATIO:
        return None
    balanced = len(y_train) / (len(counts) * counts)
    return {int(c): float(w) for c, w in enumerate(balanced)}
