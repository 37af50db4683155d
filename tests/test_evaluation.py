"""Evaluation: metric helpers against scikit-learn, the full report, and honest summaries."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

from core import evaluation
from core.templates import get_template
from core.templates.base import resolve_params
from tests.conftest import FAST_PARAMS


def test_classification_metrics_binary():
    y_true = np.array([0, 0, 1, 1, 1, 0])
    proba = np.array(
        [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]]
    )
    scores = evaluation.classification_metrics(y_true, proba)
    y_pred = np.array([0, 1, 1, 0, 1, 0])
    assert set(scores) == {"accuracy", "balanced_accuracy", "f1", "roc_auc"}
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(y_true, y_pred)
    )
    assert scores["f1"] == pytest.approx(skm.f1_score(y_true, y_pred))
    assert scores["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, proba[:, 1]))
    assert all(type(v) is float for v in scores.values())


def test_classification_metrics_multiclass():
    y_true = np.array([0, 1, 2, 2, 1, 0, 2])
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.2, 0.5, 0.3],
            [0.1, 0.2, 0.7],
            [0.3, 0.4, 0.3],
            [0.1, 0.8, 0.1],
            [0.3, 0.3, 0.4],
            [0.2, 0.1, 0.7],
        ]
    )
    y_pred = proba.argmax(axis=1)
    scores = evaluation.classification_metrics(y_true, proba)
    assert scores["accuracy"] == pytest.approx(5 / 7)
    assert scores["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert scores["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y_true, proba, multi_class="ovr")
    )


def test_classification_metrics_without_every_class_skips_auc():
    y_true = np.array([0, 0, 1, 1])
    proba = np.array([[0.6, 0.3, 0.1]] * 2 + [[0.2, 0.7, 0.1]] * 2)
    scores = evaluation.classification_metrics(y_true, proba)
    assert "roc_auc" not in scores
    assert scores["accuracy"] == 1.0


def test_regression_metrics():
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    y_pred = np.array([1.5, 2.0, 2.0, 5.0])
    scores = evaluation.regression_metrics(y_true, y_pred)
    assert set(scores) == {"mae", "rmse", "r2"}
    assert scores["mae"] == pytest.approx(0.625)
    assert scores["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert scores["r2"] == pytest.approx(skm.r2_score(y_true, y_pred))


def _trained(template_name, frame, target):
    keras.utils.set_random_seed(0)
    template = get_template(template_name)
    params = resolve_params(template, {**FAST_PARAMS, "learning_rate": 0.01})
    prepared = template.prepare(frame, target, params, seed=0)
    model = template.build_model(prepared, params)
    model.fit(
        prepared.train.inputs,
        prepared.train.targets,
        epochs=20,
        batch_size=8,
        verbose=0,
    )
    return model, prepared


def test_evaluate_classification_report(tiny_table):
    model, prepared = _trained("tabular_classification", tiny_table, "label")
    report = evaluation.evaluate(model, prepared, seed=0)

    n_test = prepared.info["n_test"]
    assert report["task"] == "classification"
    assert report["n_test"] == n_test == len(prepared.test.targets)
    for key in ("metrics", "baseline", "reference"):
        assert {"accuracy", "balanced_accuracy", "f1"} <= set(report[key])
    # The baseline always answers the most common training class.
    assert report["baseline"]["balanced_accuracy"] == pytest.approx(0.5)
    assert report["baseline_answer"] in prepared.info["class_names"]
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (2, 2)
    assert matrix.sum() == n_test
    assert np.trace(matrix) / n_test == pytest.approx(report["metrics"]["accuracy"])
    assert [row["class"] for row in report["per_class"]] == ["no", "yes"]
    assert len(report["summary"]) == 2
    assert report["summary"][0].startswith(f"On {n_test} rows the model never saw")

    importance = report["importance"]
    assert {row["feature"] for row in importance} == {"x", "z", "color"}
    values = [row["importance"] for row in importance]
    assert values == sorted(values, reverse=True)


def test_evaluate_regression_report(tiny_regression_table):
    model, prepared = _trained("tabular_regression", tiny_regression_table, "y")
    report = evaluation.evaluate(model, prepared, seed=0)

    assert report["task"] == "regression"
    for key in ("metrics", "baseline", "reference"):
        assert set(report[key]) == {"mae", "rmse", "r2"}
    assert report["baseline_answer"] == pytest.approx(
        float(prepared.train.targets.mean()), rel=1e-5
    )
    assert report["actual"] == pytest.approx(list(prepared.test.targets))
    assert len(report["predicted"]) == len(report["actual"]) == report["n_test"]
    assert "its predictions of `y` are off by" in report["summary"][0]
    values = [row["importance"] for row in report["importance"]]
    assert values == sorted(values, reverse=True)
    assert report["importance"][0]["feature"] == "x"  # y = 3x + noise


def _classification_report(ours: float, reference: float) -> dict:
    return {
        "task": "classification",
        "n_test": 50,
        "metrics": {"accuracy": ours, "balanced_accuracy": ours},
        "baseline": {"accuracy": 0.6, "balanced_accuracy": 0.5},
        "baseline_answer": "no",
        "reference": {"accuracy": reference, "balanced_accuracy": reference},
    }


def _regression_report(ours: float, reference: float) -> dict:
    return {
        "task": "regression",
        "n_test": 30,
        "metrics": {"mae": ours},
        "baseline": {"mae": 5.0},
        "baseline_answer": 21.5,
        "reference": {"mae": reference},
    }


def test_summarize_classification_when_the_reference_wins():
    lines = evaluation.summarize(_classification_report(0.7, 0.9), {"target": "t"})
    assert lines[0] == (
        "On 50 rows the model never saw, it is right 70% of the time; always guessing "
        "the most common answer (`no`) is right 60% of the time."
    )
    assert lines[1].startswith("Honest note:")
    assert "90% balanced accuracy against our 70%" in lines[1]


def test_summarize_classification_when_the_model_wins():
    lines = evaluation.summarize(_classification_report(0.9, 0.7), {"target": "t"})
    assert not any("Honest note" in line for line in lines)
    assert "does not do better" in lines[1]


def test_summarize_regression_when_the_reference_wins():
    lines = evaluation.summarize(_regression_report(3.0, 2.0), {"target": "mpg"})
    assert "predictions of `mpg` are off by 3 on average" in lines[0]
    assert "(21.5) is off by 5" in lines[0]
    assert lines[1].startswith("Honest note:")
    assert "an average error of 2 against our 3" in lines[1]


def test_summarize_regression_when_the_model_wins():
    lines = evaluation.summarize(_regression_report(2.0, 3.0), {"target": "mpg"})
    assert not any("Honest note" in line for line in lines)
