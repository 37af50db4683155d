"""Bringing a downloaded bundle back in as a run, after checking that it is safe.

The zip's entries go through `core.archive.check_entries`, its metadata.json is
checked key by key, and its model is loaded with Keras' safe mode on (a model with
custom code or a Lambda layer is refused in one sentence).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

from core import archive, export, runs
from core.catalog import get_template
from core.errors import DataError, RunError, TemplateError, first_line
from core.templates import checks

IMPORTED_REPORT_KEYS = (  # metadata keys that become the imported run's report
    "metrics",
    "baseline",
    "reference",
    "baselines",
    "summary",
    "verdict",
    "reference_comparison",
)
METADATA_ONLY_KEYS = (
    "format",
    "run_id",
    "template",
    "dataset",
    "params",
    *IMPORTED_REPORT_KEYS,
    "versions",
    "exported_at",
)
MAX_BUNDLE_FILES = 20
MAX_BUNDLE_UNPACKED_BYTES = 512 * 1024 * 1024
BUNDLE_LIMITS = archive.Limits(
    MAX_BUNDLE_FILES, MAX_BUNDLE_UNPACKED_BYTES, archive.MAX_COMPRESSION_RATIO
)
BUNDLE_MEMBERS = ("model.keras", "metadata.json", "README.md", "predict.py")
_COMMON_SCHEMA = {
    "task": (checks.is_text, "a task name"),
    "schema": (
        checks.are_features,
        "a list of input columns, each with a name and kind (the column type)",
    ),
    "params": (lambda v: isinstance(v, dict), "an object of training settings"),
}


def import_bundle(data: bytes, name: str) -> str:
    """Imports a bundle zip as a new completed run, after checking it is safe.

    Args:
        data: the uploaded bytes.
        name: the uploaded file's name (display only, never a path).

    Returns:
        The new run id.

    Raises:
        DataError: if it is not a safe Predictive Studio bundle or its model cannot be
            loaded in safe mode (e.g. it holds a Lambda layer).
    """
    digest = hashlib.sha256(data).hexdigest()
    for run_id in runs.list_runs():
        if runs.read_spec(run_id).get("extra", {}).get("bundle_sha256") == digest:
            return run_id
    members = _read_bundle_members(data, name)
    metadata = _parse_metadata(members["metadata.json"], name)
    spec = runs.RunSpec(
        template=metadata["template"],
        dataset_id="",
        target=metadata.get("target"),
        params=metadata.get("params", {}),
        dataset_name=f"imported from {Path(name).name[:100]}",
        extra={"bundle_sha256": digest},
    )
    run_id = runs.create_run(spec)
    _store_imported_model(run_id, members["model.keras"], metadata, name)
    folder = runs.run_dir(run_id)
    info = {k: v for k, v in metadata.items() if k not in METADATA_ONLY_KEYS}
    runs.write_json_atomic(folder / runs.INFO_FILE, info)
    runs.write_json_atomic(
        folder / runs.EVALUATION_FILE,
        {k: metadata.get(k, {}) for k in IMPORTED_REPORT_KEYS},
    )
    runs.write_status(run_id, state="completed", message="Imported bundle.")
    return run_id


def _store_imported_model(
    run_id: str, model_bytes: bytes, metadata: dict[str, Any], name: str
) -> None:
    """Writes the bundle's model into the run (whole or not at all) and checks it.

    Raises:
        DataError: if the model does not load in safe mode or does not fit its
            metadata; the run folder is removed first.
    """
    folder = runs.run_dir(run_id)
    partial = folder / f".{runs.MODEL_FILE}.part"
    try:
        partial.write_bytes(model_bytes)
        os.replace(partial, folder / runs.MODEL_FILE)
        model = runs.load_model(run_id)
    except Exception as err:  # noqa: BLE001  whatever the file holds, refuse it cleanly
        shutil.rmtree(folder)
        raise DataError(
            f"The model in `{name}` is refused: {refusal_reason(err)}"
        ) from None
    mismatch = model_mismatch(model, metadata)
    if mismatch:
        shutil.rmtree(folder)
        raise DataError(
            f"The model in `{name}` does not fit its metadata.json: {mismatch} "
            "Export the bundle again from Predictive Studio."
        )


def refusal_reason(err: Exception) -> str:
    """Says in plain words why Keras (in safe mode) would not load a model file.

    `err` is what Keras raised, or the RunError of `runs.load_model` (its cause is
    what Keras raised, if Keras got to read the file).
    """
    if isinstance(err, RunError):
        if err.__cause__ is None:
            return "its model.keras is damaged or not a Keras model file."
        err = err.__cause__
    text = str(err)
    custom = re.search(
        r"[Cc]ould not (?:locate|deserialize) (?:class|function) '?([\w.]+)", text
    )
    if "Lambda" in text:
        return (
            "it contains a Lambda layer, which could run code; only models without "
            "custom code are accepted."
        )
    if custom:
        return (
            f"it uses `{custom.group(1)}`, which is not part of Keras (custom code); "
            "only models without custom code are accepted."
        )
    if "safe_mode" in text or "arbitrary code" in text:
        return (
            "it asks to run code while loading, which safe mode forbids; only models "
            "without custom code are accepted."
        )
    if "File not found" in text or "zip" in text.lower() or isinstance(err, OSError):
        return "its model.keras is damaged or not a Keras model file."
    return f"it cannot be loaded in safe mode ({first_line(err, 300)})."


def model_mismatch(model: Any, metadata: dict[str, Any]) -> str:
    """Returns what in the model's shape contradicts the metadata ("" if it fits)."""
    try:
        outputs = model.outputs[0].shape
    except (AttributeError, IndexError, TypeError, ValueError):
        return "it has no defined inputs and outputs."
    classes = metadata.get("class_names")
    if classes is not None and outputs[-1] != len(classes):
        return f"it gives {outputs[-1]} outputs for {len(classes)} classes."
    return get_template(metadata["template"]).model_mismatch(model, metadata)


def _read_bundle_members(data: bytes, name: str) -> dict[str, bytes]:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DataError(
            f"`{name}` is not a zip file. Upload the bundle .zip exported "
            "from Predictive Studio."
        )
    with archive.open_zip(data, name) as bundle:
        entries = bundle.infolist()
        archive.check_zip_entries(entries, name, BUNDLE_LIMITS)
        present = {e.filename: e for e in entries}
        missing = [m for m in ("model.keras", "metadata.json") if m not in present]
        if missing:
            raise DataError(
                f"`{name}` is not a Predictive Studio bundle: it lacks {missing}."
            )
        return {
            m: archive.read_entry(bundle, present[m], name)
            for m in ("model.keras", "metadata.json")
        }


def _parse_metadata(raw: bytes, name: str) -> dict[str, Any]:
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise DataError(f"`{name}` has an unreadable metadata.json.") from None
    required = ("format", "template", "task", "schema")
    if (
        not isinstance(metadata, dict)
        or metadata.get("format") != export.BUNDLE_FORMAT
        or any(k not in metadata for k in required)
    ):
        raise DataError(
            f"`{name}` is not a Predictive Studio bundle (metadata.json lacks "
            f"{list(required)})."
        )
    if not isinstance(metadata["template"], str):
        raise DataError(_bad_key(name, "template", "a template name"))
    try:
        get_template(metadata["template"])
    except TemplateError as err:  # the bundle, not a setting, is what is wrong
        raise DataError(f"`{name}` was made by another app: {err}") from None
    check_metadata(metadata, name)
    return metadata


# Every key the predict path of every template reads (each template adds its own:
# `Template.metadata_checks`), with its check and the words that say what was expected.


def check_metadata(metadata: dict[str, Any], name: str) -> None:
    """Checks every metadata key the template's predict path reads, with its type.

    Raises:
        DataError: naming the first missing or wrong key, and what was expected.
    """
    template = get_template(metadata["template"])
    if metadata["task"] != template.task:
        raise DataError(_bad_key(name, "task", f"{template.task!r}"))
    schema = {**_COMMON_SCHEMA, **template.metadata_checks}
    for key, (is_valid, expected) in schema.items():
        if key not in metadata:
            raise DataError(
                f"`{name}` has an incomplete metadata.json: `{key}` is missing "
                f"(expected {expected}). Export the bundle again from Predictive Studio."
            )
        if not is_valid(metadata[key]):
            raise DataError(_bad_key(name, key, expected, metadata[key]))
    conflict = template.metadata_conflict(metadata)
    if conflict:
        raise DataError(_bad_key(name, *conflict))


def _bad_key(name: str, key: str, expected: str, received: Any = None) -> str:
    shown = "" if received is None else f" Received: {key}={_short(received)}."
    return (
        f"`{name}` has a wrong metadata.json: `{key}` should be {expected}.{shown} "
        "Export the bundle again from Predictive Studio."
    )


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
