"""Uploaded zips and folders, read safely: no `zipfile` error ever reaches a person.

Damaged archives fail in many ways (encrypted entries, bad CRC, compression methods
Python lacks, a central directory that lies). Each becomes one `DataError` sentence
that names the upload and the entry, and nothing is read before every entry passed.
Unsafe uploads (paths that leave the upload, symbolic links, zip bombs, too many
files or bytes) are refused whole. Hidden files and `__MACOSX` are left out.

`check_zip_entries` is the one safety check of every zip this app opens: picture and
text data sets, text corpora and model bundles. They differ only in their `Limits`.
"""

from __future__ import annotations

import io
import lzma
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import DataError

MAX_FILES = 20_000
MAX_UNPACKED_BYTES = 1024**3  # 1 GiB
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_BYTES = 2**20  # entries above this size are checked for their ratio
IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini"}
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


@dataclass(frozen=True)
class Limits:
    """What one upload may unpack to; the caps that differ between uploads (data sets, bundles).

    Attributes:
        files: the most files it may hold (folders and hidden entries not counted).
        unpacked_bytes: the most bytes its files may unpack to, hidden ones included.
        compression_ratio: the most an entry over 1 MiB may be compressed; above it,
            the entry is a 'zip bomb'.
    """

    files: int
    unpacked_bytes: int
    compression_ratio: float


def data_set_limits() -> Limits:
    """The caps of a data set upload: `MAX_FILES`, `MAX_UNPACKED_BYTES` and ratio."""
    return Limits(MAX_FILES, MAX_UNPACKED_BYTES, MAX_COMPRESSION_RATIO)


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


def safe_member_parts(raw_name: str, upload: str) -> tuple[str, ...] | None:
    """Checks one member name of an upload and splits it into path parts.

    Args:
        raw_name: the name inside the zip or folder (`/` or `\\` separated).
        upload: the upload's name, for the error message.

    Returns:
        The name's parts without empty or `.` parts, or None for an entry to leave
        out (hidden, `__MACOSX`, `Thumbs.db`, `desktop.ini`).

    Raises:
        DataError: if the name is absolute, climbs out with `..`, or holds `:` (a
            drive letter) or NUL.
    """
    text = raw_name.replace("\\", "/")
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or ":" in text or "\x00" in text:
        raise DataError(
            f"`{upload}` contains an unsafe path ({raw_name!r}) that points outside the "
            "upload; refusing the whole upload."
        )
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if not parts or any(p.startswith(".") or p in IGNORED_NAMES for p in parts):
        return None
    return parts


def check_upload_caps(
    count: int, total: int, upload: str, limits: Limits | None = None
) -> None:
    """Refuses an upload past its caps on files or unpacked bytes.

    Args:
        count: the files it holds.
        total: the bytes they unpack to.
        upload: the upload's name, for the error message.
        limits: its caps; `data_set_limits()` if None.

    Raises:
        DataError: if either cap is passed.
    """
    limits = limits or data_set_limits()
    if count > limits.files:
        raise DataError(
            f"`{upload}` holds {count:,} files, more than {limits.files:,} files (the "
            "limit). Upload fewer files, e.g. a sample."
        )
    if total > limits.unpacked_bytes:
        raise DataError(
            f"`{upload}` unpacks to {_size_text(total)}, more than "
            f"{_size_text(limits.unpacked_bytes)} (the limit, which also guards against "
            "'zip bombs'). Use smaller or fewer files."
        )


def _size_text(size: int) -> str:
    """A byte count for people: 1 GiB, 512 MiB, 1.3 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{round(size / scale, 1):g} {unit}"
    return f"{size:,} bytes"


def safe_members(
    files: Iterable[tuple[str, bytes]], upload: str
) -> list[tuple[str, bytes]]:
    """Checks uploaded files (relative name, bytes), e.g. a folder upload, by name.

    Args:
        files: each file's name inside the upload (`/` or `\\` separated) and bytes.
        upload: the upload's name, for the error message.

    Returns:
        (clean relative name with `/`, bytes) per file, sorted by the given name,
        hidden entries left out.

    Raises:
        DataError: if a name is unsafe or the files pass the caps.
    """
    members = []
    for raw_name, content in sorted(files, key=lambda item: item[0]):
        parts = safe_member_parts(raw_name, upload)
        if parts is not None:
            members.append(("/".join(parts), content))
    check_upload_caps(len(members), sum(len(c) for _, c in members), upload)
    return members


def read_zip_members(content: bytes, name: str) -> list[tuple[str, bytes]]:
    """Reads every file of an uploaded zip, after checking all entries first.

    Args:
        content: the zip's bytes.
        name: the upload's name (display only, never a path).

    Returns:
        (clean relative name, bytes) per file, folders and hidden entries left out.

    Raises:
        DataError: if the zip is damaged, holds an unsafe path, a symbolic link, an
            unreadable entry or a 'zip bomb' entry, or passes the caps.
    """
    with open_zip(content, name) as zipped:
        kept = check_zip_entries(zipped.infolist(), name)
        return [("/".join(parts), read_entry(zipped, e, name)) for e, parts in kept]


def check_zip_entries(
    entries: list[zipfile.ZipInfo], name: str, limits: Limits | None = None
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """The one safety check of a zip's entries, before anything is read.

    Every entry, hidden ones too, must have a safe path (see `safe_member_parts`), be
    readable (see `check_readable`), not be a symbolic link and not be compressed
    past the ratio of a 'zip bomb'. Then the files to unpack must fit the caps on
    files, and all file entries the cap on unpacked bytes.

    Args:
        entries: the zip's entries (`ZipFile.infolist()`).
        name: the upload's name, for the error message.
        limits: the caps for this upload (a data set's or a bundle's); `data_set_limits()` if None.

    Returns:
        (entry, clean path parts) of each file to unpack, in the zip's order:
        folders and hidden entries left out.

    Raises:
        DataError: naming the upload (and the entry) for the first problem found.
    """
    limits = limits or data_set_limits()
    kept = []
    for entry in entries:
        parts = _check_entry(entry, name, limits)
        if parts is not None and not entry.is_dir():
            kept.append((entry, parts))
    files = [entry for entry in entries if not entry.is_dir()]
    check_upload_caps(len(kept), sum(e.file_size for e in files), name, limits)
    return kept


def _check_entry(
    entry: zipfile.ZipInfo, name: str, limits: Limits
) -> tuple[str, ...] | None:
    parts = safe_member_parts(entry.filename, name)
    check_readable(entry, name)
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise DataError(
            f"`{name}` contains a symbolic link ({entry.filename!r}); links can point "
            "outside the upload, so the whole upload is refused."
        )
    ratio = entry.file_size / max(entry.compress_size, 1)
    if entry.file_size > RATIO_CHECKED_BYTES and ratio > limits.compression_ratio:
        raise DataError(
            f"`{name}` is a 'zip bomb': {entry.filename!r} unpacks to "
            f"{entry.file_size / 2**20:,.0f} MiB from {entry.compress_size:,} bytes; "
            "refusing it."
        )
    return parts


def read_folder_members(folder: Path) -> list[tuple[str, bytes]]:
    """Reads every file under a folder, never following symbolic links.

    Returns:
        (relative name with `/`, bytes) per file, in sorted order.

    Raises:
        DataError: if the folder passes the caps (see `check_upload_caps`); nothing
            is read then.
    """
    paths = []
    for root, dirs, names in os.walk(folder):  # os.walk does not follow links
        dirs[:] = sorted(d for d in dirs if not Path(root, d).is_symlink())
        for file_name in sorted(names):
            path = Path(root, file_name)
            if not path.is_symlink() and path.is_file():
                paths.append(path)
    total = sum(path.stat().st_size for path in paths)
    check_upload_caps(len(paths), total, folder.name)
    return [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in paths]


def strip_common_root(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Drops the folders that wrap everything (`face_mask/with_mask/a.jpg`).

    A single folder that holds files directly is kept: it is then the only class.

    Returns:
        The members with the wrapping folders taken off their names.
    """
    while members:
        roots = {n.split("/")[0] if "/" in n else None for n, _ in members}
        if len(roots) != 1 or None in roots:
            return members
        stripped = [(n.split("/", 1)[1], c) for n, c in members]
        if not any("/" in n for n, _ in stripped):
            return members  # the single folder is the only class: keep it as such
        members = stripped
    return members
