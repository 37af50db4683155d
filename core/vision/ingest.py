"""Image datasets in: safe unzip, folders, loose pictures + labels CSV, preflight.

Every upload is stored under its content hash in the workspace. Pictures are stored under
their own content hash (never under the uploaded name); `labels.csv` keeps the name each
picture had inside the upload, for display. Thumbnails to show are
`core.vision.previews`; where a model looked in a picture is `core.vision.saliency`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from core import archive, datasets, table_reading
from core.errors import DataError
from core.findings import Finding
from core.vision import bundle as vision_bundle
from core.vision.bundle import IMAGE_EXTENSIONS, ImageDecodeError

KIND = "images"
IMAGES_DIR = "images"
LABELS_FILE = "labels.csv"
SKIPPED_FILE = "skipped.csv"
NOTES_FILE = "notes.json"
MIN_PER_CLASS = 3
FEW_PER_CLASS = 20
GOOD_PER_CLASS = 50
TINY_SIDE = 32
IMBALANCE_RATIO = 0.5
FILE_COLUMNS = ("filename", "file", "image", "path", "name")
LABEL_COLUMNS = ("label", "class", "category", "target")
SAMPLE_FOLDER = datasets.SAMPLE_DIR / "face_mask"
SAMPLE_NAME = "Face masks (photos)"


@dataclass(frozen=True)
class ImageSet:
    """A stored image dataset: one row per usable picture, and what was skipped."""

    dataset_id: str
    folder: Path
    table: (
        pd.DataFrame
    )  # file (name in the upload), label, path (stored), width, height, sha256
    skipped: pd.DataFrame  # file, reason
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.table)

    def paths(self) -> list[str]:
        """Absolute paths of the stored pictures, in table order."""
        return [str(self.folder / p) for p in self.table["path"]]


# --- storing uploads -------------------------------------------------------------------


def store_path(path: Path) -> str:
    """Stores a zip file or a folder given on the command line; returns its dataset id.

    Raises:
        DataError: if it is neither, or is unsafe or unusable (see `store_zip`).
    """
    if path.is_dir():
        return store_files(path.name, archive.read_folder_members(path))
    if path.is_file():
        return store_zip(path.name, path.read_bytes())
    raise DataError(f"There is no file or folder `{path}`.")


def store_sample() -> str:
    """Stores the bundled face-mask photos and returns their dataset id."""
    return store_files("face_mask", archive.read_folder_members(SAMPLE_FOLDER))


def store_zip(name: str, content: bytes) -> str:
    """Unpacks an uploaded zip safely into the workspace and returns its dataset id.

    The zip holds one folder per class (`with_mask/…`, `without_mask/…`), or pictures
    plus a CSV of `filename,label`. Hidden files and `__MACOSX` are ignored.

    Args:
        name: the uploaded file's name (display only, never a path).
        content: the zip's bytes.

    Raises:
        DataError: if it is not a zip, holds an unsafe path (`../`, absolute) or a
            symbolic link, unpacks to too much data or too many files, or holds no
            usable labelled pictures.
    """
    if not content:
        raise DataError(f"The file `{name}` is empty (0 bytes).")
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise DataError(
            f"`{name}` is not a zip file (its content is {_sniff(content)}). Upload a "
            ".zip with one folder per class, a folder, or pictures with a labels CSV."
        )
    dataset_id = hashlib.sha256(content).hexdigest()[:16]
    if _is_stored(dataset_id):
        return dataset_id
    return _store(dataset_id, name, archive.read_zip_members(content, name))


def store_files(name: str, files: Iterable[tuple[str, bytes]]) -> str:
    """Stores uploaded files given as (relative name, bytes); returns the dataset id.

    This is the folder upload (names like `photos/with_mask/a.jpg`) and the upload of
    loose pictures with a CSV of `filename,label`.

    Raises:
        DataError: if a name is unsafe, the files are too many or too large, or they
            hold no usable labelled pictures.
    """
    members, digest = archive.safe_members(files, name), hashlib.sha256()
    for member, content in members:  # a member's parts are joined by `/`
        digest.update(f"{member.count('/') + 1}:{member}:{len(content)}:".encode())
        digest.update(hashlib.sha256(content).digest())
    dataset_id = digest.hexdigest()[:16]
    if _is_stored(dataset_id):
        return dataset_id
    return _store(dataset_id, name, members)


def _sniff(content: bytes) -> str:
    try:
        with Image.open(io.BytesIO(content)) as image:
            return f"a {image.format} picture"
    except Exception:  # noqa: BLE001  anything unreadable is simply "not a picture"
        pass
    head = content[:512]
    if head and all(32 <= b < 127 or b in b"\r\n\t" for b in head):
        return "plain text"
    return "not a zip archive"


def _is_stored(dataset_id: str) -> bool:
    return (datasets.datasets_root() / dataset_id / datasets.META_FILE).is_file()


def _store(dataset_id: str, name: str, members: list[tuple[str, bytes]]) -> str:
    """Labels, decodes and writes the pictures, atomically, under the dataset id."""
    labelled, notes = label_members(members, name)
    with datasets.staged_dataset(dataset_id, name, KIND) as folder:
        (folder / IMAGES_DIR).mkdir()
        rows, skipped = _write_pictures(folder, labelled)
        if not rows:
            raise DataError(_no_pictures_message(name, skipped))
        pd.DataFrame(rows).to_csv(folder / LABELS_FILE, index=False)
        pd.DataFrame(skipped, columns=["file", "reason"]).to_csv(
            folder / SKIPPED_FILE, index=False
        )
        (folder / NOTES_FILE).write_text(json.dumps(notes))
    return dataset_id


def _no_pictures_message(name: str, skipped: list[tuple[str, str]]) -> str:
    reasons = "; ".join(f"`{f}`: {r}" for f, r in skipped[:3])
    return f"`{name}` holds no readable labelled pictures." + (
        f" Skipped: {reasons}." if reasons else ""
    )


def _write_pictures(
    folder: Path, labelled: list[tuple[str, str | None, bytes]]
) -> tuple[list[dict], list[tuple[str, str]]]:
    rows, skipped = [], []
    for file_name, label, content in labelled:
        reason = _skip_reason(file_name, label, content)
        if reason:
            skipped.append((file_name, reason))
            continue
        try:
            width, height = _check_picture(content)
        except ImageDecodeError as err:
            skipped.append((file_name, str(err)))
            continue
        digest = hashlib.sha256(content).hexdigest()
        stored = f"{IMAGES_DIR}/{digest[:20]}{Path(file_name).suffix.lower()}"
        (folder / stored).write_bytes(content)
        rows.append(
            {
                "file": file_name,
                "label": label,
                "path": stored,
                "width": width,
                "height": height,
                "sha256": digest,
            }
        )
    return rows, skipped


def _skip_reason(file_name: str, label: str | None, content: bytes) -> str:
    if Path(file_name).suffix.lower() not in IMAGE_EXTENSIONS:
        return "not a picture file type (expected " + ", ".join(IMAGE_EXTENSIONS) + ")"
    if label is None:
        return "no label: it is not in a class folder nor in the labels CSV"
    return ""


def _check_picture(content: bytes) -> tuple[int, int]:
    pixels = vision_bundle.decode_image(content, draft_size=64)
    with Image.open(io.BytesIO(content)) as image:  # the size before any draft scaling
        width, height = image.size
    if pixels.ndim != 3:
        raise ImageDecodeError("unexpected picture layout")
    return width, height


# --- labels from folders or a CSV ------------------------------------------------------


def label_members(
    members: list[tuple[str, bytes]], name: str
) -> tuple[list[tuple[str, str | None, bytes]], list[str]]:
    """Gives each file its class: from a labels CSV if there is one, else its folder.

    Returns:
        (file name within the upload, label or None, bytes) per file, and notes in
        plain words about how the labels were found.

    Raises:
        DataError: if there are neither class folders nor a labels CSV, or the folders
            repeat the same class folders inside each other (e.g. train/ and test/).
    """
    csvs = [(n, c) for n, c in members if n.lower().endswith(".csv")]
    pictures = [(n, c) for n, c in members if not n.lower().endswith(".csv")]
    if csvs:
        return _label_from_csv(pictures, csvs, name)
    pictures = archive.strip_common_root(pictures)
    foldered = [n for n, _ in pictures if "/" in n]
    if not foldered:
        raise DataError(
            f"`{name}` has no class folders: put the pictures of each class in their own "
            "folder (e.g. `with_mask/`, `without_mask/`), or add a CSV with the columns "
            "`filename,label`."
        )
    _refuse_split_folders(foldered, name)
    notes = _nested_notes(foldered)
    labelled = [(n, n.split("/")[0] if "/" in n else None, c) for n, c in pictures]
    return labelled, notes


def _refuse_split_folders(names: list[str], upload: str) -> None:
    """Refuses `train/cat/…`, `test/cat/…`: the classes are one level further down."""
    inner: dict[str, set[str]] = {}
    for name in names:
        parts = name.split("/")
        if len(parts) > 2:
            inner.setdefault(parts[0], set()).add(parts[1])
    shared = set.intersection(*inner.values()) if len(inner) > 1 else set()
    if shared:
        outer = sorted(inner)
        raise DataError(
            f"`{upload}` has nested class folders: {outer} each hold the same folders "
            f"{sorted(shared)}. Put one folder per class at the top (e.g. merge "
            f"`{outer[0]}/{sorted(shared)[0]}` and `{outer[1]}/{sorted(shared)[0]}`)."
        )


def _nested_notes(names: list[str]) -> list[str]:
    nested = [n for n in names if n.count("/") > 1]
    if not nested:
        return []
    return [
        f"{len(nested)} pictures sit in sub-folders (e.g. `{nested[0]}`); each was "
        "given the class of its top folder."
    ]


def _label_from_csv(
    pictures: list[tuple[str, bytes]], csvs: list[tuple[str, bytes]], upload: str
) -> tuple[list[tuple[str, str | None, bytes]], list[str]]:
    csv_name, content = csvs[0]
    table = table_reading.read_csv_bytes(content, csv_name)
    lower = {str(c).strip().lower(): c for c in table.columns}
    file_col = next((lower[c] for c in FILE_COLUMNS if c in lower), None)
    label_col = next((lower[c] for c in LABEL_COLUMNS if c in lower), None)
    if file_col is None or label_col is None:
        raise DataError(
            f"The labels CSV `{csv_name}` needs a file column (one of {FILE_COLUMNS}) and "
            f"a label column (one of {LABEL_COLUMNS}). Received columns: "
            f"{list(table.columns)}"
        )
    labels = {}
    for file_name, label in zip(table[file_col], table[label_col], strict=True):
        if pd.notna(file_name) and pd.notna(label):
            labels[str(file_name).replace("\\", "/").strip()] = str(label).strip()
    by_base = {k.rsplit("/", 1)[-1]: v for k, v in labels.items()}
    labelled = [
        (n, labels.get(n, by_base.get(n.rsplit("/", 1)[-1])), c) for n, c in pictures
    ]
    notes = [f"Labels were read from `{csv_name}`."]
    if len(csvs) > 1:
        notes.append(f"Other CSV files were ignored: {[n for n, _ in csvs[1:]]}.")
    return labelled, notes


# --- loading and preflight -------------------------------------------------------------


def dataset_folder(dataset_id: str) -> Path:
    """Returns the folder of a stored image dataset.

    Raises:
        DataError: if there is no such image dataset.
    """
    return datasets.stored_folder(
        dataset_id,
        LABELS_FILE,
        f"There is no stored image data set `{dataset_id}`. Upload it again.",
    )


def load_images(dataset_id: str) -> ImageSet:
    """Loads a stored image dataset's index (pictures are read later, once)."""
    folder = dataset_folder(dataset_id)
    table = pd.read_csv(folder / LABELS_FILE, dtype={"label": str, "file": str})
    skipped = pd.read_csv(folder / SKIPPED_FILE, dtype=str).fillna("")
    notes = json.loads((folder / NOTES_FILE).read_text())
    return ImageSet(dataset_id, folder, table, skipped, notes)


def class_counts(images: ImageSet) -> pd.Series:
    """Pictures per class, largest first."""
    return images.table["label"].value_counts()


def check(images: ImageSet) -> list[str]:
    """Returns the problems that block training, in plain words (`[]` means OK)."""
    counts = class_counts(images)
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "none"
        return [
            f"Only one class was found (`{only}`); a model needs pictures of at least "
            "two classes to learn to tell them apart. Add a folder per class."
        ]
    problems = []
    for label, count in counts[counts < MIN_PER_CLASS].items():
        example = images.table.loc[images.table["label"] == label, "file"].iloc[0]
        amount = "a single picture" if count == 1 else f"only {count} pictures"
        problems.append(
            f"Class `{label}` has {amount} (e.g. `{example}`); each class needs at least "
            f"{MIN_PER_CLASS} (to train, to decide when to stop and to test). Add "
            "pictures or remove that folder."
        )
    return problems


def preflight(images: ImageSet) -> list[Finding]:
    """Data-quality findings in plain words, each with the fix that applies."""
    findings = _count_findings(class_counts(images))
    findings += _duplicate_findings(images.table) + _tiny_findings(images.table)
    if len(images.skipped):
        first = images.skipped.iloc[0]
        findings.append(
            Finding(
                "warning",
                f"{len(images.skipped)} files were skipped, e.g. `{first['file']}`: "
                f"{first['reason']}.",
                "The list below names each one with its reason; the rest are used.",
            )
        )
    findings += [Finding("info", note, "") for note in images.notes]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.level])


def _count_findings(counts: pd.Series) -> list[Finding]:
    findings = []
    few = {k: int(v) for k, v in counts.items() if v < FEW_PER_CLASS}
    if few:
        findings.append(
            Finding(
                "warning",
                f"Few pictures in {few}: under {FEW_PER_CLASS} per class is very few.",
                f"Aim for {GOOD_PER_CLASS} or more per class; results will vary a lot.",
            )
        )
    elif (counts < GOOD_PER_CLASS).any():
        findings.append(
            Finding(
                "info",
                f"Some classes have under {GOOD_PER_CLASS} pictures.",
                f"{GOOD_PER_CLASS}+ per class is recommended for a reliable model.",
            )
        )
    if len(counts) >= 2 and counts.iloc[-1] / counts.iloc[0] < IMBALANCE_RATIO:
        findings.append(
            Finding(
                "warning",
                f"Classes are imbalanced: `{counts.index[-1]}` has {counts.iloc[-1]} "
                f"pictures, `{counts.index[0]}` has {counts.iloc[0]}.",
                "The app weights the rare classes up; judge the model by balanced "
                "accuracy and per-class recall.",
            )
        )
    return findings


def _duplicate_findings(table: pd.DataFrame) -> list[Finding]:
    groups = table.groupby("sha256")
    copies = groups.filter(lambda g: len(g) > 1)
    if copies.empty:
        return []
    labels_per_copy = copies.groupby("sha256")["label"].nunique()
    across = copies[copies["sha256"].isin(labels_per_copy[labels_per_copy > 1].index)]
    findings = [
        Finding(
            "warning",
            f"{len(copies) - copies['sha256'].nunique()} pictures are exact copies of "
            f"others (e.g. `{copies['file'].iloc[0]}` and `{copies['file'].iloc[1]}`).",
            "A copy in both training and test makes the score look better than it is; "
            "remove the copies.",
        )
    ]
    if len(across):
        findings.insert(
            0,
            Finding(
                "warning",
                f"The same picture is in different classes: "
                f"{across['file'].head(4).tolist()}.",
                "A picture can only have one right answer; keep it in one class.",
            ),
        )
    return findings


def _tiny_findings(table: pd.DataFrame) -> list[Finding]:
    tiny = table[(table["width"] < TINY_SIDE) | (table["height"] < TINY_SIDE)]
    if tiny.empty:
        return []
    return [
        Finding(
            "info",
            f"{len(tiny)} pictures are tiny (under {TINY_SIDE} pixels on a side), e.g. "
            f"`{tiny['file'].iloc[0]}`.",
            "They are enlarged to the model's size, which blurs them; use larger ones "
            "if you have them.",
        )
    ]


# --- predictions -----------------------------------------------------------------------


def predict_uploads(
    model: Any, named: list[tuple[str, bytes]], info: dict
) -> pd.DataFrame:
    """Classifies uploaded pictures (name, bytes); unreadable ones get a `problem`."""
    return vision_bundle.predict_images(model, named, info)
