"""Reading a CSV as people write it: encoding, delimiter, missing markers, numbers.

Spreadsheet exports differ: UTF-8, UTF-16 or Windows-1252; `,` `;` tab or `|`;
`1,234.5` or, in a `;` file, the European `1.234,5`. `read_csv_bytes` reads them all
into one DataFrame or says in one sentence why it cannot. pandas only.
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd

from core.errors import DataError

MAX_COLUMNS = 2000
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
DELIMITERS = ",;\t|"
# Numbers as people write them: 1,234.5 / 1234.5 (point decimal) or 1.234,5 / 1234,5 (comma).
_POINT_NUMBER = r"[+-]?(\d{1,3}([,'\u00a0 ]\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?"
_COMMA_NUMBER = r"[+-]?(\d{1,3}([.'\u00a0 ]\d{3})+|\d+)(,\d+)?"


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
    for column in string_columns(frame):
        frame[column] = _parse_written_numbers(frame[column], sep)
    return frame.reset_index(drop=True)


def string_columns(frame: pd.DataFrame) -> list[str]:
    """Returns the columns still held as text (object or string dtype), in order."""
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
