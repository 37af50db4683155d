"""Pre-trained ImageNet weights for the picture backbones: find, download or install them.

The files and their checksums are the ones Keras' own `keras.applications` download
(`get_file` with the same file names and hashes), so a file fetched here is the file
Keras would have fetched, in the same cache (`$KERAS_HOME/models`, else `~/.keras/models`).
The base URL can be pointed elsewhere (a mirror, or a local server in tests) with the
environment variable `PREDICTIVE_STUDIO_WEIGHTS_URL`. A computer without internet
takes the file from a person instead (`install`: an upload, or a copied file), checked
against the same checksum before it is kept.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core import workspace
from core.errors import WeightsError

logger = logging.getLogger(__name__)

WEIGHTS_URL_ENV = "PREDICTIVE_STUDIO_WEIGHTS_URL"
TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 16
WORKSPACE_FOLDER = "weights"
INSTALL_COMMAND = "python -m core weights install FILE"
Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


@dataclass(frozen=True)
class Backbone:
    """A keras.applications network whose ImageNet no-top weights the app can use."""

    name: str  # our parameter value, stored in runs: never rename it
    keras_class: str
    file_name: str
    base_url: str
    file_hash: str  # md5 (32 hex digits) or sha256 (64), as in keras.applications


BACKBONES = {
    b.name: b
    for b in (
        Backbone(
            "mobilenet_v3_small",
            "MobileNetV3Small",
            "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            "https://storage.googleapis.com/tensorflow/keras-applications/"
            "mobilenet_v3/",
            "d3e8ec802a04aa4fc771ee12a9a9b836",
        ),
        Backbone(
            "efficientnet_b0",
            "EfficientNetB0",
            "efficientnetb0_notop.h5",
            "https://storage.googleapis.com/keras-applications/",
            "50bc09e76180e00e4465e1a485ddc09d",
        ),
    )
}


# The network the picture template's "auto" uses when its weights are on this computer.
AUTO = "mobilenet_v3_small"


def cache_folders() -> list[Path]:
    """Where weights are looked for: the Keras caches, then the workspace."""
    homes = [os.environ.get("KERAS_HOME", ""), "~/.keras", "/tmp/.keras"]
    caches = [Path(h).expanduser() / "models" for h in homes if h]
    return [*caches, workspace.root() / WORKSPACE_FOLDER]


def find_cached(name: str) -> Path | None:
    """Returns the path of a backbone's weights file on this computer, or None."""
    file_name = backbone(name).file_name
    for folder in cache_folders():
        if (folder / file_name).is_file():
            return folder / file_name
    return None


def readiness() -> dict[str, Path | None]:
    """Each backbone's weights file on this computer (None: not downloaded)."""
    return {name: find_cached(name) for name in BACKBONES}


def backbone(name: str) -> Backbone:
    """Returns the backbone called `name`.

    Raises:
        WeightsError: if there is no such backbone.
    """
    if name not in BACKBONES:
        raise WeightsError(
            f"Invalid value for argument `name`. Expected one of {list(BACKBONES)}. "
            f"Received: name={name!r}"
        )
    return BACKBONES[name]


def weights_url(name: str) -> str:
    """The download address of a backbone's weights (Keras' own, unless overridden)."""
    entry = backbone(name)
    base = os.environ.get(WEIGHTS_URL_ENV) or entry.base_url
    return base.rstrip("/") + "/" + entry.file_name


def fetch(
    name: str,
    progress: Progress | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Downloads a backbone's weights into the Keras cache unless already there.

    The file is written to a temporary name beside its final place, checked (size and
    checksum), then renamed, so a broken or cut-short download never leaves a file that
    looks usable. Where the Keras cache cannot be written, the workspace is used.

    Args:
        name: a key of `BACKBONES`, e.g. "mobilenet_v3_small".
        progress: called with (bytes so far, total bytes or None) as data arrives.
        timeout: seconds to wait for the server at each step.

    Returns:
        The path of the checked weights file.

    Raises:
        WeightsError: if the name is unknown, the server cannot be reached (offline),
            answers with an error, stops early or sends a file that fails its checksum.
    """
    cached = find_cached(name)
    if cached is not None:
        return cached
    entry, url = backbone(name), weights_url(name)
    folder = _writable_cache()
    target = folder / entry.file_name
    partial = folder / f".{entry.file_name}.{os.getpid()}.part"
    try:
        _download(url, partial, entry, progress, timeout)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("Downloaded %s weights to %s", entry.keras_class, target)
    return target


def fetch_all(
    names: Iterable[str], progress: Callable[[str, int, int | None], None] | None = None
) -> dict[str, Path]:
    """Fetches several backbones' weights; `progress` also gets the backbone's name."""
    paths = {}
    for name in names:
        report = (lambda d, t, n=name: progress(n, d, t)) if progress else None
        paths[name] = fetch(name, report)
    return paths


def install(name: str | None, data: bytes) -> Path:
    """Keeps a weights file a person brought (an upload, a copied file) in the Keras cache.

    The bytes are checked against the checksum Keras publishes before anything is
    written, and nothing ever loads them: a file that does not match is refused. A
    matching file is stored under the backbone's own file name (never a name that came
    with the upload), through a temporary name, so no half-written file looks usable.

    Args:
        name: the backbone the file should be (a key of `BACKBONES`), or None for
            whichever backbone's checksum it matches.
        data: the file's content.

    Returns:
        The path of the stored weights file.

    Raises:
        WeightsError: if the name is unknown, or the bytes are not the expected file.
    """
    candidates = [backbone(name)] if name is not None else list(BACKBONES.values())
    entry = next((e for e in candidates if _checksum(e, data) == e.file_hash), None)
    if entry is None:
        raise WeightsError(_not_the_file(candidates))
    folder = _writable_cache()
    target = folder / entry.file_name
    partial = folder / f".{entry.file_name}.{os.getpid()}.part"
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("Installed %s weights at %s", entry.keras_class, target)
    return target


def _checksum(entry: Backbone, data: bytes) -> str:
    """The digest of `data` in the kind `entry.file_hash` is (sha256 or md5)."""
    digest = hashlib.sha256() if len(entry.file_hash) == 64 else hashlib.md5()
    digest.update(data)
    return digest.hexdigest()


def _not_the_file(candidates: list[Backbone]) -> str:
    wanted = " or ".join(
        f"`{e.file_name}` (the {e.keras_class} weights) from {weights_url(e.name)}"
        for e in candidates
    )
    return (
        "That file is not the pre-trained network's weights file: its checksum does "
        f"not match the one Keras publishes, so it was not kept. Expected {wanted}."
    )


def _writable_cache() -> Path:
    for folder in (cache_folders()[0], workspace.root() / WORKSPACE_FOLDER):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise WeightsError(
        f"Could not write the weights anywhere: neither the Keras cache "
        f"({cache_folders()[0]}) nor the workspace can be written."
    )


def _download(
    url: str,
    path: Path,
    entry: Backbone,
    progress: Progress | None,
    timeout: float,
) -> None:
    """Streams `url` into `path`, then checks the size and the checksum."""
    digest = hashlib.sha256() if len(entry.file_hash) == 64 else hashlib.md5()
    done, total = 0, None
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout) as answer,
            open(path, "wb") as out,
        ):
            length = answer.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while chunk := answer.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as err:
        raise WeightsError(_failed(entry, f"the server answered {err.code}")) from None
    except urllib.error.URLError as err:
        raise WeightsError(_offline(entry, err.reason)) from None
    except http.client.IncompleteRead as err:
        done += len(err.partial)
        raise WeightsError(_cut_short(entry, done, total)) from None
    except (TimeoutError, OSError) as err:
        raise WeightsError(_offline(entry, err)) from None
    if total is not None and done != total:
        raise WeightsError(_cut_short(entry, done, total))
    if digest.hexdigest() != entry.file_hash:
        raise WeightsError(
            _failed(
                entry,
                "the file that arrived is damaged (its checksum does not match the "
                "one Keras publishes)",
            )
        )


def _offline(entry: Backbone, reason: object) -> str:
    """The plain sentence for a server that cannot be reached (the details go to the log)."""
    logger.info("Could not reach %s: %s", weights_url(entry.name), reason)
    return (
        "This computer cannot reach the internet (or the download server), so the "
        f"pre-trained {entry.keras_class} network could not be downloaded. Nothing was "
        f"saved. {_upload_instead(entry)}"
    )


def _upload_instead(entry: Backbone) -> str:
    return (
        f"Upload the file instead: `{entry.file_name}` from {weights_url(entry.name)}, "
        "downloaded on a computer that is online (or, in a terminal here, "
        f"`{INSTALL_COMMAND}`)."
    )


def _cut_short(entry: Backbone, done: int, total: int | None) -> str:
    expected = f" of {total:,}" if total else ""
    return _failed(entry, f"the download stopped after {done:,}{expected} bytes")


def _failed(entry: Backbone, why: str) -> str:
    return (
        f"Could not download the pre-trained {entry.keras_class} weights: {why}. "
        "Nothing was saved. Pictures still train with a small network from scratch. "
        f"{_upload_instead(entry)}"
    )
