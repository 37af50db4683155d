"""Exported formats beside the bundle: SavedModel, TFLite (for phones) and ONNX.

Each export is converted in its own process (`core.formats.build`), then loaded in a
fresh process with its own runtime (`core.formats.verify`) and compared with the
Keras model on the run's recorded check inputs. Results and files are cached in the
run's `exports/` folder; a format that cannot carry a model is refused in a sentence.
This module imports no TensorFlow: pages call it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import runs
from core.errors import ExportError, RunError

EXPORTS_DIR = "exports"
CONVERT_TIMEOUT_S = 900


@dataclass(frozen=True)
class Format:
    """One way to download a model."""

    name: str
    title: str  # the format's own name, in messages and model cards
    use: str  # who runs it, in a few words
    label: str  # the heading a person reads: what it is for, then its name


FORMATS = {
    f.name: f
    for f in (
        Format(
            "bundle",
            "bundle (.keras + predict.py)",
            "Python with Keras 3",
            "For Python with Keras 3 (the model and a predict script)",
        ),
        Format(
            "savedmodel",
            "TensorFlow SavedModel",
            "TF Serving, TensorFlow",
            "For TensorFlow Serving (SavedModel)",
        ),
        Format(
            "tflite",
            "TensorFlow Lite (LiteRT)",
            "Android, iOS, small devices",
            "For phones and small devices (TensorFlow Lite)",
        ),
        Format(
            "onnx",
            "ONNX",
            "onnxruntime, C#, Java, JavaScript servers",
            "For other languages and servers (ONNX)",
        ),
    )
}
OTHER_FORMATS = ("tflite", "onnx", "savedmodel")  # below the bundle, in this order


# What `-o PATH` writes besides the zip: (the extension, the zip member it takes).
# A SavedModel is a folder, written for a path without an extension.
SINGLE_OUTPUT = {
    "bundle": (".keras", "model.keras"),
    "savedmodel": ("", "saved_model"),
    "tflite": (".tflite", "model.tflite"),
    "onnx": (".onnx", "model.onnx"),
}


def exports_dir(run_id: str) -> Path:
    """The run's folder of converted formats."""
    return runs.run_dir(run_id) / EXPORTS_DIR


def result_path(run_id: str, fmt: str) -> Path:
    return exports_dir(run_id) / f"{fmt}.json"


def download_path(run_id: str, fmt: str) -> Path:
    """The file a person downloads for `fmt` (the bundle zip for `bundle`)."""
    if fmt == "bundle":
        return runs.run_dir(run_id) / runs.BUNDLE_FILE
    return exports_dir(run_id) / f"{fmt}.zip"


def read_result(run_id: str, fmt: str) -> dict[str, Any]:
    """The last export of `fmt` for a run (`{}` if never converted)."""
    return runs.read_json(result_path(run_id, fmt))


def check_format(fmt: str) -> None:
    """Raises:
    ExportError: if `fmt` is not a known format.
    """
    if fmt not in FORMATS:
        raise ExportError(
            f"Invalid value for argument `format`. Expected one of {list(FORMATS)}. "
            f"Received: format={fmt!r}"
        )


def check_output(fmt: str, output: Path) -> None:
    """Refuses an output path whose extension fits no file of `fmt` (before converting).

    Raises:
        ExportError: for another extension, or a SavedModel folder that already holds files.
    """
    check_format(fmt)
    extension, _ = SINGLE_OUTPUT[fmt]
    suffix = output.suffix.lower()
    if suffix not in (".zip", extension):
        what = (
            f"a {extension} file"
            if extension
            else "a folder (a path without extension)"
        )
        raise ExportError(
            f"Invalid value for argument `output`. The {FORMATS[fmt].title} is written as "
            f"a .zip or as {what}. Received: output='{output}'"
        )
    if suffix == "" and (
        output.is_file() or (output.is_dir() and any(output.iterdir()))
    ):
        raise ExportError(
            f"Invalid value for argument `output`. The SavedModel folder must be new or "
            f"empty. Received: output='{output}'"
        )


def write_output(run_id: str, fmt: str, output: Path) -> None:
    """Writes a built download to `output`: the zip for `.zip`, else the model file (or
    SavedModel folder) alone that the extension names. Call `check_output` first."""
    source = download_path(run_id, fmt)
    if output.suffix.lower() == ".zip":
        shutil.copyfile(source, output)
        return
    _, member = SINGLE_OUTPUT[fmt]
    partial = output.with_name(f".{output.name}.part")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(source) as archive:
        for name in archive.namelist():
            if name == member:
                _extract(archive, name, partial)
            elif name.startswith(f"{member}/") and not name.endswith("/"):
                _extract(archive, name, partial / name[len(member) + 1 :])
    if output.is_dir():
        output.rmdir()  # checked empty
    os.replace(partial, output)


def _extract(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(name) as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)


def export_format(run_id: str, fmt: str, force: bool = False) -> dict[str, Any]:
    """Converts a run's model to `fmt` and verifies it in a fresh process (cached).

    Args:
        run_id: a finished run with a model.
        fmt: one of `FORMATS`.
        force: convert again even if a result is cached.

    Returns:
        The result: `ok`, `message`, `size_bytes`, `latency_ms`, `max_abs_diff`,
        `variants` (TFLite precisions), `inputs`/`outputs`; `refused` when the format
        cannot carry the model.

    Raises:
        ExportError: for an unknown format.
        RunError: if the run has no model.
    """
    check_format(fmt)
    if not (runs.run_dir(run_id) / runs.MODEL_FILE).is_file():
        raise RunError(f"Run `{run_id}` has no trained model to export.")
    cached = read_result(run_id, fmt)
    if (
        cached
        and not force
        and (download_path(run_id, fmt).is_file() or not cached["ok"])
    ):
        return cached
    exports_dir(run_id).mkdir(exist_ok=True)
    command = [sys.executable, "-m", "core.formats.build", run_id, fmt]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=CONVERT_TIMEOUT_S,
        cwd=Path(__file__).parents[2],  # where `core` imports from
    )
    saved = read_result(run_id, fmt)
    if result.returncode != 0 or not saved:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExportError(f"The {FORMATS[fmt].title} export failed: {tail[:300]}")
    return saved


def format_size(size: float) -> str:
    """Bytes in words: `512 B`, `36 KB`, `1.2 MB`."""
    if size < 1024:
        return f"{size:.0f} B"
    if size < 1024**2:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024**2:.1f} MB"


def describe_variant(variant: dict[str, Any], keras_score: Any = None) -> str:
    """One line for a TFLite precision: size, test score beside Keras', difference."""
    if variant.get("error"):
        return f"{variant['what']}: not possible ({variant['error']})."
    line = (
        f"{variant['file']} ({variant['what']}): {format_size(variant['size_bytes'])}"
    )
    score = variant.get("score")
    if score:
        line += f", {score[0]} {score[1]:.4g} on the test rows"
        if keras_score:
            line += f" (Keras {keras_score[1]:.4g})"
    return (
        f"{line}, largest difference {variant['max_abs_diff']:.2g}, "
        f"{variant['latency_ms']:.2f} ms a prediction."
    )
