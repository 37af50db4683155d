"""Uploaded zips and folders, read safely: no `zipfile` error ever reaches a person.

Damaged archives fail in many ways (encrypted entries, bad CRC, compression methods
Python lacks, a central directory that lies). Each becomes one `DataError` sentence
that names the upload and the entry, and nothing is read before every entry passed.
Unsafe uploads (paths that leave the data set, symbolic links, zip bombs, too many
files or bytes) are refused whole. Hidden files and `__MACOSX` are left out.
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
from pathlib import Path, PurePosixPath

from core.errors import DataError

MAX_FILES = 20_000
MAX_UNPACKED_BYTES = 1024**3  # 1 GiB
MAX_COMPRESSION_RATIO = 200
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
        DataError: if the name is absolute, climbs out with `..`, or holds `:` or NUL.
    """
    text = raw_name.replace("\\", "/")
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or ":" in text or "\x00" in text:
        raise DataError(
            f"`{upload}` contains an unsafe path ({raw_name!r}) that points outside the "
            "data set; refusing the whole upload."
        )
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if not parts or any(p.startswith(".") or p in IGNORED_NAMES for p in parts):
        return None
    return parts


def check_upload_caps(count: int, total: int, upload: str) -> None:
    """Refuses an upload past `MAX_FILES` files or `MAX_UNPACKED_BYTES` bytes.

    Args:
        count: files taken so far.
        total: their size in bytes, unpacked.
        upload: the upload's name, for the error message.

    Raises:
        DataError: if either cap is passed.
    """
    if count > MAX_FILES:
        raise DataError(
            f"`{upload}` holds more than {MAX_FILES:,} files, the limit; use a sample."
        )
    if total > MAX_UNPACKED_BYTES:
        raise DataError(
            f"`{upload}` unpacks to more than {MAX_UNPACKED_BYTES / 2**30:.0f} GiB (the "
            "limit, which also guards against 'zip bombs'); use smaller or fewer files."
        )


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
    members, total = [], 0
    for raw_name, content in sorted(files, key=lambda item: item[0]):
        parts = safe_member_parts(raw_name, upload)
        if parts is None:
            continue
        total += len(content)
        check_upload_caps(len(members) + 1, total, upload)
        members.append(("/".join(parts), content))
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
    members, total = [], 0
    with open_zip(content, name) as zipped:
        entries = zipped.infolist()
        for entry in entries:  # refuse the whole zip before reading anything
            _check_entry(entry, name)
        for entry in entries:
            parts = safe_member_parts(entry.filename, name)
            if parts is None or entry.is_dir():
                continue
            total += entry.file_size
            check_upload_caps(len(members) + 1, total, name)
            members.append(("/".join(parts), read_entry(zipped, entry, name)))
    return members


def _check_entry(entry: zipfile.ZipInfo, name: str) -> None:
    safe_member_parts(entry.filename, name)
    check_readable(entry, name)
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise DataError(
            f"`{name}` contains a symbolic link ({entry.filename!r}); links can point "
            "outside the data set, so the whole upload is refused."
        )
    ratio = entry.file_size / max(entry.compress_size, 1)
    if entry.file_size > 2**20 and ratio > MAX_COMPRESSION_RATIO:
        raise DataError(
            f"`{name}` is a 'zip bomb': {entry.filename!r} unpacks to "
            f"{entry.file_size / 2**20:,.0f} MiB from {entry.compress_size:,} bytes; "
            "refusing it."
        )


def read_folder_members(folder: Path) -> list[tuple[str, bytes]]:
    """Reads every file under a folder, never following symbolic links.

    Returns:
        (relative name with `/`, bytes) per file, in sorted order.

    Raises:
        DataError: if the folder passes the caps (see `check_upload_caps`).
    """
    files, total = [], 0
    for root, dirs, names in os.walk(folder):  # os.walk does not follow links
        dirs[:] = sorted(d for d in dirs if not Path(root, d).is_symlink())
        for file_name in sorted(names):
            path = Path(root, file_name)
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            check_upload_caps(len(files) + 1, total, folder.name)
            files.append((path.relative_to(folder).as_posix(), path.read_bytes()))
    return files


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
