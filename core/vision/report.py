"""The picture test report: scores beside the majority baseline, per-class scores, the
confusion matrix with the misclassified pictures, and a summary in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.templates.base import Prepared

MAX_LISTED_PER_CELL = 40
MAX_TEST_EXAMPLES = 300


def image_report(proba: np.ndarray, prepared: Prepared) -> dict[str, Any]:
    """The JSON-ready test report: scores beside the majority baseline, and examples."""
    from core import evaluation, metrics

    info, test = prepared.info, prepared.test
    names, y_true = list(info["class_names"]), np.asarray(test.targets)
    majority = int(np.bincount(prepared.train.raw["y"], minlength=len(names)).argmax())
    baseline = np.zeros_like(proba)
    baseline[:, majority] = 1.0
    y_pred = proba.argmax(axis=1)
    examples = _examples(test.raw, proba, names)
    report = {
        "task": "classification",
        "data_kind": "images",
        "metrics": metrics.classification_metrics(y_true, proba),
        "baseline": metrics.classification_metrics(y_true, baseline),
        "baseline_answer": names[majority],
        "class_names": names,
        "confusion_matrix": _confusion(y_true, y_pred, len(names)),
        "per_class": metrics.per_class(y_true, y_pred, names),
        "curves": metrics.curves(y_true, proba, names),
        "examples": examples[:MAX_TEST_EXAMPLES],
        "misclassified": _misclassified(examples),
        "dataset_id": info["dataset_id"],
        "model_note": info["model_note"],
        "n_test": len(y_true),
        "verdict": evaluation.verdict(
            (y_pred == y_true).astype(float),
            (y_true == majority).astype(float),
            metric="accuracy",
            baseline_text="always answering the most common class "
            f"(`{names[majority]}`)",
            rows="test pictures",
        ),
    }
    report["summary"] = summarize(report)
    return report


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> list[list[int]]:
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix.tolist()


def _examples(raw: pd.DataFrame, proba: np.ndarray, names: list[str]) -> list[dict]:
    rows = []
    for row, p in zip(raw.itertuples(), proba, strict=True):
        rows.append(
            {
                "file": row.file,
                "path": row.path,
                "actual": names[int(row.y)],
                "predicted": names[int(p.argmax())],
                "probabilities": {
                    n: round(float(v), 4) for n, v in zip(names, p, strict=True)
                },
            }
        )
    return rows


def _misclassified(examples: list[dict]) -> dict[str, list[dict]]:
    """Wrong answers per confusion-matrix cell, keyed "actual → predicted"."""
    cells: dict[str, list[dict]] = {}
    for example in examples:
        if example["actual"] != example["predicted"]:
            key = f"{example['actual']} → {example['predicted']}"
            if len(cells.setdefault(key, [])) < MAX_LISTED_PER_CELL:
                cells[key].append(example)
    return cells


def summarize(report: Mapping[str, Any]) -> list[str]:
    """Plain sentences: the result beside the baseline, the weakest class, the network."""
    lines = [report["verdict"]["sentence"]]
    weakest = min(report["per_class"], key=lambda c: c["recall"])
    if weakest["support"]:
        lines.append(
            f"It recognises `{weakest['class']}` least well: {weakest['recall']:.0%} of "
            f"those test pictures were found (recall)."
        )
    lines.append(report["model_note"])
    return lines
