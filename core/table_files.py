"""Table files other than CSV: Excel, Parquet and JSON lines, stored as the same CSV.

A table arrives as a `.csv` or `.tsv` (read as is: `table_reading` finds the tab), an
Excel workbook (`.xlsx`, first sheet), a Parquet file or JSON lines (`.jsonl`,
`.ndjson`). `to_csv_bytes` writes the last three as CSV bytes, so every table is
stored, checked and trained the same way; a file it cannot read gets one sentence.
The name only picks the reader by its ending: it is never a path.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

import pandas as pd

from core.errors import DataError

TEXT_TYPES = ("csv", "tsv")
CONVERTED_TYPES = ("xlsx", "parquet", "jsonl", "ndjson")
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
    if kind == "xls":
        raise DataError(
            f"`{name}` is an old Excel 97-2003 workbook (.xls), which is not read here. "
            "Open it in your spreadsheet and save it as .xlsx or .csv."
        )
    raise DataError(
        f"`{name}` is not a table file this app reads. Upload one of: "
        + ", ".join(f".{t}" for t in UPLOAD_TYPES)
        + "."
    )


def to_csv_bytes(name: str, data: bytes, max_bytes: int) -> tuple[bytes, list[str]]:
    """The bytes to store for an uploaded table, and notes on how it was read.

    CSV, TSV and files of any other ending come back unchanged (the CSV reader checks
    them); Excel, Parquet and JSON lines are read and written as CSV.

    Args:
        name: the uploaded file's name; only its ending is used.
        data: the file's bytes.
        max_bytes: the largest table to store, also as CSV.

    Raises:
        DataError: if the file is corrupt, holds no table, or is too large as CSV.
    """
    kind = file_type(name)
    if kind not in CONVERTED_TYPES:
        return data, []
    readers = {"xlsx": _read_xlsx, "parquet": _read_parquet}
    frame, notes = readers.get(kind, _read_json_lines)(name, data, max_bytes)
    if frame.columns.empty:
        raise DataError(f"`{name}` holds no columns. Choose a file with a table in it.")
    csv = frame.to_csv(index=False).encode("utf-8")
    if len(csv) > max_bytes:
        raise DataError(
            f"`{name}` is {len(csv) / 1e6:.0f} MB as a table; the limit is "
            f"{max_bytes / 1e6:.0f} MB. Use a sample of the rows."
        )
    return csv, notes


def _read_xlsx(name: str, data: bytes, max_bytes: int) -> tuple[pd.DataFrame, list]:
    """The first sheet of a workbook; the notes name the others."""
    refusal = (
        f"`{name}` could not be read as an Excel workbook (.xlsx): the file is damaged "
        "or is not a workbook. Open it in your spreadsheet and save it again as .xlsx."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_UNPACK_RATIO * max_bytes:
            raise DataError(_too_big(name, unpacked, max_bytes))
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as workbook:
            sheets = [str(sheet) for sheet in workbook.sheet_names]
            frame = workbook.parse(sheets[0])
    except DataError:
        raise
    except Exception:  # openpyxl raises many kinds on a damaged file
        raise DataError(refusal) from None
    notes = []
    if len(sheets) > 1:
        others = ", ".join(f"`{sheet}`" for sheet in sheets[1:])
        notes.append(
            f"The workbook has {len(sheets)} sheets; the first, `{sheets[0]}`, is used "
            f"(the others: {others}). To use another, move it first and upload again."
        )
    return frame, notes


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
