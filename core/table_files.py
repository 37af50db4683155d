"""Table files other than CSV: workbooks, Parquet and JSON lines, stored as the same CSV.

A table arrives as a `.csv` or `.tsv` (read as is: `table_reading` finds the tab), a
workbook (Excel `.xlsx` through openpyxl; old Excel `.xls`, binary `.xlsb` and
OpenDocument `.ods` through calamine; one sheet, the first unless one is named), a
Parquet file or JSON lines (`.jsonl`, `.ndjson`). `to_csv_bytes` writes all but the
first two as CSV bytes, so every table is stored, checked and trained the same way; a
file it cannot read gets one sentence. The name only picks the reader by its ending:
it is never a path.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

import pandas as pd

from core.errors import DataError

TEXT_TYPES = ("csv", "tsv")
WORKBOOK_ENGINES = {
    "xlsx": "openpyxl",
    "xls": "calamine",
    "xlsb": "calamine",
    "ods": "calamine",
}
CONVERTED_TYPES = (*WORKBOOK_ENGINES, "parquet", "jsonl", "ndjson")
UPLOAD_TYPES = (*TEXT_TYPES, *CONVERTED_TYPES)
# Unpacked, an .xlsx or a Parquet file may be far larger than its bytes: refuse a
# file that would unpack to more than this many times the stored-table limit.
MAX_UNPACK_RATIO = 4


def file_type(name: str) -> str:
    """The lower-case ending of a file name without the dot, e.g. "xlsx" ("" if none)."""
    return PurePath(str(name)).suffix.lower().lstrip(".")


def check_upload_name(name: str) -> None:
    """Refuses a file whose ending names no table format this app reads.

    Raises:
        DataError: naming the formats that are read.
    """
    kind = file_type(name)
    if kind in UPLOAD_TYPES:
        return
    raise DataError(
        f"`{name}` is not a table file this app reads. Upload one of: "
        + ", ".join(f".{t}" for t in UPLOAD_TYPES)
        + "."
    )


def to_csv_bytes(
    name: str, data: bytes, max_bytes: int, sheet: str | None = None
) -> tuple[bytes, list[str]]:
    """The bytes to store for an uploaded table, and notes on how it was read.

    CSV, TSV and files of any other ending come back unchanged (the CSV reader checks
    them); workbooks, Parquet and JSON lines are read and written as CSV.

    Args:
        name: the uploaded file's name; only its ending is used.
        data: the file's bytes.
        max_bytes: the largest table to store, also as CSV.
        sheet: the workbook sheet to read; None reads the first.

    Raises:
        DataError: if the file is corrupt, holds no table, has no sheet `sheet`, or
            is too large as CSV.
    """
    kind = file_type(name)
    if kind not in CONVERTED_TYPES:
        return data, []
    if kind in WORKBOOK_ENGINES:
        frame, notes = _read_workbook(name, data, max_bytes, sheet)
    else:
        reader = _read_parquet if kind == "parquet" else _read_json_lines
        frame, notes = reader(name, data, max_bytes)
    if frame.columns.empty:
        raise DataError(f"`{name}` holds no columns. Choose a file with a table in it.")
    csv = frame.to_csv(index=False).encode("utf-8")
    if len(csv) > max_bytes:
        raise DataError(
            f"`{name}` is {len(csv) / 1e6:.0f} MB as a table; the limit is "
            f"{max_bytes / 1e6:.0f} MB. Use a sample of the rows."
        )
    return csv, notes


def sheet_names(name: str, data: bytes) -> list[str]:
    """The sheets of a workbook in their order; [] for a file of another type.

    Raises:
        DataError: if the workbook is damaged.
    """
    kind = file_type(name)
    if kind not in WORKBOOK_ENGINES:
        return []
    try:
        with pd.ExcelFile(io.BytesIO(data), engine=WORKBOOK_ENGINES[kind]) as book:
            return [str(sheet) for sheet in book.sheet_names]
    except Exception:  # openpyxl and calamine raise many kinds on a damaged file
        raise DataError(_unreadable_workbook(name)) from None


def _read_workbook(
    name: str, data: bytes, max_bytes: int, sheet: str | None
) -> tuple[pd.DataFrame, list]:
    """One sheet of a workbook (the first if `sheet` is None); the notes name the rest."""
    if zipfile.is_zipfile(io.BytesIO(data)):  # .xlsx, .xlsb and .ods are zips
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_UNPACK_RATIO * max_bytes:
            raise DataError(_too_big(name, unpacked, max_bytes))
    sheets = sheet_names(name, data)
    if not sheets:
        raise DataError(f"`{name}` holds no sheets. Choose a file with a table in it.")
    chosen = sheets[0] if sheet is None else sheet
    if chosen not in sheets:
        raise DataError(
            f"Invalid value for argument `sheet`: `{name}` has no sheet `{sheet}`. "
            f"Its sheets: {', '.join(f'`{s}`' for s in sheets)}. Received: {sheet!r}"
        )
    try:
        frame = pd.read_excel(
            io.BytesIO(data),
            sheet_name=chosen,
            engine=WORKBOOK_ENGINES[file_type(name)],
        )
    except Exception:
        raise DataError(_unreadable_workbook(name)) from None
    if frame.columns.empty:
        raise DataError(
            f"The sheet `{chosen}` of `{name}` is empty. Pick the sheet with the table."
        )
    notes = []
    if len(sheets) > 1:
        others = ", ".join(f"`{s}`" for s in sheets if s != chosen)
        notes.append(
            f"The workbook has {len(sheets)} sheets; `{chosen}` is used (the others: "
            f"{others}). To use another, pick it when uploading (CLI: `--sheet`)."
        )
    return frame, notes


def _unreadable_workbook(name: str) -> str:
    kind = file_type(name)
    return (
        f"`{name}` could not be read as a workbook (.{kind}): the file is damaged, "
        "protected by a password, or is not a workbook. Open it in your spreadsheet "
        "and save it again as .xlsx or .csv."
    )


def _read_parquet(name: str, data: bytes, max_bytes: int) -> tuple[pd.DataFrame, list]:
    import pyarrow.parquet as pq  # comes with streamlit; imported only when needed

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        unpacked = sum(
            parquet.metadata.row_group(i).total_byte_size
            for i in range(parquet.metadata.num_row_groups)
        )
        if unpacked > MAX_UNPACK_RATIO * max_bytes:
            raise DataError(_too_big(name, unpacked, max_bytes))
        frame = parquet.read().to_pandas()
    except DataError:
        raise
    except Exception:  # pyarrow raises ArrowInvalid, OSError, ... on a damaged file
        raise DataError(
            f"`{name}` could not be read as a Parquet file: the file is damaged or is "
            "not Parquet. Write it again (e.g. pandas `to_parquet`)."
        ) from None
    return frame, []


def _read_json_lines(
    name: str, data: bytes, max_bytes: int
) -> tuple[pd.DataFrame, list]:
    try:
        frame = pd.read_json(  # precise_float: 0.1257302210933933 stays itself
            io.BytesIO(data),
            lines=True,
            dtype=False,  # keeps values as written: no dates, no guessed types
            precise_float=True,
        )
    except ValueError:
        raise DataError(
            f"`{name}` could not be read as JSON lines: each line must be one JSON "
            'object, such as {"age": 52, "city": "Oslo"}.'
        ) from None
    return frame, []


def _too_big(name: str, unpacked: int, max_bytes: int) -> str:
    return (
        f"`{name}` unpacks to {unpacked / 1e6:.0f} MB; the limit is "
        f"{MAX_UNPACK_RATIO * max_bytes / 1e6:.0f} MB. Use a sample of the rows."
    )
