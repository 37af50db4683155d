"""Shared metrics: the scores every classification and regression report holds.

Accuracy, F1, ROC AUC and the rare-class metrics; MAE, RMSE and R²; per-class scores and
ROC and precision-recall curves, all under scikit-learn's names and JSON-ready. Each
kind's own report (e.g. `core.tables.report`) calls these; whether a score beats its
baseline is `core.evaluation`.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

MAX_CURVE_POINTS = 200
FALSE_ALARM_RATE = 0.01
TOP_SHARE = 0.05
RECALL_KEY = "recall_at_1pct_false_alarms"
PRECISION_KEY = "precision_at_top_5pct"


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, positive: int = 1
) -> dict[str, float]:
    """Returns accuracy, balanced accuracy, F1 and ROC AUC (scikit-learn's names).

    Yes/no tasks with both classes in `y_true` also get the rare-class metrics of
    `rare_class_metrics` for the class at index `positive`.
    """
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
        if binary:
            scores.update(rare_class_metrics(y_true == positive, proba[:, positive]))
    return {k: float(v) for k, v in scores.items()}


def rare_class_metrics(is_positive: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """What matters when one class is rare: ranking quality, not accuracy.

    Args:
        is_positive: True for the rows of the class to find (both kinds present).
        scores: the model's score (probability) of that class per row.

    Returns:
        `average_precision` (area under the precision-recall curve), the recall
        when at most `FALSE_ALARM_RATE` of the other rows are flagged, and the
        precision among the `TOP_SHARE` highest-scored rows (with rows tied with
        the last of them, so a constant score gives the share of positives).
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    fpr, tpr, _ = skm.roc_curve(is_positive, scores)
    scores = np.asarray(scores, dtype="float64")
    cut = np.sort(scores)[::-1][_top_rows(len(scores)) - 1]
    top = scores >= cut  # ties with the last row count too: no arbitrary order
    return {
        "average_precision": float(skm.average_precision_score(is_positive, scores)),
        RECALL_KEY: float(tpr[fpr <= FALSE_ALARM_RATE].max()),
        PRECISION_KEY: float(is_positive[top].mean()),
    }


def _top_rows(n: int) -> int:
    return max(1, int(np.ceil(TOP_SHARE * n)))


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Returns MAE, RMSE and R² (scikit-learn's names)."""
    return {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(skm.root_mean_squared_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }


def per_class(y_true: np.ndarray, y_pred: np.ndarray, names: list[str]) -> list[dict]:
    """Precision, recall, F1 and support of each class, in the order of `names`.

    Args:
        y_true: true class indices.
        y_pred: predicted class indices.
        names: class names, indexed like the classes.

    Returns:
        One JSON-ready dict per class.
    """
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


def curves(y_true: np.ndarray, proba: np.ndarray, names: list[str]) -> list[dict]:
    """ROC and precision-recall curves, one per class (only the positive class if binary).

    Args:
        y_true: true class indices.
        proba: predicted probabilities, one column per class.
        names: class names, indexed like the columns of `proba`.

    Returns:
        JSON-ready curves (thinned to at most `MAX_CURVE_POINTS` points); a class
        absent from `y_true` has none.
    """
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
