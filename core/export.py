"""Models out and back in: load, predict on raw rows, bundle (verified), import safely.

Keras is imported inside functions so pages can import this module cheaply.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import archive, runs, safe_csv
from core.catalog import get_template
from core.errors import DataError, RunError, TemplateError, first_line
from core.markdown import plain
from core.templates import checks

BUNDLE_FORMAT = "predictive-studio-bundle"
CHECK_INPUT_DIR = "check_input"
CHECK_OUTPUTS_FILE = "check_outputs.csv"
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
CHECK_TOLERANCE = 1e-4
MAX_BUNDLE_FILES = 20
MAX_BUNDLE_UNPACKED_BYTES = 512 * 1024 * 1024
BUNDLE_LIMITS = archive.Limits(
    MAX_BUNDLE_FILES, MAX_BUNDLE_UNPACKED_BYTES, archive.MAX_COMPRESSION_RATIO
)
BUNDLE_MEMBERS = ("model.keras", "metadata.json", "README.md", "predict.py")


def predict_frame(
    run_id: str, frame: pd.DataFrame, model: Any = None
) -> tuple[pd.DataFrame, list[str]]:
    """Scores raw table rows with a run's model.

    Args:
        run_id: a run of a table template, with a model.
        frame: raw rows with (at least) the model's input columns.
        model: the loaded model, if the caller has it cached.

    Returns:
        The rows with `prediction` (and `probability_<class>`) columns appended, and
        warnings in plain words (e.g. extra columns that were ignored).

    Raises:
        DataError: if input columns are missing or a number column holds words.
        RunError: if a file of the run is missing or damaged.
    """
    template = get_template(runs.load_spec(run_id)["template"])
    model = model if model is not None else runs.load_model(run_id)
    return template.predict_frame(model, frame, runs.load_info(run_id))


def record_check(run_id: str, model: Any, prepared: Any) -> None:
    """Saves a few raw inputs and the live model's predictions, to verify exports later.

    The template writes inputs its bundle script accepts (a CSV, image files, ...) into
    the run's `check_input/` folder; its `predict_file` scores them with the live model.
    """
    template = get_template(runs.load_spec(run_id)["template"])
    folder = runs.run_dir(run_id) / CHECK_INPUT_DIR
    folder.mkdir(exist_ok=True)
    path = template.write_check_input(prepared, folder)
    outputs, _ = template.predict_file(model, path, dict(prepared.info))
    # Written as the bundle's predict.py writes it, so headers compare equal.
    safe_csv.to_csv(outputs, runs.run_dir(run_id) / CHECK_OUTPUTS_FILE)
    runs.write_json_atomic(folder / "input.json", {"name": path.name})


def rerecord_check(run_id: str) -> None:
    """Scores the recorded check inputs again with the run's current info.

    Called when the run's info changes what predictions say (a new decision
    threshold), so a later export is compared with what the app now predicts.
    A run without check inputs (an imported bundle) is left as it is.
    """
    folder = runs.run_dir(run_id)
    name = runs.read_json(folder / CHECK_INPUT_DIR / "input.json").get("name", "")
    if name:
        outputs, _ = predict_path(run_id, folder / CHECK_INPUT_DIR / name)
        safe_csv.to_csv(outputs, folder / CHECK_OUTPUTS_FILE)


def predict_path(
    run_id: str, path: Path, model: Any = None
) -> tuple[pd.DataFrame, list]:
    """Scores a file or folder (as the template reads it) with a run's model.

    Returns:
        The predictions table and warnings in plain words.

    Raises:
        DataError: if the input does not fit the model.
        RunError: if a file of the run is missing or damaged.
    """
    template = get_template(runs.load_spec(run_id)["template"])
    model = model if model is not None else runs.load_model(run_id)
    return template.predict_file(model, path, runs.load_info(run_id))


def bundle_path(run_id: str) -> Path:
    """Returns where a run's bundle zip is (or will be) written."""
    return runs.run_dir(run_id) / runs.BUNDLE_FILE


def read_export_check(run_id: str) -> dict[str, Any]:
    """Returns the last export verification of a run (`{}` if never exported)."""
    return runs.read_json(runs.run_dir(run_id) / runs.EXPORT_CHECK_FILE)


def build_bundle(run_id: str) -> dict[str, Any]:
    """Writes the bundle zip and verifies it in a fresh Python process.

    The bundle holds model.keras, metadata.json, a model card (README.md) and predict.py.
    Verification unzips it, runs its predict.py on rows recorded at training time and
    compares with what the live model predicted then.

    Returns:
        The check result (also written to the run): `ok`, `message`, `max_abs_diff`.

    Raises:
        RunError: if the run has no model.
    """
    folder = runs.run_dir(run_id)
    if not (folder / runs.MODEL_FILE).is_file():
        raise RunError(f"Run `{run_id}` has no trained model to export.")
    metadata = bundle_metadata(run_id)
    with zipfile.ZipFile(bundle_path(run_id), "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(folder / runs.MODEL_FILE, "model.keras")
        bundle.writestr("metadata.json", json.dumps(metadata, indent=2))
        bundle.writestr("README.md", model_card(metadata))
        bundle.write(_bundle_script(run_id), "predict.py")
    check = verify_bundle(run_id)
    runs.write_json_atomic(folder / runs.EXPORT_CHECK_FILE, check)
    return check


def _bundle_script(run_id: str) -> Path:
    template = get_template(runs.load_spec(run_id)["template"])
    return Path(importlib.util.find_spec(template.bundle_script).origin)  # not imported


def bundle_metadata(run_id: str) -> dict[str, Any]:
    """Returns metadata.json: schema, classes, metrics, params and versions."""
    spec, info = runs.load_spec(run_id), runs.load_info(run_id)
    report = runs.load_evaluation(run_id)
    return {
        "format": BUNDLE_FORMAT,
        "run_id": run_id,
        "template": spec["template"],
        "dataset": spec.get("dataset_name", ""),
        "params": spec["params"],
        **info,
        "metrics": report.get("metrics", {}),
        "baseline": report.get("baseline", {}),
        "reference": report.get("reference", {}),
        "baselines": report.get("baselines", {}),
        "summary": report.get("summary", []),
        "verdict": report.get("verdict", {}),
        "reference_comparison": report.get("reference_comparison", {}),
        "versions": {
            "python": platform.python_version(),
            "keras": _package_version("keras"),
            "tensorflow": _package_version("tensorflow"),
        },
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _verdict_lines(verdict: Any) -> list[str]:
    """The headline of the card: does the model beat the baseline beyond the noise?"""
    if not isinstance(verdict, dict) or not verdict:
        return []
    answer = "yes" if verdict.get("beats_baseline") else "no"
    return [
        f"**Beats the baseline beyond the noise of the test set: {answer}** "
        f"({plain(verdict.get('headline', ''))}; {plain(verdict.get('method', ''))}).",
        "",
    ]


def model_card(metadata: dict[str, Any], use_it: list[str] | None = None) -> str:
    """Returns the bundle's README.md: data, intended use, metrics vs baseline, limits.

    The template adds its own `limitations` and `usage` lines; `use_it` replaces the
    "Use it" section (another format's files and code, see `core.formats`).
    """
    template = get_template(metadata["template"])
    features = ", ".join(
        f"{plain(f['name'])} ({f['kind']}, model input `{f.get('input', f['name'])}`)"
        for f in metadata.get("schema", [])
    )
    classes = metadata.get("class_names")
    lines = [
        f"# Model card: predict {plain(metadata.get('target') or metadata['task'])}",
        "",
        f"Made with Predictive Studio (template `{metadata['template']}`, run "
        f"`{metadata['run_id']}`) from {plain(metadata['dataset'])}.",
        "",
        "## Data",
        f"{metadata.get('n_train', '?')} examples to train, {metadata.get('n_val', '?')} to "
        f"decide when to stop, {metadata.get('n_test', '?')} kept aside for the test below.",
        *([f"Inputs: {features}."] if features else []),
        *(
            [f"Left out: {plain(metadata['excluded'])}."]
            if metadata.get("excluded")
            else []
        ),
        *([f"Classes: {plain(', '.join(map(str, classes)))}."] if classes else []),
        "",
        "## Intended use",
        f"{template.description} It supports a decision; it does not replace an "
        "expert's judgement.",
        "",
        "## Test results",
        *_verdict_lines(metadata.get("verdict")),
        *[f"{plain(line)}  " for line in metadata.get("summary", [])],
        "",
        *_metrics_table(metadata),
        "",
        *_decision_lines(metadata.get("decision")),
        "## Limitations",
        "- It only knows the examples it was trained on; new kinds of data (other places, "
        "times or populations) may get confident but wrong answers.",
        "- The test set is small, so the scores above are estimates; the verdict's "
        "interval shows how far they could be off.",
        *[f"- {line}" for line in template.limitations],
        "",
        *(use_it or _bundle_use_it(template)),
    ]
    return "\n".join(lines)


def _bundle_use_it(template: Any) -> list[str]:
    return [
        "## Use it",
        "```",
        "pip install keras tensorflow pandas",
        f"python predict.py {template.predict_input} -o predictions.csv",
        "```",
        template.usage,
        "",
    ]


def _decision_lines(found: Any) -> list[str]:
    """The card's decision threshold: what flags a row, who chose it, at what costs."""
    if not isinstance(found, dict) or not checks.is_number(found.get("threshold")):
        return []
    costs = (
        f" for a missed positive costing {found['cost_miss']:g} and an alert "
        f"{found['cost_alert']:g}"
        if checks.is_number(found.get("cost_miss"))
        and checks.is_number(found.get("cost_alert"))
        else ""
    )
    return [
        "## Decision threshold",
        f"A row is flagged as `{plain(found.get('positive_label', ''))}` when its "
        f"{plain(found.get('score_name', 'score'))} is at or above "
        f"**{found['threshold']:.6g}** (set by {plain(found.get('set_by', ''))}"
        f"{costs}). The bundle's predict.py applies it (from metadata.json); SavedModel, "
        "TFLite and ONNX files output the scores: compare them with it in your code.",
        "",
    ]


def _metrics_table(metadata: dict[str, Any]) -> list[str]:
    columns = {
        "this model": metadata.get("metrics", {}),
        "baseline": metadata.get("baseline", {}),
        "gradient boosting": metadata.get("reference", {}),
        **metadata.get("baselines", {}),
    }
    columns = {name: values for name, values in columns.items() if values}
    rows = [f"| metric | {' | '.join(columns)} |", "|---" * (len(columns) + 1) + "|"]
    for metric in metadata.get("metrics", {}):
        cells = [
            f"{values.get(metric, float('nan')):.4g}" for values in columns.values()
        ]
        rows.append(f"| {metric} | {' | '.join(cells)} |")
    return rows


def verify_bundle(run_id: str) -> dict[str, Any]:
    """Runs the bundle's own predict.py in a fresh process and compares with the live model."""
    folder = runs.run_dir(run_id)
    check_input = folder / CHECK_INPUT_DIR
    name = runs.read_json(check_input / "input.json").get("name", "")
    if not name:
        return _check(
            False, "This run has no recorded check rows to verify with.", None
        )
    expected = pd.read_csv(folder / CHECK_OUTPUTS_FILE).select_dtypes("number")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(bundle_path(run_id)) as bundle:
            bundle.extractall(tmp)  # our own freshly written zip, fixed member names
        out = Path(tmp) / "out.csv"
        command = [
            sys.executable,
            str(Path(tmp) / "predict.py"),
            str(check_input / name),
            "-o",
            str(out),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
            return _check(False, f"The exported model failed to run: {tail[0]}", None)
        got = pd.read_csv(out)
    if not set(expected) <= set(got):
        return _check(False, "The exported model returned other outputs.", None)
    got = got[list(expected.columns)].to_numpy("float64")
    if got.shape != expected.shape:
        return _check(
            False, "The exported model returned outputs of another shape.", None
        )
    diff = float(np.nanmax(np.abs(got - expected.to_numpy("float64")), initial=0.0))
    ok = diff <= CHECK_TOLERANCE
    message = (
        f"Reloaded in a fresh process: {len(expected)} predictions match the live model "
        f"(largest difference {diff:.1e})."
        if ok
        else f"Mismatch: the reloaded model differs by up to {diff:.3g}."
    )
    return _check(ok, message, diff)


def _check(ok: bool, message: str, diff: float | None) -> dict[str, Any]:
    return {
        "ok": ok,
        "message": message,
        "max_abs_diff": diff,
        "checked_at": time.time(),
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
    if isinstance(err, runs.RunError):
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
        or metadata.get("format") != BUNDLE_FORMAT
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
_COMMON_SCHEMA = {
    "task": (checks.is_text, "a task name"),
    "schema": (
        checks.are_features,
        "a list of input columns, each with a name and kind",
    ),
    "params": (lambda v: isinstance(v, dict), "an object of training settings"),
}


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
