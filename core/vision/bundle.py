"""Classify images with a model exported by Predictive Studio.

Usage (inside an unzipped bundle):
    python predict.py PHOTO.jpg -o predictions.csv
    python predict.py FOLDER_OF_PHOTOS -o predictions.csv

Needs: keras>=3, tensorflow, pandas, pillow. This file is copied into every image bundle
as `predict.py`, and the app decodes and scores images with the same functions, so what
you download is what ran.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

HERE = Path(__file__).resolve().parent
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MAX_PIXELS = 50_000_000  # decompression-bomb guard: 50 megapixels
BATCH = 64
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


class ImageDecodeError(ValueError):
    """A file that cannot be read as a picture; the message is the reason in plain words."""


def decode_image(data: bytes, draft_size: int | None = None) -> np.ndarray:
    """Decodes image bytes to an RGB uint8 array, the robust way.

    Applies the EXIF orientation, takes the first frame of animations, turns grayscale,
    palette, RGBA (over white), CMYK and 16-bit pictures into 8-bit RGB, and refuses
    pictures over `MAX_PIXELS` before decoding them.

    Args:
        data: the file's bytes.
        draft_size: if given, JPEGs may be decoded at a reduced scale of at least this
            many pixels per side (much faster for large photos).

    Returns:
        An array of shape (height, width, 3) and dtype uint8.

    Raises:
        ImageDecodeError: with the reason, if the bytes are not a readable picture.
    """
    if not data:
        raise ImageDecodeError("the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _check_pixels(image.size)
                if draft_size and image.format == "JPEG":
                    image.draft("RGB", (draft_size, draft_size))
                return _to_rgb(ImageOps.exif_transpose(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        shown = f"{int(pixels.group(1)):,} pixels" if pixels else None
        raise ImageDecodeError(_too_large_reason(shown)) from None
    except UnidentifiedImageError:
        raise ImageDecodeError(
            "not a picture: its content is not JPEG, PNG, GIF, BMP, TIFF or WebP"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, TypeError) as err:
        if isinstance(err, ImageDecodeError):
            raise
        if "truncated" in str(err).lower() or isinstance(err, EOFError):
            raise ImageDecodeError(
                "the file is cut short (truncated); copy it again"
            ) from None
        raise ImageDecodeError(f"damaged picture data ({err})") from None


def _too_large_reason(shown: str | None = None) -> str:
    return (
        f"the picture is too large ({shown + ', ' if shown else ''}over the "
        f"{MAX_PIXELS // 1_000_000}-megapixel limit that guards against "
        "'decompression bombs'); shrink it first"
    )


def _check_pixels(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageDecodeError(_too_large_reason(f"{size[0]}×{size[1]} pixels"))
    if min(size) < 1:
        raise ImageDecodeError("the picture has no pixels")


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        gray = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def load_image(data: bytes, size: int) -> np.ndarray:
    """Decodes image bytes and resizes them to `size`×`size`, as the model was trained.

    Raises:
        ImageDecodeError: if the bytes are not a readable picture.
    """
    pixels = decode_image(data, draft_size=size)
    if pixels.shape[:2] != (size, size):
        resized = Image.fromarray(pixels).resize((size, size), Image.BILINEAR)
        pixels = np.asarray(resized, dtype=np.uint8)
    return pixels


def list_images(folder: Path) -> list[Path]:
    """Returns the picture files under `folder` (sorted), skipping hidden files and links."""
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            found.append(path)
    return found


def predict_arrays(model: Any, images: np.ndarray) -> np.ndarray:
    """Runs the model on same-size RGB images in batches; returns class probabilities."""
    chunks = []
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH].astype("float32")
        chunks.append(np.asarray(model(batch, training=False), dtype="float64"))
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def predict_images(
    model: Any, named: list[tuple[str, bytes]], metadata: dict
) -> pd.DataFrame:
    """Classifies pictures given as (name, bytes); unreadable ones get a `problem`.

    Returns:
        One row per picture: `file`, `prediction`, `probability_<class>`, `problem`.
    """
    size, classes = int(metadata["image_size"]), list(metadata["class_names"])
    pixels, rows = [], []
    for name, data in named:
        try:
            pixels.append(load_image(data, size))
            rows.append({"file": name, "problem": ""})
        except ImageDecodeError as err:
            rows.append({"file": name, "problem": str(err)})
    proba = predict_arrays(model, np.stack(pixels)) if pixels else np.zeros((0, 0))
    return add_predictions(
        pd.DataFrame(rows, columns=["file", "problem"]), proba, classes
    )


def add_predictions(
    rows: pd.DataFrame, proba: np.ndarray, classes: list[str]
) -> pd.DataFrame:
    """Adds `prediction` and `probability_<class>` to the rows without a problem."""
    result = rows.copy()
    ok = (result["problem"] == "").to_numpy() if "problem" in result else None
    ok = np.ones(len(result), bool) if ok is None else ok
    result.insert(1, "prediction", "")
    if len(proba):
        result.loc[ok, "prediction"] = [classes[i] for i in proba.argmax(axis=1)]
    for index, name in enumerate(classes):
        column = np.full(len(result), np.nan)
        if len(proba):
            column[ok] = proba[:, index].round(6)
        result[f"probability_{name}"] = column
    return result


def read_named(path: Path) -> list[tuple[str, bytes]]:
    """Reads one picture, or every picture in a folder, as (name within it, bytes)."""
    if path.is_dir():
        return [
            (p.relative_to(path).as_posix(), p.read_bytes()) for p in list_images(path)
        ]
    return [(path.name, path.read_bytes())]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns `frame` safe to open in a spreadsheet (no formula injection).

    Text cells and headers that start like a formula (`= + - @`, tab, CR) get a
    leading `'` (OWASP); numbers are kept. A copy of core.safe_csv.neutralise, so
    this script runs alone.
    """
    number = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

    def safe(value: object) -> object:
        if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
            return value
        return value if number.fullmatch(value) else "'" + value

    result = frame.rename(columns=lambda name: safe(str(name)))
    for column in range(result.shape[1]):
        values = result.iloc[:, column]
        if isinstance(values.dtype, (pd.CategoricalDtype, pd.StringDtype)) or (
            getattr(values.dtype, "kind", "") in "OSU"
        ):
            result.isetitem(column, values.astype(object).map(safe))
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: classifies a picture or a folder and writes a CSV."""
    parser = argparse.ArgumentParser(description="Classify pictures with the model.")
    parser.add_argument("data", type=Path, help="a picture file or a folder of them")
    parser.add_argument("-o", "--output", type=Path, default=Path("predictions.csv"))
    parser.add_argument("--model", type=Path, default=HERE / "model.keras")
    parser.add_argument("--metadata", type=Path, default=HERE / "metadata.json")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"error: there is no file or folder {args.data}", file=sys.stderr)
        return 2
    named = read_named(args.data)
    if not named:
        print(f"error: {args.data} holds no pictures", file=sys.stderr)
        return 2

    import keras

    metadata = json.loads(args.metadata.read_text())
    model = keras.saving.load_model(args.model)  # safe_mode=True: no code runs on load
    result = predict_images(model, named, metadata)
    neutralise(result).to_csv(args.output, index=False)
    print(f"Wrote {len(result)} predictions to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
