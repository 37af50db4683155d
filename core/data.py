"""Data in: store uploads by content hash, load real-world CSVs, infer column kinds, preflight.

pandas and numpy only at import time; scikit-learn is imported inside the few functions that
need it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core import workspace
from core.errors import DataError

logger = logging.getLogger(__name__)

MAX_TABLE_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 2000
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
MISSING_MARKERS = [
    "",
    "NA",
    "N/A",
    "n/a",
    "na",
    "NaN",
    "nan",
    "null",
    "NULL",
    "Null",
    "None",
    "none",
    "?",
    "-",
    "--",
    "missing",
    "Missing",
    "#N/A",
]
ZERO_GAP_STEPS = 5  # zeros this many typical steps below the lowest value: impossible
FLOAT32_MAX = float(np.finfo(np.float32).max)
BOOLEAN_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
# Column names that usually hold what to predict: the explicit ones, then the specific
# ones, then the generic ones (lower case, letters and digits only: `Sale Price` is
# `saleprice`). Titanic has a `class` column but predicts `survived`; diamonds has `y`.
TARGET_NAMES = (
    "target",
    "label",
    "outcome",
    "survived",
    "churn",
    "diagnosis",
    "isfraud",
    "fraud",
    "spam",
    "sentiment",
    "species",
    "class",
    "quality",
    "price",
    "saleprice",
    "response",
    "result",
    "y",
)
KINDS = ("number", "category", "boolean", "date", "text", "identifier")
FEATURE_KINDS = ("number", "category", "boolean", "text")
DELIMITERS = ",;\t|"
# Numbers as people write them: 1,234.5 / 1234.5 (point decimal) or 1.234,5 / 1234,5 (comma).
_POINT_NUMBER = r"[+-]?(\d{1,3}([,'\u00a0 ]\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?"
_COMMA_NUMBER = r"[+-]?(\d{1,3}([.'\u00a0 ]\d{3})+|\d+)(,\d+)?"
_NUMBER_LIKE = r"[\s$€£¥%+-]*\d[\d.,'\u00a0 ]*[\s$€£¥%]*"


@dataclass(frozen=True)
class Finding:
    """One data-quality problem found by `preflight`, in plain words."""

    level: str  # "error" blocks training, "warning" should be read, "info" is handled
    message: str
    fix: str


def datasets_root() -> Path:
    """Returns the folder that holds stored datasets."""
    path = workspace.root() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(name: str, data: bytes) -> str:
    """Stores uploaded bytes under their content hash; the file name is only metadata.

    Args:
        name: the name the user's file had (shown in the UI, never used as a path).
        data: the file's bytes.

    Returns:
        The dataset id (a hex digest prefix).

    Raises:
        DataError: if the file is empty or larger than the size limit.
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
    dataset_id = hashlib.sha256(data).hexdigest()[:16]
    folder = datasets_root() / dataset_id
    if not (folder / META_FILE).is_file():
        folder.mkdir(exist_ok=True)
        (folder / TABLE_FILE).write_bytes(data)
        meta = {
            "name": Path(name).name[:200],
            "size": len(data),
            "stored_at": time.time(),
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
    return read_csv_bytes(
        dataset_path(dataset_id).read_bytes(), dataset_name(dataset_id)
    )


def read_csv_bytes(data: bytes, name: str = "the file") -> pd.DataFrame:
    """Parses CSV bytes, detecting encoding, delimiter, number format and missing values.

    A file with a single column is a valid table (e.g. the one input column to score).
    Numbers written with thousands separators (`1,234.5`) or, in a file separated by `;`,
    with a decimal comma (`50.088,83`) are parsed as numbers.

    Raises:
        DataError: if the bytes are empty, binary or ragged.
    """
    text = _decode(data, name)
    if not text.strip():
        raise DataError(
            f"The file `{name}` is empty. Choose a CSV file with a header row."
        )
    sep = _sniff_delimiter(text)
    frame = _read_csv_text(text, sep, name)
    floats = list(frame.select_dtypes("float").columns)
    if sep == ";" and floats and _says_decimal_comma(text):
        frame = _dotted_thousands(frame, _read_csv_text(text, sep, name, dtype=str))
    return _validate_shape(_clean_columns(frame, sep), name)


def _read_csv_text(
    text: str, sep: str, name: str, dtype: type | None = None
) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=dtype,
            na_values=MISSING_MARKERS,
            keep_default_na=True,
            skipinitialspace=True,
            low_memory=False,
        )
    except pd.errors.ParserError as err:
        raise DataError(
            f"`{name}` has rows of different lengths: {_ragged_detail(err)} "
            "Fix those rows or export the file again from your spreadsheet."
        ) from None
    except (pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(f"`{name}` could not be read as a table: {err}.") from None
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # a column became the index
        raise DataError(
            f"`{name}` has more values in its rows than names in its header: "
            f"{_first_long_row(text, sep)} If a text holds the separator `{sep}`, put it "
            'in double quotes ("..."), or export the file again from your spreadsheet.'
        )
    return frame


def _first_long_row(text: str, sep: str) -> str:
    """Describes the first row with more fields than the header, e.g. for a message."""
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    width = len(next(rows, []))
    for number, row in enumerate(rows, start=1):
        if len(row) > width:
            return f"row {number} has {len(row)} values for {width} columns."
    return f"the rows have more values than the {width} columns."


def _says_decimal_comma(text: str) -> bool:
    """True if a `;`-separated file writes a number with a decimal comma somewhere."""
    return (
        re.search(r"(^|;)\s*[+-]?[\d.]*\d,\d+\s*(;|$)", text, re.MULTILINE) is not None
    )


def _dotted_thousands(frame: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Re-reads number columns written as 1.234 / 56.789 in a decimal-comma file as 1234."""
    for column in frame.select_dtypes("float").columns:
        values = raw[column].dropna().str.strip()
        if len(values) and values.str.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+").all():
            frame[column] = _to_float(raw[column].astype("string").str.strip(), "comma")
    return frame


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise DataError(
            f"`{name}` is not a text CSV file (it contains binary data). "
            "Export it from your spreadsheet as 'CSV (comma separated)'."
        )
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"`{name}` uses an unknown text encoding. Save it as UTF-8.")


def _sniff_delimiter(text: str) -> str:
    """The delimiter the header row uses; "," for a one-column file."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        sep = ","
    if _header_width(lines[0], sep) > 1:
        return sep
    best = max(DELIMITERS, key=lambda d: _header_width(lines[0], d))
    return best if _header_width(lines[0], best) > 1 else ","


def _header_width(line: str, sep: str) -> int:
    return len(next(csv.reader([line], delimiter=sep), []))


def _ragged_detail(err: Exception) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
    if not match:
        return f"{err}."
    expected, line, saw = match.groups()
    return f"line {line} has {saw} values but the header has {expected}."


def _clean_columns(frame: pd.DataFrame, sep: str) -> pd.DataFrame:
    frame.columns = [
        f"column_{i + 1}"
        if not str(c).strip() or str(c).startswith("Unnamed: ")
        else str(c).strip()
        for i, c in enumerate(frame.columns)
    ]
    if frame.shape[1] > 1:  # in a one-column file an empty cell is a missing value
        frame = frame.dropna(how="all")
    for column in _text_columns(frame):
        frame[column] = _parse_written_numbers(frame[column], sep)
    return frame.reset_index(drop=True)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_object_dtype(frame[c])
        or pd.api.types.is_string_dtype(frame[c])
    ]


def _parse_written_numbers(series: pd.Series, sep: str) -> pd.Series:
    """Parses a text column whose every value is a number in one consistent format.

    A `;`-separated file (the European spreadsheet export) tries the decimal comma
    first, so `1,234` is 1.234 there; other files try the decimal point first, so
    `1,234` is 1234 there. A column with values of both formats stays text.
    """
    values = series.dropna().astype(str).str.strip()
    if values.str.fullmatch(r"[+-]?\d+").all():  # empty, or IDs too long for int64
        return series
    formats = ("comma", "point") if sep == ";" else ("point", "comma")
    for decimal in formats:
        pattern = _COMMA_NUMBER if decimal == "comma" else _POINT_NUMBER
        if values.str.fullmatch(pattern).all():
            return _to_float(series.astype("string").str.strip(), decimal)
    return series


def _to_float(text: pd.Series, decimal: str) -> pd.Series:
    if decimal == "comma":
        text = text.str.replace(r"[.'\u00a0 ]", "", regex=True).str.replace(",", ".")
    else:
        text = text.str.replace(r"[,'\u00a0 ]", "", regex=True)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _validate_shape(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.shape[1] > MAX_COLUMNS:
        raise DataError(
            f"`{name}` has {frame.shape[1]} columns; the limit is {MAX_COLUMNS}."
        )
    if frame.empty:
        raise DataError(
            f"`{name}` has a header but no data rows. Add rows below the header."
        )
    return frame


def infer_column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Guesses what each column holds: one of `KINDS`.

    Returns:
        A mapping of column name to kind.
    """
    return {column: _infer_kind(frame[column]) for column in frame.columns}


def _infer_kind(series: pd.Series) -> str:
    values = series.dropna()
    if values.empty:
        return "category"
    if pd.api.types.is_bool_dtype(values) or _is_boolean_text(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return _numeric_kind(series, values)
    text = values.astype(str)
    unique_ratio = text.nunique() / len(text)
    if _looks_like_dates(text):
        return "date"
    if text.str.len().mean() >= 30 or text.str.split().str.len().mean() >= 5:
        return "text"
    if unique_ratio > 0.5 and len(text) >= 20:
        return "identifier"
    return "category"


def _numeric_kind(series: pd.Series, values: pd.Series) -> str:
    if set(values.unique()) <= {0, 1}:
        return "boolean"
    is_whole = pd.api.types.is_integer_dtype(values) or (values % 1 == 0).all()
    named_like_id = re.search(r"(^|_)id$|^id|uuid|key$", str(series.name).lower())
    if is_whole and values.is_unique and len(values) >= 20:
        if named_like_id or values.is_monotonic_increasing:
            return "identifier"
    return "number"


def _is_boolean_text(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values):
        return False
    lowered = set(values.astype(str).str.strip().str.lower().unique())
    return len(lowered) == 2 and lowered <= BOOLEAN_WORDS


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d").all() or not sample.str.contains(r"[-/:.]").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9


def mixed_columns(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Finds text columns that are mostly numbers with a few words, e.g. '12', 'abc'.

    Returns:
        Column name to up to three of the words found.
    """
    found = {}
    for column in _text_columns(frame):
        values = frame[column].dropna().astype(str)
        numeric = pd.to_numeric(values, errors="coerce")
        if len(values) and 0.5 <= numeric.notna().mean() < 1:
            found[column] = list(values[numeric.isna()].unique()[:3])
    return found


def resolve_kinds(
    frame: pd.DataFrame, overrides: Mapping[str, str] | None
) -> dict[str, str]:
    """Returns inferred column kinds with the user's overrides applied.

    Raises:
        DataError: if an override names an unknown column or kind.
    """
    kinds = infer_column_kinds(frame)
    for column, kind in (overrides or {}).items():
        if column not in kinds:
            raise DataError(f"Invalid column in `column_kinds`. Received: {column!r}")
        if kind not in KINDS:
            raise DataError(
                f"Invalid kind for column `{column}`. Expected one of {KINDS}. "
                f"Received: {kind!r}"
            )
        kinds[column] = kind
    return kinds


def column_stats(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """Returns one row per column: kind, missing values, distinct values, summary.

    Infinite values count as missing (see `find_infinite`), so the summary stays finite.
    """
    frame = mask_infinite(frame)
    rows = []
    for column in frame.columns:
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series)
        rows.append(
            {
                "column": column,
                "kind": kinds[column],
                "missing": int(series.isna().sum()),
                "distinct": int(series.nunique()),
                "mean": float(series.mean()) if numeric else None,
                "min": float(series.min()) if numeric else None,
                "max": float(series.max()) if numeric else None,
                "most common": str(series.mode().iloc[0])
                if series.notna().any()
                else "",
            }
        )
    return pd.DataFrame(rows)


def suggest_target(kinds: Mapping[str, str]) -> str:
    """Suggests the column to predict from the column names and kinds.

    A usable column (a number, category or yes/no, not an ID, date or free text) named
    like a target wins, in the order of `TARGET_NAMES` (diamonds: `price`, not `y`);
    otherwise the last usable column.

    Args:
        kinds: column name to kind, in file order (see `infer_column_kinds`).

    Returns:
        A column name.
    """
    usable = [c for c, k in kinds.items() if k in ("number", "category", "boolean")]
    candidates = usable or list(kinds)
    normalized = {re.sub(r"[^a-z0-9]", "", str(c).lower()): c for c in candidates}
    for name in TARGET_NAMES:
        if name in normalized:
            return normalized[name]
    return candidates[-1]


def target_task(frame: pd.DataFrame, target: str) -> str:
    """Returns the task a target column asks for: "regression" or "classification".

    Numbers with more than 20 different values are a quantity to predict; anything
    else (words, yes/no, a few numbers) is a set of classes.

    Raises:
        DataError: if `target` is not a column of `frame`.
    """
    if target not in frame.columns:
        raise DataError(
            f"Invalid value for argument `target`. Expected one of {list(frame.columns)}. "
            f"Received: target={target!r}"
        )
    values = frame[target].dropna()
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 20:
        return "regression"
    return "classification"


def split_indices(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits row positions into train, validation and test, stratified when labels are given.

    Args:
        labels: the target per row; integer classes give a stratified split, floats
            (regression targets) a plain one. Its length is the row count.
        val_fraction: share of all rows for validation.
        test_fraction: share of all rows for the final test.
        seed: random seed; the same seed gives the same split.

    Returns:
        Three sorted arrays of row positions.
    """
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(labels))
    rest, test = train_test_split(
        positions,
        test_size=test_fraction,
        random_state=seed,
        stratify=_stratify_or_none(labels),
    )
    val_share = val_fraction / (1 - test_fraction)
    train, val = train_test_split(
        rest,
        test_size=val_share,
        random_state=seed,
        stratify=_stratify_or_none(labels[rest]),
    )
    return np.sort(train), np.sort(val), np.sort(test)


def _stratify_or_none(labels: np.ndarray) -> np.ndarray | None:
    if labels.dtype.kind == "f":
        return None
    counts = pd.Series(labels).value_counts()
    return labels if len(counts) > 1 and counts.min() >= 3 else None


def preflight(
    frame: pd.DataFrame, target: str | None, kinds: Mapping[str, str]
) -> list[Finding]:
    """Lists data-quality problems in plain words, each with the fix that applies.

    Args:
        frame: the table.
        target: the column to predict, if chosen.
        kinds: column kinds (after overrides).

    Returns:
        Findings, most important first.
    """
    findings = _width_findings(frame) + find_infinite(frame)
    frame = mask_infinite(frame)
    findings += _missing_findings(frame, target)
    findings += _column_findings(frame, target, kinds) + _zero_findings(frame, kinds)
    findings += _duplicate_findings(frame)
    if target in frame.columns:
        findings += _target_findings(frame, target, kinds)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.level])


def _width_findings(frame: pd.DataFrame) -> list[Finding]:
    if frame.shape[1] > 1:
        return []
    return [
        Finding(
            "error",
            f"The table has only one column ({frame.columns[0]!r}).",
            "A model needs a target column and at least one input column. If your file "
            "uses a separator other than , ; tab or |, save it again as a "
            "comma-separated CSV.",
        )
    ]


def find_infinite(frame: pd.DataFrame) -> list[Finding]:
    """Finds infinite numbers and numbers too large to compute with, per column.

    `inf`, `-inf`, `Infinity` and values beyond 1.8e308 are read as infinite; values
    beyond 3.4e38 become infinite inside a model (it computes in float32).

    Args:
        frame: raw rows, e.g. a loaded table or rows to score.

    Returns:
        One warning per column that holds such values, naming the column and the first
        data rows (1 is the first row below the header); empty if there are none.
    """
    findings = []
    for column in frame.columns:
        rows = np.flatnonzero(_infinite_mask(frame[column]))
        if not len(rows):
            continue
        shown = ", ".join(str(row + 1) for row in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        findings.append(
            Finding(
                "warning",
                f"`{column}` holds {_count(len(rows), 'infinite or too large value')} "
                f"(row {shown}{more}).",
                "They are treated as missing values. If they are errors, fix them in "
                "your file.",
            )
        )
    return findings


def mask_infinite(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns `frame` with the values `find_infinite` reports set to missing (NaN).

    `frame` itself is left as it was; without such values it is returned as is.
    """
    masks = {column: _infinite_mask(frame[column]) for column in frame.columns}
    changed = [column for column, mask in masks.items() if mask.any()]
    if not changed:
        return frame
    masked = frame.copy()
    for column in changed:
        masked[column] = frame[column].mask(masks[column])
    return masked


def _infinite_mask(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return np.zeros(len(series), dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.abs(series.to_numpy("float64", na_value=np.nan)) > FLOAT32_MAX


def _missing_findings(frame: pd.DataFrame, target: str | None) -> list[Finding]:
    findings = []
    for column, count in frame.isna().sum().items():
        if not count or column == target:
            continue
        share = count / len(frame)
        findings.append(
            Finding(
                "warning" if share > 0.3 else "info",
                f"`{column}` has {count} missing values ({share:.0%}).",
                "The app fills missing numbers with the training average and adds a "
                "'was missing' signal; missing categories become their own value.",
            )
        )
    if target in frame.columns and frame[target].isna().any():
        count = int(frame[target].isna().sum())
        findings.append(
            Finding(
                "warning",
                f"The target `{target}` is missing in {count} rows.",
                "Those rows are left out of training and testing.",
            )
        )
    return findings


def _column_findings(
    frame: pd.DataFrame, target: str | None, kinds: Mapping[str, str]
) -> list[Finding]:
    unread = _unread_numbers(frame, target, kinds)
    findings = _unread_number_findings(unread, kinds)
    for column in frame.columns:
        if column == target or column in unread:
            continue
        if frame[column].nunique(dropna=False) <= 1:
            findings.append(
                Finding(
                    "info",
                    f"`{column}` has the same value in every row.",
                    "It carries no information, so the app leaves it out.",
                )
            )
        elif kinds.get(column) == "identifier":
            findings.append(
                Finding(
                    "info",
                    f"`{column}` looks like an ID (almost every value is different).",
                    "The app leaves it out; change "
                    "its kind above if it is a real measurement.",
                )
            )
        elif kinds.get(column) == "date":
            findings.append(
                Finding(
                    "info",
                    f"`{column}` holds dates.",
                    "Table templates "
                    "leave dates out; use the time-series template for them.",
                )
            )
    for column, words in mixed_columns(frame).items():
        findings.append(
            Finding(
                "warning",
                f"`{column}` mixes numbers and words (e.g. {', '.join(map(repr, words))}).",
                "It is treated as a category. If the words mean 'missing', set its kind to "
                "number: the words then count as missing values.",
            )
        )
    return findings


def _unread_number_findings(
    unread: Mapping[str, str], kinds: Mapping[str, str]
) -> list[Finding]:
    use = {"identifier": "left out as an ID", "category": "treated as categories"}
    return [
        Finding(
            "warning",
            f"`{column}` looks like numbers (e.g. {example!r}), but not in one format "
            f"the app can read, so it is {use.get(kinds.get(column), 'not used as numbers')}.",
            "If it holds amounts, write every value in one format, e.g. 50088.83 or (in "
            "a file separated by ;) 50.088,83, without units or currency signs. If it is "
            "a code (phone number, postcode), ignore this.",
        )
        for column, example in unread.items()
    ]


def _unread_numbers(
    frame: pd.DataFrame, target: str | None, kinds: Mapping[str, str]
) -> dict[str, str]:
    """Text columns that look like numbers the loader could not read: column -> example."""
    found = {}
    for column in _text_columns(frame):
        values = frame[column].dropna().astype(str).str.strip()
        if column != target and kinds.get(column) != "date" and _number_like(values):
            found[column] = values.iloc[0]
    return found


def _number_like(values: pd.Series) -> bool:
    """Mostly number-shaped text (digits, separators, signs) that is not plain numbers."""
    if values.empty or values.str.fullmatch(_NUMBER_LIKE).mean() < 0.9:
        return False
    return pd.to_numeric(values, errors="coerce").notna().mean() < 0.5


def _zero_findings(frame: pd.DataFrame, kinds: Mapping[str, str]) -> list[Finding]:
    findings = []
    for column in frame.columns:
        if kinds.get(column) != "number" or not _has_impossible_zeros(frame[column]):
            continue
        values = frame[column]
        zeros = int((values == 0).sum())
        smallest = values[values > 0].min()
        findings.append(
            Finding(
                "warning",
                f"`{column}`: {_count(zeros, 'row')} {'is' if zeros == 1 else 'are'} 0, "
                f"far below every other value (the smallest is {smallest:g}). For a "
                "measurement like this, 0 is impossible; they probably mean 'missing'.",
                "If 0 means 'not measured', leave those cells empty in your file: the "
                "app then fills them and adds a 'was missing' signal. If 0 is a real "
                "value, ignore this.",
            )
        )
    return findings


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _has_impossible_zeros(series: pd.Series) -> bool:
    """True for a measurement that is positive apart from zeros far below its range.

    A count such as `Pregnancies` (0, 1, 2, ...) or a flag is not flagged: there the
    smallest positive value is one step away from 0. A measurement such as insulin
    (0, then 14, 15, 16, 18, ...) is: 0 lies many steps below its lowest values.
    """
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    values = series.dropna()
    if not (values == 0).any() or (values < 0).any():
        return False
    lowest = np.sort(values[values > 0].unique())[:11]
    if len(lowest) < 11:  # too few distinct values for a measurement
        return False
    step = float(np.median(np.diff(lowest)))
    return bool(lowest[0] >= ZERO_GAP_STEPS * step)


def _duplicate_findings(frame: pd.DataFrame) -> list[Finding]:
    count = int(frame.duplicated().sum())
    if not count:
        return []
    return [
        Finding(
            "warning",
            f"{count} rows are exact copies of other rows.",
            "They are kept. If they are copies by mistake, remove them: a copy in "
            "both training and test makes the score look better than it is.",
        )
    ]


def _target_findings(
    frame: pd.DataFrame, target: str, kinds: Mapping[str, str]
) -> list[Finding]:
    task = target_task(frame, target)
    findings = []
    labeled = frame[frame[target].notna()]
    features = [
        c for c in frame.columns if c != target and kinds.get(c) in FEATURE_KINDS
    ]
    if len(labeled) < 10 * max(1, len(features)):
        findings.append(
            Finding(
                "warning",
                f"{len(labeled)} rows for {len(features)} input columns is few.",
                "Results will vary a lot between runs; more rows (10 per input column or "
                "more) or fewer columns help.",
            )
        )
    if task == "classification":
        findings += _imbalance_findings(labeled[target])
    findings += _leakage_findings(labeled, target, features, task)
    return findings


def _imbalance_findings(labels: pd.Series) -> list[Finding]:
    counts = labels.astype(str).value_counts()
    if len(counts) < 2 or counts.iloc[-1] / counts.iloc[0] >= 0.5:
        return []
    rare = counts.index[-1]
    return [
        Finding(
            "warning",
            f"Classes are imbalanced: `{rare}` has {counts.iloc[-1]} rows, `{counts.index[0]}` "
            f"has {counts.iloc[0]}.",
            "The app weights the rare classes up during training; judge the model by "
            "balanced accuracy, not plain accuracy.",
        )
    ]


def _leakage_findings(
    frame: pd.DataFrame, target: str, features: list[str], task: str
) -> list[Finding]:
    if len(frame) < 20:
        return []
    sample = frame.sample(min(len(frame), 5000), random_state=0)
    findings = []
    for column in features[:200]:
        score = _single_feature_score(sample[column], sample[target], task)
        if score >= 0.98:
            findings.append(
                Finding(
                    "warning",
                    f"`{column}` alone predicts `{target}` almost perfectly (score {score:.2f}).",
                    "This is often a leak: a column that is only known after the answer. "
                    f"Set `{column}` to 'identifier' to leave it out unless it is truly "
                    "available when you predict.",
                )
            )
    return findings


def _single_feature_score(feature: pd.Series, target: pd.Series, task: str) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if pd.api.types.is_numeric_dtype(feature):
        x = feature.fillna(feature.median()).to_frame()
    else:
        x = feature.astype(str).astype("category").cat.codes.to_frame()
    if task == "classification":
        y = target.astype(str)
        if y.value_counts().min() < 3:
            return 0.0
        model, scoring = (
            DecisionTreeClassifier(max_depth=4, random_state=0),
            "balanced_accuracy",
        )
    else:
        model, scoring, y = (
            DecisionTreeRegressor(max_depth=6, random_state=0),
            "r2",
            target,
        )
    return float(cross_val_score(model, x, y, cv=3, scoring=scoring).mean())
