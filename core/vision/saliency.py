"""Where an image model looked: input-gradient saliency drawn over the picture.

numpy at import time; TensorFlow only inside `saliency`. Used by the results page to
show, for one picture, which pixels moved the model's answer most.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.vision import bundle as vision_bundle


def saliency(
    model: Any, pixels: np.ndarray, class_index: int | None = None
) -> np.ndarray:
    """Where the model looked: input-gradient saliency, smoothed, scaled to [0, 1].

    Args:
        model: the end-to-end classifier.
        pixels: one RGB uint8 image (any size; the model resizes it).
        class_index: the class to explain; the predicted one if None.

    Returns:
        A (height, width) float array.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(pixels[None].astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        proba = model(x, training=False)
        index = int(tf.argmax(proba[0])) if class_index is None else class_index
        score = proba[0, index]
    grad = tf.reduce_max(tf.abs(tape.gradient(score, x))[0], axis=-1)
    grad = tf.nn.avg_pool2d(grad[None, :, :, None], 5, 1, "SAME")[0, :, :, 0].numpy()
    top = np.percentile(grad, 99) or 1.0
    return np.clip(grad / top, 0.0, 1.0)


def overlay(pixels: np.ndarray, heat: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blends a [0, 1] heat map (red = important) over an RGB image."""
    red = np.zeros_like(pixels, dtype=np.float64)
    red[..., 0], red[..., 1] = 255.0, 64.0
    weight = (alpha * heat)[..., None]
    blended = pixels.astype(np.float64) * (1 - weight) + red * weight
    return blended.clip(0, 255).astype(np.uint8)


def explain(model: Any, content: bytes, size: int) -> np.ndarray:
    """Returns the saliency overlay of one picture (at the model's size) as RGB."""
    pixels = vision_bundle.load_image(content, size)
    return overlay(pixels, saliency(model, pixels))
