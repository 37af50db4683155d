"""The table report: a trained table model on the test rows, honestly judged.

Metrics beside a baseline (the most common class, or the average) and a gradient-boosting
reference fitted on the same rows, the verdict and reference comparison
(`core.evaluation.judged`), per-class scores, curves, the threshold page's data for a
yes/no run, and permutation feature importance. Everything returned is JSON-ready;
pages turn it into charts.
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

from core import decision, evaluation, metrics
from core.tables.bundle import format_value, predict_outputs
from core.tables.preflight import headline_metric
from core.templates.base import Prepared

MAX_SCATTER_POINTS = 20_000  # per chart; WebGL draws this many at ease
IMPORTANCE_REPEATS = 5
REFERENCE_TEXT = "a gradient-boosting model"
# The reference's fixed portfolio: the library's default, slower and smoother, larger
# leaves. Each stops adding trees on the validation rows, which pick one of them.
REFERENCE_CONFIGS = (
    {"learning_rate": 0.1, "max_leaf_nodes": 31},
    {"learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0},
    {"learning_rate": 0.1, "max_leaf_nodes": 63, "min_samples_leaf": 40},
)
MIN_TUNING_ROWS = 20  # fewer validation rows: the library defaults, untuned


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
    report["summary"] = summarize(report)
    return report


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
    answer = names[int(dummy.classes_[np.argmax(dummy.class_prior_)])]
    probas = {"ours": proba, "base": baseline_proba, "ref": reference_proba}
    right = {
        name: (p.argmax(axis=1) == test.targets).astype(float)
        for name, p in probas.items()
    }
    positive = _positive_index(prepared.info)
    # Average precision, where the data check advised it, is judged with the decision.
    balanced = _headline(prepared) == "balanced_accuracy"
    headline = "balanced_accuracy" if balanced else "accuracy"
    if balanced:
        weights = evaluation.balanced_weights(test.targets)
        right = {name: scores * weights for name, scores in right.items()}
    report = {
        "task": "classification",
        **evaluation.judged(
            right,
            metric=headline,
            baseline_text=f"always giving the most common answer (`{answer}`)",
            reference_text=REFERENCE_TEXT,
            seed=seed,
        ),
        "headline_metric": headline,
        "metrics": metrics.classification_metrics(test.targets, proba, positive),
        "baseline": metrics.classification_metrics(
            test.targets, baseline_proba, positive
        ),
        "baseline_answer": answer,
        "reference": metrics.classification_metrics(
            test.targets, reference_proba, positive
        ),
        "reference_fit_seconds": seconds,
        "class_names": names,
        "confusion_matrix": skm.confusion_matrix(
            test.targets, y_pred, labels=range(n_classes)
        ).tolist(),
        "per_class": metrics.per_class(test.targets, y_pred, names),
        "curves": metrics.curves(test.targets, proba, names),
    }
    _lead_with(report, headline)
    return _with_decision(report, probas, prepared, seed)


def _headline(prepared: Prepared) -> str:
    """The metric the data check recommended for the run's classes (info), by default
    as `core.tables.preflight.headline_metric` decides it on the training labels."""
    found = prepared.info.get("headline_metric")
    if isinstance(found, str):
        return found
    names = prepared.info["class_names"]
    train = np.asarray(prepared.train.targets)
    return headline_metric(pd.Series([names[int(i)] for i in train], dtype=object))


def _lead_with(report: dict[str, Any], metric: str) -> None:
    """Puts the headline metric first in the scores of the model and its comparisons."""
    for key in ("metrics", "baseline", "reference"):
        if metric in report[key]:
            report[key] = {metric: report[key][metric], **report[key]}


def _positive_index(info: Mapping[str, Any]) -> int:
    """The class a yes/no run flags (its decision's), else the second class."""
    found = info.get("decision")
    if isinstance(found, dict) and found.get("positive_label") in info["class_names"]:
        return info["class_names"].index(found["positive_label"])
    return 1


def _with_decision(
    report: dict[str, Any],
    probas: Mapping[str, np.ndarray],
    prepared: Prepared,
    seed: int,
) -> dict[str, Any]:
    """Adds the threshold page's data to a yes/no report, led by average precision.

    With imbalanced classes (the data check's advice, `_headline`) the verdict is on
    average precision (accuracy is shown but not headlined: always answering the
    common class already scores high).
    """
    found = prepared.info.get("decision")
    if not isinstance(found, dict):
        return report
    positive = _positive_index(prepared.info)
    labels = np.asarray(prepared.test.targets) == positive
    scores = probas["ours"][:, positive]
    report["decision"] = {
        "scores": [round(float(v), 6) for v in scores],
        "labels": labels.astype(int).tolist(),
        "default_threshold": float(found["threshold"]),
        "positive_label": found["positive_label"],
        "score_name": found["score_name"],
        "reliability": _reliability(scores, labels, prepared.info.get("calibration")),
    }
    if _headline(prepared) != "average_precision" or labels.all() or not labels.any():
        return report
    report.update(
        evaluation.average_precision_judged(
            labels,
            {k: p[:, positive] for k, p in probas.items()},
            baseline_text="always giving the most common answer "
            f"(`{report['baseline_answer']}`)",
            reference_text=REFERENCE_TEXT,
            seed=seed,
        )
    )
    report["headline_metric"] = "average_precision"
    _lead_with(report, "average_precision")
    return report


def _reliability(
    scores: np.ndarray, labels: np.ndarray, calibration: Mapping[str, float] | None
) -> dict[str, Any]:
    """The reliability curve, with the Brier score and error before calibration too.

    Calibration (`core.tables.calibration`) maps log-odds d to a * d + b; undoing it
    gives the probabilities the model gave before.
    """
    found = decision.reliability(scores, labels)
    if calibration:
        clipped = np.clip(scores, 1e-12, 1 - 1e-12)
        log_odds = (
            np.log(clipped / (1 - clipped)) - calibration["shift"]
        ) / calibration["scale"]
        before = decision.reliability(1 / (1 + np.exp(-log_odds)), labels)
        found.update(brier_before=before["brier"], ece_before=before["ece"])
    return found


def _full_proba(proba: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    full = np.zeros((len(proba), n_classes))
    full[:, classes.astype(int)] = proba
    return full


def _regression_report(outputs: np.ndarray, prepared: Prepared, seed: int) -> dict:
    train, test = prepared.train, prepared.test
    y_pred = outputs[:, 0]
    dummy = DummyRegressor(strategy="mean").fit(
        np.zeros((len(train.targets), 1)), train.targets
    )
    reference, seconds = _reference(prepared, HistGradientBoostingRegressor, seed)
    baseline_pred = dummy.predict(np.zeros((len(test.targets), 1)))
    reference_pred = reference.predict(_reference_frame(prepared, test))
    answer = float(dummy.constant_[0][0])
    error = {
        name: np.abs(test.targets - p)
        for name, p in (
            ("ours", y_pred),
            ("base", baseline_pred),
            ("ref", reference_pred),
        )
    }
    shown = spread_sample(test.targets, MAX_SCATTER_POINTS)
    return {
        "task": "regression",
        **evaluation.judged(
            error,
            metric="mae",
            baseline_text=f"always guessing the average ({evaluation.number_text(answer)})",
            reference_text=REFERENCE_TEXT,
            seed=seed,
        ),
        "metrics": metrics.regression_metrics(test.targets, y_pred),
        "baseline": metrics.regression_metrics(test.targets, baseline_pred),
        "baseline_answer": answer,
        "reference": metrics.regression_metrics(test.targets, reference_pred),
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
    """Fits scikit-learn's HistGradientBoosting on the train rows, tuned on validation.

    Each of `REFERENCE_CONFIGS` adds trees until the loss on the validation rows stops
    improving (at most 1,000), and the one scoring best on the validation rows (accuracy
    or R²) is kept; the test rows are never looked at. With under `MIN_TUNING_ROWS`
    validation rows, or classes the training rows lack, the library defaults are fitted.
    It fits with one OpenMP thread: beside a training worker on 2 busy CPUs, two
    threads spun for 120 s on a fit that takes 4 s alone.
    """
    from threadpoolctl import threadpool_limits

    train, val = prepared.train, prepared.val
    x_train = _reference_frame(prepared, train)
    started = time.perf_counter()
    with threadpool_limits(1):
        if not _can_tune(prepared, estimator):
            model = estimator(categorical_features="from_dtype", random_state=seed)
            return model.fit(x_train, train.targets), time.perf_counter() - started
        x_val = _reference_frame(prepared, val)
        fitted = [
            estimator(
                categorical_features="from_dtype",
                random_state=seed,
                early_stopping=True,
                max_iter=1000,
                n_iter_no_change=20,
                **config,
            ).fit(x_train, train.targets, X_val=x_val, y_val=val.targets)
            for config in REFERENCE_CONFIGS
        ]
        model = max(fitted, key=lambda m: m.score(x_val, val.targets))
    return model, time.perf_counter() - started


def _can_tune(prepared: Prepared, estimator: type) -> bool:
    val_targets = np.asarray(prepared.val.targets)
    if len(val_targets) < MIN_TUNING_ROWS:
        return False
    if estimator is HistGradientBoostingRegressor:
        return True
    return set(np.unique(val_targets)) <= set(np.unique(prepared.train.targets))


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

    def __init__(self, model: Any, info: Mapping[str, Any]) -> None:
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


def summarize(report: Mapping[str, Any]) -> list[str]:
    """Returns plain-language sentences: the verdict first, then the reference.

    A verdict on average precision (a rare class) or balanced accuracy (imbalanced
    classes) adds why accuracy is not the headline.
    """
    sentences = [
        report["verdict"]["sentence"],
        report["reference_comparison"]["sentence"],
    ]
    rare = {
        "average_precision": "with a rare class",
        "balanced_accuracy": "with imbalanced classes",
    }.get(report["verdict"]["metric"])
    if rare:
        sentences.append(
            f"Accuracy ({report['metrics']['accuracy']:.0%}) is shown but not the "
            f"headline, as the data check advised: {rare}, always answering "
            f"`{report['baseline_answer']}` is already right "
            f"{report['baseline']['accuracy']:.0%} of the time."
        )
    return sentences
