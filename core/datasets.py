"""The dataset store: uploads kept by content hash in the workspace, with name and kind.

A dataset is a folder `workspace/datasets/<id>/` holding the upload (`data.csv` for a
table; pictures, texts or a corpus for the other kinds) and `meta.json` (its name and
kind). The file name a person chose is only metadata, never a path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from core import table_files, table_reading, workspace
from core.errors import DataError

MAX_TABLE_BYTES = 200 * 1024 * 1024
TABLE_FILE = "data.csv"
META_FILE = "meta.json"
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
SAMPLES = {
    "heart.csv": ("Heart disease (Cleveland clinic)", "target"),
    "auto_mpg.csv": ("Car fuel economy (Auto MPG)", "mpg"),
    "seattle_weather.csv": ("Seattle daily weather 2012-2015", "temp_max"),
    "sentiment_sentences.csv": ("Review sentiment (sentences)", "label"),
    "language_detection.csv": ("Language of a sentence (17 languages)", "Language"),
}


def datasets_root() -> Path:
    """Returns the folder that holds stored datasets."""
    path = workspace.root() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(name: str, data: bytes, sheet: str | None = None) -> str:
    """Stores uploaded bytes under their content hash; the file name is only metadata.

    An Excel, Parquet or JSON-lines file is stored as the CSV of its table (so one
    table gives one id in each of these formats), with notes on how it was read.

    Args:
        name: the name the user's file had (shown in the UI, never used as a path;
            its ending picks the reader, see `core.table_files`).
        data: the file's bytes.
        sheet: for a workbook, the sheet to store; None stores the first.

    Returns:
        The dataset id (a hex digest prefix).

    Raises:
        DataError: if the file is empty, larger than the size limit, or an Excel,
            Parquet or JSON-lines file that cannot be read.
    """
    if not data:
        raise DataError(
            f"The file `{name}` is empty (0 bytes). Choose a file with data."
        )
    if len(data) > MAX_TABLE_BYTES:
        raise DataError(
            f"The file `{name}` is {len(data) / 1e6:.0f} MB; the limit is "
            f"{MAX_TABLE_BYTES / 1e6:.0f} MB. Use a sample of the rows."
        )
    data, notes = table_files.to_csv_bytes(name, data, MAX_TABLE_BYTES, sheet)
    dataset_id = hashlib.sha256(data).hexdigest()[:16]
    folder = datasets_root() / dataset_id
    if not (folder / META_FILE).is_file():
        folder.mkdir(exist_ok=True)
        (folder / TABLE_FILE).write_bytes(data)
        meta = {
            "name": Path(name).name[:200],
            "size": len(data),
            "stored_at": time.time(),
            "notes": notes,
        }
        (folder / META_FILE).write_text(json.dumps(meta))
    return dataset_id


@contextmanager
def staged_dataset(dataset_id: str, name: str, kind: str) -> Iterator[Path]:
    """Yields an empty folder to fill; on success it becomes the dataset, atomically.

    The folder gets the dataset's `meta.json` and then replaces any dataset stored
    under `dataset_id`; if the caller raises, the folder is removed and nothing changes.

    Args:
        dataset_id: the id to store the dataset under.
        name: the upload's name (kept for display, never used as a path).
        kind: the dataset's kind, e.g. "images" or "text".
    """
    tmp = datasets_root() / f".tmp-{dataset_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
        meta = {"name": Path(name).name[:200], "kind": kind, "stored_at": time.time()}
        (tmp / META_FILE).write_text(json.dumps(meta))
        final = datasets_root() / dataset_id
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def store_sample(file_name: str) -> str:
    """Stores one of the bundled sample files and returns its dataset id."""
    if file_name not in SAMPLES:
        raise DataError(
            f"Invalid value for argument `file_name`. Expected one of {sorted(SAMPLES)}. "
            f"Received: file_name={file_name!r}"
        )
    return store_upload(file_name, (SAMPLE_DIR / file_name).read_bytes())


def dataset_path(dataset_id: str) -> Path:
    """Returns the stored file of a dataset.

    Raises:
        DataError: if there is no such dataset.
    """
    folder = stored_folder(
        dataset_id,
        TABLE_FILE,
        f"There is no stored dataset `{dataset_id}`. Upload the file again.",
    )
    return folder / TABLE_FILE


def stored_folder(dataset_id: str, marker: str, missing: str) -> Path:
    """Returns a stored dataset's folder, checked to hold its `marker` file.

    Raises:
        DataError: with the words `missing`, for an id that is not a stored dataset's
            (never a path: only 16 hex digits are looked up) or one without `marker`.
    """
    folder = datasets_root() / str(dataset_id)
    if (
        not re.fullmatch(r"[0-9a-f]{16}", str(dataset_id))
        or not (folder / marker).is_file()
    ):
        raise DataError(missing)
    return folder


def dataset_name(dataset_id: str) -> str:
    """Returns the original file name of a stored dataset (for display only)."""
    meta = datasets_root() / str(dataset_id) / META_FILE
    try:
        return json.loads(meta.read_text()).get("name", dataset_id)
    except (OSError, json.JSONDecodeError):
        return str(dataset_id)


def dataset_notes(dataset_id: str) -> list[str]:
    """Notes on how a stored table was read, e.g. which sheet of a workbook was used."""
    meta = datasets_root() / str(dataset_id) / META_FILE
    try:
        return [str(note) for note in json.loads(meta.read_text()).get("notes", [])]
    except (OSError, json.JSONDecodeError, AttributeError, TypeError):
        return []


def dataset_kind(dataset_id: str) -> str:
    """Returns what a stored dataset holds: "table" (a CSV) or e.g. "images"."""
    meta = datasets_root() / str(dataset_id) / META_FILE
    try:
        return str(json.loads(meta.read_text()).get("kind", "table"))
    except (OSError, json.JSONDecodeError):
        return "table"


def load_table(dataset_id: str) -> pd.DataFrame:
    """Loads a stored CSV dataset into a DataFrame.

    Args:
        dataset_id: id returned by `store_upload`.

    Returns:
        The table, with numbers written with thousands separators parsed as numbers.

    Raises:
        DataError: if the file is not a usable table.
    """
    return table_reading.read_csv_bytes(
        dataset_path(dataset_id).read_bytes(), dataset_name(dataset_id)
    )
