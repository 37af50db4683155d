"""Picture previews: thumbnails per class of a stored image set, of a file or of bytes.

Small RGB arrays for the pages to show; reading and checking the set is
`core.vision.ingest`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import DataError
from core.vision import bundle as vision_bundle
from core.vision import ingest
from core.vision.bundle import ImageDecodeError


def thumbnails(
    dataset_id: str, per_class: int = 6, size: int = 96
) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Returns up to `per_class` (file name, RGB thumbnail) pairs for each class."""
    images = ingest.load_images(dataset_id)
    shown = {}
    for label, rows in images.table.groupby("label", sort=True):
        shown[str(label)] = [
            (row.file, thumbnail(images.folder / row.path, size))
            for row in rows.head(per_class).itertuples()
        ]
    return shown


def thumbnail(path: Path, size: int = 96) -> np.ndarray:
    """Returns a picture file as an RGB array that fits in `size`×`size`."""
    image = Image.fromarray(vision_bundle.decode_image(path.read_bytes(), size))
    image.thumbnail((size, size))
    return np.asarray(image)


def thumbnail_bytes(content: bytes, size: int = 96) -> np.ndarray | None:
    """Thumbnail of picture bytes; None if they cannot be read."""
    try:
        image = Image.fromarray(vision_bundle.decode_image(content, size))
    except ImageDecodeError:
        return None
    image.thumbnail((size, size))
    return np.asarray(image)


def stored_thumbnail(dataset_id: str, stored: str, size: int = 96) -> np.ndarray | None:
    """Thumbnail of a stored picture by its `path` in labels.csv; None if it is gone."""
    try:
        folder = ingest.dataset_folder(dataset_id)
    except DataError:
        return None
    path = (folder / stored).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        return None
    return thumbnail(path, size)
