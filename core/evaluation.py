"""Honest evaluation on the test rows: metrics, baseline, reference model, curves, importance.

Everything returned is JSON-ready (lists and dicts); pages turn it into charts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.inspection import permutation_importance

from core.bundle_predict import format_value, predict_outputs
from core.templates.base import Prepared

MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 20_000  # per chart; WebGL draws this many at ease
IMPORTANCE_REPEATS = 5


def evaluate(model: Any, prepared: Prepared, seed: int = 0) -> dict[str, Any]:
    """Scores `model` on the test split next to a baseline and a gradient-boosting reference.

    Args:
        model: the trained end-to-end Keras model.
        prepared: the run's prepared splits (with raw rows).
        seed: seed for the reference model and the importance shuffles.

    Returns:
        A JSON-ready report: metrics, baseline, reference, summary sentences, plot data.
    """
    info = prepared.info
    schema = info["schema"]
    outputs = predict_outputs(model, prepared.test.raw, schema)
    if info["task"] == "classification":
        report = _classification_report(outputs, prepared, seed)
    else:
        report = _regression_report(outputs, prepared, seed)
    report["importance"] = feature_importance(model, prepared, seed)
    report["n_test"] = int(info["n_test"])
    report["summary"] = summarize(report, info)
    return report


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Returns accuracy, balanced accuracy, F1 and ROC AUC (scikit-learn's names)."""
    y_pred = proba.argmax(axis=1)
    binary = proba.shape[1] == 2
    scores = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "f1": skm.f1_score(
            y_true, y_pred, average="binary" if binary else "macro", zero_division=0
        ),
    }
    labels = np.arange(proba.shape[1])
    if len(np.unique(y_true)) == proba.shape[1]:
        scores["roc_auc"] = (
            skm.roc_auc_score(y_true, proba[:, 1])
            if binary
            else skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
        )
    return {k: float(v) for k, v in scores.items()}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Returns MAE, RMSE and R² (scikit-learn's names)."""
    return {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(skm.root_mean_squared_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }


def _classification_report(proba: np.ndarray, prepared: Prepared, seed: int) -> dict:
    train, test = prepared.train, prepared.test
    names = prepared.info["class_names"]
    n_classes = len(names)
    dummy = DummyClassifier(strategy="most_frequent").fit(
        np.zeros((len(train.targets), 1)), train.targets
    )
    baseline_proba = _full_proba(
        dummy.predict_proba(np.zeros((len(test.targets), 1))), dummy.classes_, n_classes
    )
    reference, seconds = _reference(prepared, HistGradientBoostingClassifier, seed)
    reference_proba = _full_proba(
        reference.predict_proba(_reference_frame(prepared, test)),
        reference.classes_,
        n_classes,
    )
    y_pred = proba.argmax(axis=1)
    return {
        "task": "classification",
        "metrics": classification_metrics(test.targets, proba),
        "baseline": classification_metrics(test.targets, baseline_proba),
        "baseline_answer": names[int(dummy.classes_[np.argmax(dummy.class_prior_)])],
        "reference": classification_metrics(test.targets, reference_proba),
        "reference_fit_seconds": seconds,
        "class_names": names,
        "confusion_matrix": skm.confusion_matrix(
            test.targets, y_pred, labels=range(n_classes)
        ).tolist(),
        "per_class": _per_class(test.targets, y_pred, names),
        "curves": _curves(test.targets, proba, names),
    }


def _full_proba(proba: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    full = np.zeros((len(proba), n_classes))
    full[:, classes.astype(int)] = proba
    return full


def _per_class(y_true: np.ndarray, y_pred: np.ndarray, names: list[str]) -> list[dict]:
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(names)), zero_division=0
    )
    return [
        {
            "class": n,
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for n, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    ]


def _curves(y_true: np.ndarray, proba: np.ndarray, names: list[str]) -> list[dict]:
    """ROC and precision-recall curves, one per class (only the positive class if binary)."""
    classes = [1] if len(names) == 2 else range(len(names))
    curves = []
    for index in classes:
        is_class = (y_true == index).astype(int)
        if is_class.min() == is_class.max():
            continue
        fpr, tpr, _ = skm.roc_curve(is_class, proba[:, index])
        precision, recall, _ = skm.precision_recall_curve(is_class, proba[:, index])
        curves.append(
            {
                "class": names[index],
                "fpr": _thin(fpr),
                "tpr": _thin(tpr),
                "precision": _thin(precision),
                "recall": _thin(recall),
            }
        )
    return curves


def _thin(values: np.ndarray) -> list[float]:
    step = max(1, len(values) // MAX_CURVE_POINTS)
    kept = list(values[::step])
    if (len(values) - 1) % step:
        kept.append(values[-1])
    return [round(float(v), 5) for v in kept]


def _regression_report(outputs: np.ndarray, prepared: Prepared, seed: int) -> dict:
    train, test = prepared.train, prepared.test
    y_pred = outputs[:, 0]
    dummy = DummyRegressor(strategy="mean").fit(
        np.zeros((len(train.targets), 1)), train.targets
    )
    reference, seconds = _reference(prepared, HistGradientBoostingRegressor, seed)
    shown = spread_sample(test.targets, MAX_SCATTER_POINTS)
    return {
        "task": "regression",
        "metrics": regression_metrics(test.targets, y_pred),
        "baseline": regression_metrics(
            test.targets, dummy.predict(np.zeros((len(test.targets), 1)))
        ),
        "baseline_answer": float(dummy.constant_[0][0]),
        "reference": regression_metrics(
            test.targets, reference.predict(_reference_frame(prepared, test))
        ),
        "reference_fit_seconds": seconds,
        "actual": [float(v) for v in test.targets[shown]],
        "predicted": [float(v) for v in y_pred[shown]],
    }


def spread_sample(values: np.ndarray, limit: int) -> np.ndarray:
    """Positions of at most `limit` values spread evenly over their sorted range.

    The smallest and the largest value are always kept, so a chart of the sample
    spans the same range as all the values. The positions come back in file order.
    """
    order = np.argsort(np.asarray(values), kind="stable")
    if len(order) <= limit:
        return np.arange(len(order))
    return np.sort(order[np.linspace(0, len(order) - 1, limit).round().astype(int)])


def _reference(prepared: Prepared, estimator: type, seed: int) -> tuple[Any, float]:
    """Fits scikit-learn's HistGradientBoosting on the same train rows."""
    started = time.perf_counter()
    model = estimator(categorical_features="from_dtype", random_state=seed)
    model.fit(_reference_frame(prepared, prepared.train), prepared.train.targets)
    return model, time.perf_counter() - started


def _reference_frame(prepared: Prepared, split: Any) -> pd.DataFrame:
    """Raw columns as HistGradientBoosting takes them: numbers, and categories by dtype."""
    columns = {}
    for feature in prepared.info["schema"]:
        values = split.raw[feature["name"]]
        if feature["kind"] == "number":
            columns[feature["name"]] = pd.to_numeric(values, errors="coerce")
        elif feature["kind"] == "category":
            known = feature["choices"][:250]
            text = [format_value(v) for v in values]
            columns[feature["name"]] = pd.Categorical(text, categories=known)
    frame = pd.DataFrame(columns, index=split.raw.index)
    # Free text alone (`label,message`): the reference has nothing it can read.
    return frame if len(frame.columns) else frame.assign(no_usable_column=0.0)


class _KerasScorer:
    """Adapter so scikit-learn's permutation_importance can call the Keras model."""

    def __init__(self, model: Any, info: Mapping[str, Any]):
        self.model, self.info = model, info

    def fit(
        self, *_: Any
    ) -> _KerasScorer:  # scikit-learn checks that estimators can fit
        return self

    def score(self, frame: pd.DataFrame, y: np.ndarray) -> float:
        outputs = predict_outputs(self.model, frame, self.info["schema"])
        if self.info["task"] == "classification":
            return skm.accuracy_score(y, outputs.argmax(axis=1))
        return -skm.mean_absolute_error(y, outputs[:, 0])


def feature_importance(model: Any, prepared: Prepared, seed: int) -> list[dict]:
    """Permutation importance on the test rows: how much the score drops per shuffled column.

    Returns:
        One dict per input column (`feature`, `importance`, `std`), most important first.
    """
    columns = [f["name"] for f in prepared.info["schema"]]
    result = permutation_importance(
        _KerasScorer(model, prepared.info),
        prepared.test.raw[columns],
        prepared.test.targets,
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    rows = [
        {"feature": c, "importance": float(m), "std": float(s)}
        for c, m, s in zip(
            columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(rows, key=lambda r: -r["importance"])


def summarize(report: Mapping[str, Any], info: Mapping[str, Any]) -> list[str]:
    """Returns plain-language sentences: the result first, then how it compares."""
    n = report["n_test"]
    ours, base, ref = report["metrics"], report["baseline"], report["reference"]
    if report["task"] == "classification":
        lines = [
            f"On {n} rows the model never saw, it is right {ours['accuracy']:.0%} of the "
            f"time; always guessing the most common answer (`{report['baseline_answer']}`) "
            f"is right {base['accuracy']:.0%} of the time.",
        ]
        key, better = (
            "balanced_accuracy",
            ref["balanced_accuracy"] > ours["balanced_accuracy"],
        )
        ref_text = f"{ref[key]:.0%} balanced accuracy against our {ours[key]:.0%}"
    else:
        lines = [
            f"On {n} rows the model never saw, its predictions of `{info['target']}` are off "
            f"by {ours['mae']:.3g} on average; always guessing the average "
            f"({report['baseline_answer']:.3g}) is off by {base['mae']:.3g}.",
        ]
        better = ref["mae"] < ours["mae"]
        ref_text = f"an average error of {ref['mae']:.3g} against our {ours['mae']:.3g}"
    if better:
        lines.append(
            f"Honest note: a gradient-boosting model trained on the same rows does "
            f"better ({ref_text}); for this table it is the stronger choice."
        )
    else:
        lines.append(
            f"A gradient-boosting reference trained on the same rows does not do "
            f"better ({ref_text})."
        )
    return lines
