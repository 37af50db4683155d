"""Study: what makes the from-scratch picture CNN best on small sets of real photos.

Run from the repository root (one variant at a time, results appended as JSON lines):

    PYTHONPATH=. python -m bench.image_study --variants base bn crop \
        [--sets face_mask flowers digits cats_dogs] [--seeds 1 2] [--out FILE]

Each variant changes one thing of the shipped recipe (`core.vision.template`: 64-pixel
inputs, four blocks of two 3x3 convs with 16-128 filters, flips/turns/zooms/contrast,
AdamW on a cosine rate over 90 epochs, the epoch with the best validation loss kept). It
trains on the same 300-picture samples and splits as `bench.images --quality` (60
validation and 60 test pictures each) and records validation and test accuracy, each also
with flip test-time augmentation (the mean of the picture and its mirror image). Choose
on validation; the test pictures only confirm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import images as bench_images

RESULTS_FILE = bench_images.ROOT / "bench" / "results" / "image_study.jsonl"
BASE = {
    "size": 64,
    "widths": (16, 32, 64, 128),
    "epochs": 90,
    "norm": False,
    "crop": False,
    "mix": "",
    "learning_rate": 1e-3,
    "batch": 32,
    "crop_area": 0.35,
}
VARIANTS = {
    "base": {},
    "bn": {"norm": True},
    "crop": {"crop": True},
    "mixup": {"mix": "mixup"},
    "cutmix": {"mix": "cutmix"},
    "wide": {"widths": (32, 64, 128, 256)},
    "narrow": {"widths": (8, 16, 32, 64)},
    "size48": {"size": 48},
    "size96": {"size": 96},
    "long": {"epochs": 180},
    "bn_crop": {"norm": True, "crop": True},
    "bn_cutmix": {"norm": True, "mix": "cutmix"},
    "bn_wide": {"norm": True, "widths": (32, 64, 128, 256)},
    "batch8": {"batch": 8},
    "bn_batch8": {"norm": True, "batch": 8},
    "bn_batch8_48": {"norm": True, "batch": 8, "size": 48},
    "crop48": {"crop": True, "size": 48},
    "crop_batch8": {"crop": True, "batch": 8},
    "crop_long": {"crop": True, "epochs": 180},
    "crop_mild": {"crop": True, "crop_area": 0.6},
}


def load_set(name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The bench's fixed 300-picture sample of a set, decoded at `size`."""
    from core.vision import bundle as vision_bundle
    from core.vision import ingest

    loaded = ingest.load_images(bench_images.store_quality_set(name))
    table = loaded.table.reset_index(drop=True)
    names = sorted(table["label"].unique())
    y = table["label"].map({c: i for i, c in enumerate(names)}).to_numpy("int32")
    x = np.stack(
        [vision_bundle.load_image(Path(p).read_bytes(), size) for p in loaded.paths()]
    )
    return x, y


def random_crops(x: Any, smallest: float) -> Any:
    """Inception-style random resized crops: 35-100% of the area, aspect 3:4 to 4:3."""
    import tensorflow as tf

    n, size = tf.shape(x)[0], tf.shape(x)[1]
    area = tf.random.uniform((n,), smallest, 1.0)
    ratio = tf.exp(tf.random.uniform((n,), np.log(3 / 4), np.log(4 / 3)))
    h = tf.minimum(tf.sqrt(area / ratio), 1.0)
    w = tf.minimum(tf.sqrt(area * ratio), 1.0)
    top = tf.random.uniform((n,)) * (1 - h)
    left = tf.random.uniform((n,)) * (1 - w)
    boxes = tf.stack([top, left, top + h, left + w], axis=1)
    return tf.image.crop_and_resize(x, boxes, tf.range(n), tf.stack([size, size]))


def mix_batch(x: Any, y: Any, method: str) -> tuple[Any, Any]:
    """Mixup (alpha 0.2) or CutMix (alpha 1) of a batch with its own shuffle."""
    import tensorflow as tf

    n, size = tf.shape(x)[0], tf.shape(x)[1]
    order = tf.random.shuffle(tf.range(n))
    alpha = 0.2 if method == "mixup" else 1.0
    g1, g2 = tf.random.gamma((), alpha), tf.random.gamma((), alpha)
    lam = g1 / (g1 + g2)
    if method == "mixup":
        return lam * x + (1 - lam) * tf.gather(x, order), lam * y + (1 - lam) * (
            tf.gather(y, order)
        )
    side = tf.cast(tf.cast(size, tf.float32) * tf.sqrt(1 - lam), tf.int32)
    cy = tf.random.uniform((), 0, size, tf.int32)
    cx = tf.random.uniform((), 0, size, tf.int32)
    y0, y1 = tf.maximum(cy - side // 2, 0), tf.minimum(cy + side // 2, size)
    x0, x1 = tf.maximum(cx - side // 2, 0), tf.minimum(cx + side // 2, size)
    rows = tf.logical_and(tf.range(size) >= y0, tf.range(size) < y1)
    cols = tf.logical_and(tf.range(size) >= x0, tf.range(size) < x1)
    box = tf.cast(rows[:, None] & cols[None, :], tf.float32)[None, :, :, None]
    share = tf.reduce_mean(box)
    mixed_x = x * (1 - box) + tf.gather(x, order) * box
    return mixed_x, (1 - share) * y + share * tf.gather(y, order)


def train_dataset(x: np.ndarray, onehot: np.ndarray, config: dict, seed: int) -> Any:
    """Shuffled batches with the variant's augmentation; one-hot labels can be mixed."""
    import tensorflow as tf

    from core.vision.template import build_augmenter

    augmenter = build_augmenter(seed)
    dataset = tf.data.Dataset.from_tensor_slices((x, onehot)).shuffle(len(x), seed=seed)

    def augment(images: Any, labels: Any) -> tuple[Any, Any]:
        images = tf.cast(images, tf.float32)
        if config["crop"]:
            images = random_crops(images, config["crop_area"])
        images = augmenter(images, training=True)
        if config["mix"]:
            images, labels = mix_batch(images, labels, config["mix"])
        return images, labels

    return dataset.batch(config["batch"]).map(augment).prefetch(2)


def build(config: dict, n_classes: int, steps: int) -> Any:
    """The shipped small CNN, with the variant's widths and normalisation."""
    import keras
    from keras import layers

    from core.tables.model import classification_head
    from core.vision.template import WEIGHT_DECAY

    inputs = keras.Input(shape=(None, None, 3))
    x = layers.Resizing(config["size"], config["size"])(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    for filters in config["widths"]:
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=not config["norm"])(
                x
            )
            if config["norm"]:
                x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.3)(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, classification_head(x, n_classes))
    schedule = keras.optimizers.schedules.CosineDecay(config["learning_rate"], steps)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, flip: bool) -> float:
    """Accuracy, optionally on the mean of each picture and its mirror image."""
    images = x.astype("float32")
    proba = model.predict(images, verbose=0, batch_size=64)
    if flip:
        proba = proba + model.predict(images[:, :, ::-1], verbose=0, batch_size=64)
    return float((proba.argmax(axis=1) == y).mean())


def run_one(name: str, variant: str, seed: int) -> dict[str, Any]:
    """Trains one variant on one set and seed; returns its scores."""
    import keras

    from core.columns import split_indices

    config = {**BASE, **VARIANTS[variant]}
    x, y = load_set(name, config["size"])
    train, val, test = split_indices(y, 0.2, 0.2, seed)
    keras.utils.set_random_seed(seed)
    steps = config["epochs"] * -(-len(train) // config["batch"])
    onehot = np.eye(int(y.max()) + 1, dtype="float32")[y]
    model = build(config, onehot.shape[1], steps)
    started = time.perf_counter()
    keep_best = keras.callbacks.EarlyStopping(
        patience=config["epochs"], restore_best_weights=True
    )
    model.fit(
        train_dataset(x[train], onehot[train], config, seed),
        validation_data=(x[val].astype("float32"), onehot[val]),
        epochs=config["epochs"],
        callbacks=[keep_best],
        verbose=0,
    )
    return {
        "set": name,
        "variant": variant,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "val": accuracy(model, x[val], y[val], False),
        "val_flip": accuracy(model, x[val], y[val], True),
        "test": accuracy(model, x[test], y[test], False),
        "test_flip": accuracy(model, x[test], y[test], True),
    }


def summarise(rows: list[dict[str, Any]]) -> None:
    """Prints validation (test) accuracy per variant and set, and the mean over all."""
    sets = list(dict.fromkeys(r["set"] for r in rows))
    print(f"{'variant':<12}" + "".join(f"{s:>16}" for s in sets) + f"{'mean':>16}")
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        cells = [[r for r in mine if r["set"] == s] for s in sets]
        line = "".join(_cell(cell) for cell in cells)
        print(f"{variant:<12}{line}{_cell(mine) if all(cells) else '':>16}")


def _cell(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"{'-':>16}"
    val = statistics.mean(r["val"] for r in rows)
    test = statistics.mean(r["test"] for r in rows)
    return f"{val:>9.3f} ({test:.3f})"


def main(argv: list[str] | None = None) -> int:
    """Runs the chosen variants and appends one JSON line per run to `--out`."""
    parser = argparse.ArgumentParser(prog="python -m bench.image_study")
    parser.add_argument("--variants", nargs="+", default=["base"], choices=VARIANTS)
    parser.add_argument("--sets", nargs="+", default=list(bench_images.QUALITY_SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = tmp
        for variant in args.variants:
            for name in args.sets:
                for seed in args.seeds:
                    row = run_one(name, variant, seed)
                    print(json.dumps(row), file=sys.stderr)
                    with args.out.open("a") as out:
                        out.write(json.dumps(row) + "\n")
    summarise([json.loads(line) for line in args.out.read_text().splitlines()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
