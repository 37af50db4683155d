"""The downloadable bundle: model.keras, metadata.json, a model card and predict.py, verified.

The bundle is checked in a fresh Python process against the predictions recorded at
training time (`core.prediction.record_check`). Other formats are in `core.formats`;
bringing a bundle back in is `core.bundle_import`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import fixes, prediction, runs
from core.catalog import get_template
from core.errors import RunError, UserError, first_line
from core.markdown import plain
from core.templates import checks

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "predictive-studio-bundle"
CHECK_TOLERANCE = 1e-4
DOWNLOAD_FILE = "download.json"  # the last preparation of the bundle: file, size, check
# "0" skips preparing the bundle after training (a batch server that never downloads, the
# test suite); it is then prepared on the first download or export.
PREPARE_DOWNLOAD_ENV = "PREDICTIVE_STUDIO_PREPARE_DOWNLOAD"


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
    compares with what the live model predicted then. The zip is written beside and
    moved into place, so a reader never sees half a file.

    Returns:
        The check result (also written to the run): `ok`, `message`, `max_abs_diff`.

    Raises:
        RunError: if the run has no model.
    """
    folder = runs.run_dir(run_id)
    if not (folder / runs.MODEL_FILE).is_file():
        raise RunError(f"Run `{run_id}` has no trained model to export.")
    metadata = bundle_metadata(run_id)
    part = folder / f".{runs.BUNDLE_FILE}.{os.getpid()}.{threading.get_ident()}.part"
    try:
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(folder / runs.MODEL_FILE, "model.keras")
            bundle.writestr("metadata.json", json.dumps(metadata, indent=2))
            bundle.writestr("README.md", model_card(metadata))
            bundle.write(_bundle_script(run_id), "predict.py")
        os.replace(part, bundle_path(run_id))
    finally:
        part.unlink(missing_ok=True)
    check = verify_bundle(run_id)
    runs.write_json_atomic(folder / runs.EXPORT_CHECK_FILE, check)
    return check


def prepare_download(run_id: str, by: str) -> dict[str, Any]:
    """Builds and checks the bundle a person downloads, and records how it went.

    Never raises for a failure to build: the reason is recorded instead, so a run
    whose download could not be prepared still ends completed (Results then offers
    to prepare it on click, with the reason).

    Args:
        run_id: a run with a model.
        by: who prepared it, recorded: "training", "results", "models" or "cli".

    Returns:
        The record (also written to the run's download.json): `file`, `size_bytes`,
        `ok`, `message`, `seconds`, `prepared_by`, `prepared_at`.
    """
    started = time.monotonic()
    try:
        check = build_bundle(run_id)
        size = bundle_path(run_id).stat().st_size
    except Exception as err:  # noqa: BLE001  any failure is a reason, not a crash
        logger.warning("Run %s: the download was not prepared: %s", run_id, err)
        check = {
            "ok": False,
            "message": f"The download could not be prepared: {first_line(err)}",
        }
        size = 0
    record = {
        "file": runs.BUNDLE_FILE,
        "size_bytes": size if check["ok"] else 0,
        "ok": bool(check["ok"]),
        "message": check["message"],
        "seconds": round(time.monotonic() - started, 2),
        "prepared_by": by,
        "prepared_at": time.time(),
    }
    try:
        runs.write_json_atomic(runs.run_dir(run_id) / DOWNLOAD_FILE, record)
    except (OSError, RunError) as err:  # the folder went away or the disk is full
        logger.warning("Run %s: the download record was not written: %s", run_id, err)
    return record


def prepare_download_after_training(run_id: str) -> None:
    """The training worker's last step: the bundle is ready when Results opens.

    Skipped when the person pressed Stop (they asked for the run to end now) and where
    `PREDICTIVE_STUDIO_PREPARE_DOWNLOAD` is "0".
    """
    if runs.is_stop_requested(run_id) or os.environ.get(PREPARE_DOWNLOAD_ENV) == "0":
        return
    runs.write_status(run_id, message="Preparing the download.", phase="packaging")
    record = prepare_download(run_id, by="training")
    logger.info("Run %s: %s (%.1f s)", run_id, record["message"], record["seconds"])


def read_download(run_id: str) -> dict[str, Any]:
    """The last preparation of a run's bundle (`{}` if it was never prepared)."""
    return runs.read_json(runs.run_dir(run_id) / DOWNLOAD_FILE)


def ready_download(run_id: str) -> dict[str, Any]:
    """The bundle a person can download now, without waiting: `{}` if there is none.

    Ready means the zip is there and its check passed (a new threshold, for one,
    removes both). Returns the record with the file's current size.
    """
    path = bundle_path(run_id)
    if not (path.is_file() and read_export_check(run_id).get("ok") is True):
        return {}
    return {
        **read_download(run_id),
        "file": path.name,
        "size_bytes": path.stat().st_size,
        "ok": True,
        "message": read_export_check(run_id).get("message", ""),
    }


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
        **(
            {"headline_metric": report["headline_metric"]}
            if "headline_metric" in report
            else {}
        ),
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


def _asked_lines(params: Any) -> list[str]:
    """The data check's fixes the run applied: "You asked: ..." (none if unreadable)."""
    try:
        chosen = fixes.check_fixes(params.get("fixes", []))
    except (AttributeError, UserError):
        return []
    return [plain(line) for line in fixes.asked_lines(chosen)]


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
        *_asked_lines(metadata.get("params")),
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
    check_input = folder / prediction.CHECK_INPUT_DIR
    name = runs.read_json(check_input / "input.json").get("name", "")
    if not name:
        return _check(
            False, "This run has no recorded check rows to verify with.", None
        )
    expected = pd.read_csv(folder / prediction.CHECK_OUTPUTS_FILE).select_dtypes(
        "number"
    )
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
