"""Builds one format for a run: convert, verify in a fresh process, card, zip, result.

python -m core.formats.build RUN_ID FORMAT   (started by `core.formats.export_format`)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core import export, runs
from core.catalog import get_template
from core.errors import Refusal, first_line
from core.formats import (
    FORMATS,
    card,
    convert,
    download_path,
    exports_dir,
    result_path,
    verify,
)
from core.formats.convert import Recorded

Variant = tuple[str, Path | None, str, str]  # (name, file, runtime, why it failed)


class Reference:
    """The Keras model's own answers, latency and test score: what exports must match."""

    def __init__(self, run_id: str, recorded: Recorded) -> None:
        run, _ = verify.keras_runner(runs.run_dir(run_id) / runs.MODEL_FILE)
        self.outputs = {
            f"check{i}": run(feed) for i, feed in enumerate(recorded.checks)
        }
        self.latency_ms = verify.latency_ms(run, recorded.checks[0])
        self.score = None
        if recorded.test is not None:
            self.outputs["test"] = run(recorded.test)
            template = get_template(runs.load_spec(run_id)["template"])
            self.score = template.score_outputs(self.outputs["test"], recorded.targets)


def _savedmodel(model: Any, recorded: Recorded, tmp: Path) -> list[Variant]:
    saved = convert.to_savedmodel(model, recorded, tmp / "saved_model")
    return [("float32", saved, "savedmodel", "")]


def _tflite(model: Any, recorded: Recorded, tmp: Path) -> list[Variant]:
    saved = convert.to_savedmodel(model, recorded, tmp / "build" / "saved_model")
    variants = []
    for name in convert.TFLITE_VARIANTS:
        path = tmp / ("model.tflite" if name == "float32" else f"model_{name}.tflite")
        try:
            path.write_bytes(convert.to_tflite(saved, name, recorded))
        except Exception as err:  # noqa: BLE001  the converter's many errors
            if name == "float32":
                raise Refusal(tflite_refusal(err)) from None
            variants.append((name, None, "tflite", first_line(err)))
            continue
        variants.append((name, path, "tflite", ""))
    shutil.rmtree(tmp / "build")
    return variants


def _onnx(model: Any, recorded: Recorded, tmp: Path) -> list[Variant]:
    saved = convert.to_savedmodel(model, recorded, tmp / "build" / "saved_model")
    path = convert.to_onnx(saved, tmp / "model.onnx", recorded)
    shutil.rmtree(tmp / "build")
    return [("float32", path, "onnx", "")]


BUILDERS: dict[str, Callable[[Any, Recorded, Path], list[Variant]]] = {
    "savedmodel": _savedmodel,
    "tflite": _tflite,
    "onnx": _onnx,
}


def _cannot(title: str, err: Exception) -> str:
    return (
        f"{title} cannot carry this model: the converter stopped with "
        f'"{first_line(err)}". Use the bundle (.keras) or the SavedModel instead.'
    )


def tflite_refusal(err: Exception) -> str:
    """Why TFLite cannot carry a model: ops outside its built-in set, or the converter's words."""
    ops = re.search(r"TF Select ops: ([^\n.]+)", str(err))
    if not ops:
        return _cannot("TFLite", err)
    return (
        f"TFLite cannot carry this model: it uses TensorFlow operations ({ops.group(1)[:120]}) "
        "that the phone runtime only has with the extra Select TF ops library, "
        "which apps rarely ship. Use the SavedModel or the bundle (.keras) instead."
    )


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def tolerance(expected: dict[str, np.ndarray]) -> float:
    """1e-4, relative to the outputs' size once they exceed 1 (float32 rounding)."""
    scale = max((float(np.abs(v).max(initial=0)) for v in expected.values()), default=0)
    return export.CHECK_TOLERANCE * max(1.0, scale)


def check_variants(
    variants: list[Variant], recorded: Recorded, reference: Reference, template: Any
) -> list[dict[str, Any]]:
    """Verifies the files in one fresh process; returns each one's size, difference, score."""
    built = [v for v in variants if v[1] is not None]
    reports = convert.run_verify(built[0][2], [v[1] for v in built], recorded)
    by_name = {v[0]: report for v, report in zip(built, reports, strict=True)}
    return [
        _checked(v, by_name.get(v[0]), recorded, reference, template) for v in variants
    ]


def _checked(
    variant: Variant,
    report: dict[str, Any] | None,
    recorded: Recorded,
    reference: Reference,
    template: Any,
) -> dict[str, Any]:
    name, path, runtime, error = variant
    what = convert.TFLITE_VARIANTS.get(name, name) if runtime == "tflite" else name
    if report is None:
        return {"name": name, "what": what, "error": error}
    arrays = report["arrays"]
    diff = max(
        float(np.max(np.abs(arrays[k] - reference.outputs[k]), initial=0))
        for k in reference.outputs
        if k != "test"
    )
    score = None
    if "test" in arrays:
        score = template.score_outputs(arrays["test"], recorded.targets)
    return {
        "name": name,
        "what": what,
        "file": path.name,
        "size_bytes": _size(path),
        "latency_ms": report["latency_ms"],
        "max_abs_diff": diff,
        "score": score,
        "inputs": report["inputs"],
        "outputs": report["outputs"],
        "tensor_order": report.get("tensor_order", []),
    }


def build(run_id: str, fmt: str) -> dict[str, Any]:
    """Converts, verifies, writes the zip and the result of one format; returns it."""
    if fmt == "bundle":
        return _bundle(run_id)
    title = FORMATS[fmt].title
    exports_dir(run_id).mkdir(exist_ok=True)
    try:
        model = runs.load_model(run_id)
        recorded = convert.record(run_id, model)
        reference = Reference(run_id, recorded)
        with tempfile.TemporaryDirectory(dir=exports_dir(run_id)) as tmp:
            try:
                variants = BUILDERS[fmt](model, recorded, Path(tmp))
            except Refusal:
                raise
            except Exception as err:  # noqa: BLE001  the converter's many errors
                raise Refusal(_cannot(title, err)) from None
            template = get_template(runs.load_spec(run_id)["template"])
            checked = check_variants(variants, recorded, reference, template)
            result = _result(fmt, checked, reference, recorded)
            if result["ok"]:
                _write_zip(run_id, fmt, result, [v[1] for v in variants])
    except Refusal as err:
        result = _refused(fmt, str(err))
    if not result["ok"]:
        download_path(run_id, fmt).unlink(missing_ok=True)  # no stale file stays
    runs.write_json_atomic(result_path(run_id, fmt), result)
    return result


def _result(
    fmt: str, checked: list[dict], reference: Reference, recorded: Recorded
) -> dict[str, Any]:
    main = checked[0]
    limit = tolerance(reference.outputs)
    ok = main["max_abs_diff"] <= limit
    title = FORMATS[fmt].title
    message = (
        f"{title} reloaded in a fresh process: its answers on the check inputs match "
        f"the Keras model (largest difference {main['max_abs_diff']:.1e})."
        if ok
        else f"{title} is not offered: reloaded in a fresh process, its answers differ "
        f"from the Keras model by up to {main['max_abs_diff']:.3g} (more than "
        f"{limit:.0e}). Use the bundle (.keras) instead."
    )
    example = {n: a[:1].tolist() for n, a in recorded.checks[0].items()}
    return {
        "format": fmt,
        "title": title,
        "ok": ok,
        "refused": not ok,
        "message": message,
        "file": main["file"],
        "size_bytes": main["size_bytes"],
        "latency_ms": main["latency_ms"],
        "max_abs_diff": main["max_abs_diff"],
        "tolerance": limit,
        "inputs": main["inputs"],
        "outputs": main["outputs"],
        "tensor_order": main["tensor_order"],
        "variants": [_public(v) for v in checked],
        "keras": {"latency_ms": reference.latency_ms, "score": reference.score},
        "example": example,
        "checked_at": time.time(),
    }


def _public(variant: dict[str, Any]) -> dict[str, Any]:
    hidden = ("inputs", "outputs", "tensor_order")
    return {k: v for k, v in variant.items() if k not in hidden}


def _refused(fmt: str, reason: str) -> dict[str, Any]:
    return {
        "format": fmt,
        "title": FORMATS[fmt].title,
        "ok": False,
        "refused": True,
        "message": reason,
        "checked_at": time.time(),
    }


def _write_zip(
    run_id: str, fmt: str, result: dict[str, Any], files: list[Path]
) -> None:
    """The download: the model file(s), README.md (model card) and metadata.json."""
    metadata = {**export.bundle_metadata(run_id), "export": _public(result)}
    partial = exports_dir(run_id) / f".{fmt}.zip.part"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in (f for f in files if f is not None):
            members = sorted(path.rglob("*")) if path.is_dir() else [path]
            for member in (m for m in members if m.is_file()):
                archive.write(member, member.relative_to(path.parent).as_posix())
        archive.writestr("README.md", card.card(metadata, result))
        archive.writestr("metadata.json", json.dumps(metadata, indent=2))
    os.replace(partial, download_path(run_id, fmt))


def _bundle(run_id: str) -> dict[str, Any]:
    """The bundle keeps its own check (predict.py in a fresh process); adds latency."""
    check = export.build_bundle(run_id)
    result = {
        "format": "bundle",
        "title": FORMATS["bundle"].title,
        "refused": False,
        **check,
        "file": runs.BUNDLE_FILE,
        "size_bytes": _size(download_path(run_id, "bundle")),
    }
    try:
        recorded = convert.record(run_id, runs.load_model(run_id), splits=False)
        result["latency_ms"] = Reference(run_id, recorded).latency_ms
    except Refusal:
        result["latency_ms"] = None
    runs.write_json_atomic(result_path(run_id, "bundle"), result)
    return result


def main(argv: list[str] | None = None) -> int:
    run_id, fmt = argv if argv is not None else sys.argv[1:]
    build(run_id, fmt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
