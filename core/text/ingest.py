"""Text datasets in: a zip or folder with one folder of `.txt` files per class.

The aclImdb layout (`pos/…`, `neg/…`) becomes a stored dataset of kind "text": one row
per file with its class and its decoded text. Zips and folders are read with the
picture uploads' safety checks (`core.archive`: unsafe paths, links, bombs and damaged
entries refuse the whole upload); a zip of pictures is handed to the picture ingest,
and a zip that mixes both is refused with a sentence.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from core import archive, datasets
from core.errors import DataError
from core.vision import ingest as vision_ingest
from core.vision.bundle import IMAGE_EXTENSIONS

KIND = "text"
TEXTS_FILE = "texts.csv"
NOTES_FILE = "notes.json"
TEXT_EXTENSIONS = (".txt",)
MAX_CHARS = 20_000  # longer texts keep their first MAX_CHARS characters
GUESS_MIN_BYTES = 200  # shorter files give an encoding detector too little to go on


def store_path(path: Path) -> str:
    """Stores a CSV, a zip or a folder given on the command line; returns its dataset id.

    A CSV becomes a table dataset (the text is one of its columns); a zip or folder of
    `.txt` class folders a text dataset.

    Raises:
        DataError: if it is missing, unsafe, or holds no labelled texts.
    """
    if path.is_dir():
        return store_class_files(path.name, archive.read_folder_members(path))
    if not path.is_file():
        raise DataError(f"There is no file or folder `{path}`.")
    if path.suffix.lower() == ".zip":
        return store_class_zip(path.name, path.read_bytes())
    return datasets.store_upload(path.name, path.read_bytes())


def store_class_zip(name: str, content: bytes) -> str:
    """Stores a zip of class folders: `.txt` files as texts, pictures as pictures.

    Raises:
        DataError: if the zip is unsafe or damaged, or mixes texts and pictures.
    """
    if not content or not zipfile.is_zipfile(io.BytesIO(content)):
        return vision_ingest.store_zip(name, content)  # says why it is not a usable zip
    members = archive.read_zip_members(content, name)
    if _holds_texts(members, name):
        return _store(_digest(members), name, members)
    return vision_ingest.store_zip(name, content)


def store_class_files(name: str, files: Iterable[tuple[str, bytes]]) -> str:
    """Stores an uploaded folder (relative name, bytes): texts or pictures.

    Raises:
        DataError: if a name is unsafe or the folder mixes texts and pictures.
    """
    files = list(files)
    members = archive.safe_members(files, name)
    if _holds_texts(members, name):
        return _store(_digest(members), name, members)
    return vision_ingest.store_files(name, files)


def _holds_texts(members: list[tuple[str, bytes]], name: str) -> bool:
    """True for `.txt` files without pictures; refuses a mix of both."""
    texts = sum(_is_text_name(n) for n, _ in members)
    pictures = sum(Path(n).suffix.lower() in IMAGE_EXTENSIONS for n, _ in members)
    if texts and pictures:
        raise DataError(
            f"`{name}` mixes {texts} text files and {pictures} pictures. Upload the "
            "texts and the pictures as two separate zips (one folder per class each)."
        )
    return bool(texts)


def _is_text_name(name: str) -> bool:
    return Path(name).suffix.lower() in TEXT_EXTENSIONS


def _digest(members: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256(b"text:")
    for member, content in members:
        digest.update(f"{member}:{len(content)}:".encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def _store(dataset_id: str, name: str, members: list[tuple[str, bytes]]) -> str:
    """Labels and decodes the texts and writes them, atomically, under the dataset id."""
    if (datasets.datasets_root() / dataset_id / TEXTS_FILE).is_file():
        return dataset_id
    table, notes = label_texts(members, name)
    with datasets.staged_dataset(dataset_id, name, KIND) as folder:
        table.to_csv(folder / TEXTS_FILE, index=False)
        (folder / NOTES_FILE).write_text(json.dumps(notes))
    return dataset_id


def label_texts(
    members: list[tuple[str, bytes]], name: str
) -> tuple[pd.DataFrame, list[str]]:
    """One row per `.txt` file: its name, its class (top folder) and its text.

    Returns:
        The table (`file`, `label`, `text`) and notes in plain words (files skipped,
        texts cut short, encodings guessed).

    Raises:
        DataError: if no `.txt` file sits in a class folder.
    """
    texts = [(n, c) for n, c in members if _is_text_name(n)]
    texts = archive.strip_common_root(texts)
    rows, encodings = [], {}
    for file_name, content in texts:
        if "/" not in file_name:
            continue
        text, encoding = decode_text(content)
        encodings[encoding] = encodings.get(encoding, 0) + 1
        rows.append((file_name, file_name.split("/")[0], text))
    if not rows:
        raise DataError(
            f"`{name}` has no class folders: put the texts of each class in their own "
            "folder (e.g. `pos/`, `neg/`), one `.txt` file per text."
        )
    table = pd.DataFrame(rows, columns=["file", "label", "text"])
    return table, _notes(table, members, texts, encodings)


def _notes(
    table: pd.DataFrame,
    members: list[tuple[str, bytes]],
    texts: list[tuple[str, bytes]],
    encodings: dict[str, int],
) -> list[str]:
    notes = []
    loose = len(texts) - len(table)
    if loose:
        notes.append(f"{loose} text files outside any class folder were left out.")
    others = len(members) - len(texts)
    if others:
        notes.append(f"{others} files that are not `.txt` were left out.")
    long = int((table["text"].str.len() >= MAX_CHARS).sum())
    if long:
        notes.append(
            f"{long} texts were longer than {MAX_CHARS:,} characters and were cut to "
            "their first part."
        )
    guessed = {k: v for k, v in encodings.items() if k != "utf-8"}
    if guessed:
        notes.append(f"Texts not in UTF-8 were read as {guessed} (files per encoding).")
    return notes


def decode_text(content: bytes) -> tuple[str, str]:
    """Decodes a text file: UTF-8 (with or without BOM), UTF-16 by its BOM, else guessed
    (charset-normalizer on 200+ bytes, else cp1252).

    Returns:
        The text (cut to `MAX_CHARS` characters) and the encoding used.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")[:MAX_CHARS], "utf-16"
    try:
        return content.decode("utf-8-sig")[:MAX_CHARS], "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = "cp1252"  # the most common legacy encoding, and a guess for short files
    if len(content) >= GUESS_MIN_BYTES:
        from charset_normalizer import (
            from_bytes,
        )  # installed with requests (TensorFlow)

        best = from_bytes(content[:65536]).best()
        encoding = best.encoding if best is not None else encoding
    return content.decode(encoding, errors="replace")[:MAX_CHARS], encoding


def texts_folder(dataset_id: str) -> Path:
    """Returns the folder of a stored text dataset.

    Raises:
        DataError: if there is no such text dataset.
    """
    return datasets.stored_folder(
        dataset_id,
        TEXTS_FILE,
        f"There is no stored text data set `{dataset_id}`. Upload it again.",
    )


def load_texts(dataset_id: str) -> pd.DataFrame:
    """Loads a stored text dataset: columns `file`, `label`, `text`."""
    folder = texts_folder(dataset_id)
    table = pd.read_csv(folder / TEXTS_FILE, dtype=str, keep_default_na=False)
    table.attrs["notes"] = json.loads((folder / NOTES_FILE).read_text())
    return table
