"""The anomaly report: scores on the test rows, the threshold, checks against labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from core import evaluation
from core.anomaly import bundle as anomaly_bundle
from core.tables.bundle import format_value
from core.templates.base import Prepared

REFERENCE_TEXT = "an isolation forest (scikit-learn)"
FENCE_IQRS = 3.0  # Tukey's far-out fence: Q3 + 3 IQR
MAX_SHOWN_ROWS = 20


def scale_errors(model: Any, rows: pd.DataFrame, schema: Sequence[Mapping]) -> float:
    """Makes the model's errors read in units of the usual error; returns that error.

    The usual error is the median, over `rows` (those the model learned from), of a
    row's mean column error; after this a score of 1 is a typical row.
    """
    from core.anomaly.model import set_usual_error

    set_usual_error(model, 1.0)
    raw = anomaly_bundle.column_errors(model, rows, list(schema))
    usual = float(np.median(anomaly_bundle.anomaly_scores(raw)))
    set_usual_error(model, usual)
    return usual


def default_threshold(scores: np.ndarray, share: float) -> tuple[float, str]:
    """The score at which rows are flagged, with how it was chosen, in plain words.

    Args:
        scores: anomaly scores of the rows the model learned from.
        share: expected share of anomalies; 0 picks Tukey's far-out fence instead.
    """
    if share > 0:
        threshold = float(np.quantile(scores, 1 - share))
        return threshold, f"flags the top {share:.1%} of the rows it learned from"
    q1, q3 = np.quantile(scores, [0.25, 0.75])
    threshold = float(q3 + FENCE_IQRS * (q3 - q1))
    flagged = float(np.mean(scores >= threshold))
    return threshold, (
        f"flags rows whose score is far above the rest (over {threshold:.3g}, "
        f"Tukey's far-out fence), {flagged:.1%} of the rows it learned from"
    )


def build_report(model: Any, prepared: Prepared, seed: int) -> dict[str, Any]:
    """Scores the test rows and, with a label column, judges the score against it.

    Returns:
        JSON-ready: `metrics` (flagged share, alerts per 1,000; ROC-AUC and average
        precision with labels), `reference` (an isolation forest on the same rows),
        `decision` (per the threshold page's contract), `flagged_rows` (the most
        unusual test rows with why), `summary`, and with labels `verdict`.
    """
    info = prepared.info
    test = prepared.test.raw
    errors = anomaly_bundle.column_errors(model, test, info["schema"])
    scores = anomaly_bundle.anomaly_scores(errors)
    threshold = float(info["decision"]["threshold"])
    flagged = scores >= threshold
    report: dict[str, Any] = {
        "metrics": {
            "flagged_share": float(flagged.mean()) if len(flagged) else 0.0,
            "alerts_per_1000": float(flagged.mean() * 1000) if len(flagged) else 0.0,
        },
        "n_test": len(test),
        "threshold_rule": info["anomaly"]["threshold_rule"],
        "flagged_rows": _flagged_rows(test, errors, info),
    }
    labels = None
    if info.get("label_column"):
        labels, positive = _test_labels(prepared)
        checked = _checked(scores, labels, prepared, seed)
        report["metrics"] = {**checked.pop("metrics", {}), **report["metrics"]}
        report |= checked
        report["label_value"] = positive
    report["decision"] = _decision(scores, labels, info)
    report["summary"] = _summary(report, info)
    return report


def _test_labels(prepared: Prepared) -> tuple[np.ndarray, str]:
    column = prepared.info["label_column"]
    labels, positive = label_values(prepared.test.raw, column)
    return labels, positive


def label_values(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, str]:
    """Labels as 1 (the rarer value: anomalies) and 0, NaN where missing; the value."""
    text = frame[label].map(lambda v: format_value(v) if pd.notna(v) else None)
    positive = text.value_counts().sort_values(kind="stable").index[0]
    labels = np.where(text.isna(), np.nan, (text == positive).astype("float64"))
    return labels, str(positive)


def _checked(
    scores: np.ndarray, labels: np.ndarray, prepared: Prepared, seed: int
) -> dict[str, Any]:
    """ROC-AUC and average precision beside an isolation forest, and the verdict."""
    known = ~np.isnan(labels)
    y, ours = labels[known].astype(int), scores[known]
    if len(np.unique(y)) < 2:
        return {"label_note": "The test rows hold only one label value: no check."}
    theirs = isolation_forest_scores(prepared, seed)[known]
    scored = {
        "ours": _rank_scores(ours, y),
        "base": np.full(int(y.sum()), 0.5),
        "ref": _rank_scores(theirs, y),
    }
    rows = "known anomalies among the test rows"
    return {
        "metrics": _label_metrics(ours, y),
        "baseline": {"roc_auc": 0.5, "average_precision": float(y.mean())},
        "reference": _label_metrics(theirs, y),
        **evaluation.judged(
            scored,
            metric="accuracy",
            baseline_text="a random score",
            reference_text=REFERENCE_TEXT,
            rows=rows,
            seed=seed,
        ),
    }


def _label_metrics(scores: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(skm.roc_auc_score(y, scores)),
        "average_precision": float(skm.average_precision_score(y, scores)),
    }


def _rank_scores(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per known anomaly: the share of normal rows it outscores (ties count half).

    Their mean is the ROC-AUC, so the verdict's paired bootstrap over the known
    anomalies judges the ROC-AUC: "right" is ranking the anomaly above a normal row.
    """
    normal = np.sort(scores[y == 0])
    anomalies = scores[y == 1]
    below = np.searchsorted(normal, anomalies, side="left")
    equal = np.searchsorted(normal, anomalies, side="right") - below
    return (below + 0.5 * equal) / max(len(normal), 1)


def isolation_forest_scores(prepared: Prepared, seed: int) -> np.ndarray:
    """Fits scikit-learn's IsolationForest on the same training rows; test scores.

    Numbers are filled with the training median, categories one-hot encoded.
    Higher means more unusual, as for the autoencoder.
    """
    from sklearn.ensemble import IsolationForest

    train, test = _forest_frame(prepared, prepared.train.raw, prepared.test.raw)
    forest = IsolationForest(random_state=seed, n_estimators=200)
    forest.fit(train)
    return -forest.score_samples(test)


def _forest_frame(
    prepared: Prepared, train: pd.DataFrame, test: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    parts = {"train": {}, "test": {}}
    for feature in prepared.info["schema"]:
        name = feature["name"]
        for key, rows in (("train", train), ("test", test)):
            values = rows[name]
            if feature["kind"] == "number":
                number = anomaly_bundle.to_numbers(values)
                parts[key][name] = number.fillna(feature["default"])
            else:
                text = values.map(anomaly_bundle.format_value)
                for choice in feature["choices"]:
                    parts[key][f"{name}={choice}"] = (text == choice).astype(float)
    return (pd.DataFrame(parts[k]).to_numpy("float64") for k in ("train", "test"))


def _decision(
    scores: np.ndarray, labels: np.ndarray | None, info: Mapping[str, Any]
) -> dict[str, Any]:
    """What the threshold page needs, per its contract (labels: 1 = anomaly)."""
    known = np.ones(len(scores), bool) if labels is None else ~np.isnan(labels)
    return {
        "scores": [float(s) for s in scores[known]],
        "labels": None if labels is None else [int(v) for v in labels[known]],
        "default_threshold": float(info["decision"]["threshold"]),
        "positive_label": "anomaly",
        "score_name": "anomaly score",
    }


def _flagged_rows(
    test: pd.DataFrame, errors: np.ndarray, info: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The most unusual flagged test rows with their score and why, for the page."""
    scored = anomaly_bundle.add_scores(test.reset_index(drop=True), errors, dict(info))
    flagged = scored[scored["anomaly"] == "yes"].head(MAX_SHOWN_ROWS)
    columns = ["row", "anomaly_score", "why"]
    shown = [f["name"] for f in info["schema"]][:8]
    if info.get("label_column"):
        shown = [info["label_column"], *shown]
    table = flagged[columns + shown].astype(object)
    return table.where(table.notna(), None).to_dict("records")


def _summary(report: Mapping[str, Any], info: Mapping[str, Any]) -> list[str]:
    """Plain sentences: the check against labels first (if any), then what is flagged."""
    share = report["metrics"]["flagged_share"]
    flagged = (
        f"At the threshold, {share:.1%} of the {report['n_test']:,} test rows are "
        f"flagged ({info['anomaly']['threshold_rule']}). The score is the row's "
        "reconstruction error in times the usual error: 1 is a typical row."
    )
    if "verdict" not in report:
        return [flagged, *([report["label_note"]] if "label_note" in report else [])]
    metrics = report["metrics"]
    told = (
        f"Checked against {info['label_column']!r} (never used to train; anomaly = "
        f"{report['label_value']!r}): ROC-AUC {metrics['roc_auc']:.3f}, average "
        f"precision {metrics['average_precision']:.3f}. "
    )
    return [
        told
        + "Asked which of a known anomaly and a normal row is more unusual, "
        + report["verdict"]["sentence"][0].lower()
        + report["verdict"]["sentence"][1:],
        report["reference_comparison"]["sentence"],
        flagged,
    ]
