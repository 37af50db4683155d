"""Reading uploaded zips without letting `zipfile` errors reach a person.

Damaged archives fail in many ways (encrypted entries, bad CRC, compression methods
Python lacks, a central directory that lies). Each becomes one `DataError` sentence
that names the upload and the entry, and nothing is read before every entry passed.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from core.data import DataError

SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
# What zipfile and its decompressors raise on damaged data (RuntimeError: encrypted,
# NotImplementedError: unknown method, the others: corrupt streams or headers).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
)


@contextmanager
def open_zip(content: bytes, name: str) -> Iterator[zipfile.ZipFile]:
    """Opens zip bytes; a damaged directory becomes a `DataError` naming `name`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except ZIP_ERRORS:
        raise DataError(
            f"`{name}` is a damaged zip file (its table of contents cannot be read). "
            "Zip the files again and upload the new zip."
        ) from None
    with archive:
        yield archive


def check_readable(entry: zipfile.ZipInfo, name: str) -> None:
    """Refuses entries we could never read: encrypted, or an unknown compression.

    Raises:
        DataError: naming the upload and the entry, and what to do.
    """
    if entry.flag_bits & 0x1:
        raise DataError(
            f"`{name}` holds a password-protected entry ({entry.filename!r}). "
            "Zip the files again without a password."
        )
    if entry.compress_type not in SUPPORTED_METHODS:
        raise DataError(
            f"`{name}` uses a compression method this app cannot read (method "
            f"{entry.compress_type} for {entry.filename!r}). Zip the files again with "
            "the usual 'deflate' compression."
        )


def read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, name: str) -> bytes:
    """Reads one entry, never more than its declared size (headers can lie).

    Raises:
        DataError: if the entry is damaged (bad CRC, corrupt data, wrong size).
    """
    check_readable(entry, name)
    try:
        with archive.open(entry) as handle:
            content = handle.read(entry.file_size + 1)
    except ZIP_ERRORS:
        content = None
    if content is None or len(content) > entry.file_size:
        raise DataError(
            f"`{name}` is damaged: the entry {entry.filename!r} cannot be read (its "
            "checksum or data is wrong). Zip the files again and upload the new zip."
        )
    return content
