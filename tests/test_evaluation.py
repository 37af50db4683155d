"""Evaluation: metric helpers against scikit-learn, the full report, and honest summaries."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

from core import evaluation, metrics
from core.catalog import get_template
from core.tables.report import evaluate
from core.templates.params import resolve_params
from tests.conftest import FAST_PARAMS


def test_classification_metrics_binary():
    y_true = np.array([0, 0, 1, 1, 1, 0])
    proba = np.array(
        [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]]
    )
    scores = metrics.classification_metrics(y_true, proba)
    y_pred = np.array([0, 1, 1, 0, 1, 0])
    assert set(scores) == {
        "accuracy",
        "balanced_accuracy",
        "f1",
        "roc_auc",
        "average_precision",
        "recall_at_1pct_false_alarms",
        "precision_at_top_5pct",
    }
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["average_precision"] == pytest.approx(
        skm.average_precision_score(y_true, proba[:, 1])
    )
    assert scores["recall_at_1pct_false_alarms"] == pytest.approx(2 / 3)  # 0.9, 0.8
    assert scores["precision_at_top_5pct"] == 1.0  # the top row (0.9) is positive
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
    scores = metrics.classification_metrics(y_true, proba)
    assert scores["accuracy"] == pytest.approx(5 / 7)
    assert scores["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert scores["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y_true, proba, multi_class="ovr")
    )


def test_classification_metrics_without_every_class_skips_auc():
    y_true = np.array([0, 0, 1, 1])
    proba = np.array([[0.6, 0.3, 0.1]] * 2 + [[0.2, 0.7, 0.1]] * 2)
    scores = metrics.classification_metrics(y_true, proba)
    assert "roc_auc" not in scores
    assert scores["accuracy"] == 1.0


def test_regression_metrics():
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    y_pred = np.array([1.5, 2.0, 2.0, 5.0])
    scores = metrics.regression_metrics(y_true, y_pred)
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


@pytest.mark.trains
def test_evaluate_classification_report(tiny_table):
    model, prepared = _trained("tabular_classification", tiny_table, "label")
    report = evaluate(model, prepared, seed=0)

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
    assert report["summary"][0] == report["verdict"]["sentence"]
    assert f"from {n_test} test rows" in report["summary"][0]
    assert report["verdict"]["value"] == pytest.approx(report["metrics"]["accuracy"])
    assert report["reference_comparison"]["sentence"] == report["summary"][1]

    importance = report["importance"]
    assert {row["feature"] for row in importance} == {"x", "z", "color"}
    values = [row["importance"] for row in importance]
    assert values == sorted(values, reverse=True)


@pytest.mark.trains
def test_evaluate_regression_report(tiny_regression_table):
    model, prepared = _trained("tabular_regression", tiny_regression_table, "y")
    report = evaluate(model, prepared, seed=0)

    assert report["task"] == "regression"
    for key in ("metrics", "baseline", "reference"):
        assert set(report[key]) == {"mae", "rmse", "r2"}
    assert report["baseline_answer"] == pytest.approx(
        float(prepared.train.targets.mean()), rel=1e-5
    )
    assert report["actual"] == pytest.approx(list(prepared.test.targets))
    assert len(report["predicted"]) == len(report["actual"]) == report["n_test"]
    verdict = report["verdict"]
    assert verdict["value"] == pytest.approx(report["metrics"]["mae"])
    assert verdict["baseline_value"] == pytest.approx(report["baseline"]["mae"])
    assert verdict["interval"][0] <= verdict["value"] <= verdict["interval"][1]
    assert report["summary"][0].startswith("Off by")
    values = [row["importance"] for row in report["importance"]]
    assert values == sorted(values, reverse=True)
    assert report["importance"][0]["feature"] == "x"  # y = 3x + noise


def _right(n: int, k: int) -> np.ndarray:
    """`n` rows of which the first `k` are right (1) and the rest wrong (0)."""
    return np.r_[np.ones(k), np.zeros(n - k)]


def test_verdict_53_percent_of_60_pictures_is_no_better_than_guessing():
    rng = np.random.default_rng(0)
    baseline = rng.permutation(_right(60, 30))  # always "cat": right on half
    result = evaluation.verdict(
        _right(60, 32),
        baseline,
        metric="accuracy",
        baseline_text="always answering `cat`",
        rows="test pictures",
    )
    assert result["beats_baseline"] is False
    assert result["interval"] == pytest.approx([0.400, 0.663], abs=1e-3)  # exact
    assert result["headline"] == "53% (40–66%) — no better than guessing"
    assert "within the noise" in result["sentence"]
    assert "from 60 test pictures" in result["sentence"]


def test_verdict_never_contradicts_its_interval():
    """53% of 180 rows (46–61%) against 45%: the interval clears the baseline's score,
    but row by row (the two right on different rows) the gain may be none."""
    baseline = np.r_[np.ones(81), np.zeros(99)]  # right on 81 rows: 45%
    ours = np.r_[np.zeros(81), np.ones(96), np.zeros(3)]  # right on 96 others: 53%
    result = evaluation.verdict(
        ours,
        baseline,
        metric="accuracy",
        baseline_text="always giving the most common answer (`0`)",
    )
    assert result["beats_baseline"] is False
    assert result["interval"][0] > result["baseline_value"]  # 46–61% excludes 45%
    assert result["difference"][0] < 0 < result["difference"][1]
    sentence = result["sentence"]
    assert sentence.startswith("Right 53% of the time (likely 46–61%, from 180 test")
    assert "no better than" not in sentence
    assert "not clearly better than guessing" in sentence
    assert "is right 45% of the time" in sentence
    assert "its gain is likely −6 to +22 points" in sentence
    assert "within the noise" in sentence
    assert result["headline"] == (
        "53% — not clearly better than guessing (gain likely −6 to +22 points)"
    )


def test_verdict_shows_the_gain_when_a_clear_win_overlaps_the_baseline():
    """A lower error on every row, though the errors themselves spread widely."""
    rng = np.random.default_rng(2)
    baseline = rng.uniform(0, 40, 60)
    result = evaluation.verdict(
        baseline - 0.5, baseline, metric="mae", baseline_text="b"
    )
    assert result["outcome"] == "better"
    low, high = result["interval"]
    assert low < result["baseline_value"] < high
    assert (
        "its gain is likely +0.5 to +0.5 less error, clear of zero"
        in (result["sentence"])
    )
    assert result["headline"].endswith(
        "clearly better than guessing (gain likely +0.5 to +0.5 less error)"
    )


def test_verdict_words_agree_with_the_interval_when_they_can():
    rng = np.random.default_rng(0)
    result = evaluation.verdict(
        _right(60, 32),
        rng.permutation(_right(60, 30)),
        metric="accuracy",
        baseline_text="b",
    )
    assert "gain likely" not in result["sentence"] + result["headline"]
    assert result["baseline_text"] == "b"
    assert result["rows"] == "test rows"


def test_verdict_clear_gain_beats_the_baseline_and_is_repeatable():
    rng = np.random.default_rng(1)
    ours, baseline = (
        rng.permutation(_right(200, 180)),
        rng.permutation(_right(200, 100)),
    )
    first = evaluation.verdict(ours, baseline, metric="accuracy", baseline_text="b")
    again = evaluation.verdict(ours, baseline, metric="accuracy", baseline_text="b")
    assert first == again
    assert first["beats_baseline"] is True
    assert first["difference"][0] > 0
    assert first["interval"][0] > first["baseline_value"]
    assert "clearly better than guessing" in first["sentence"]


def test_verdict_says_worse_when_the_baseline_clearly_wins():
    result = evaluation.verdict(
        np.full(100, 5.0), np.full(100, 2.0), metric="mae", baseline_text="b"
    )
    assert result["beats_baseline"] is False
    assert result["outcome"] == "worse"
    assert result["headline"] == "off by 5 (5–5) — worse than guessing"


def test_verdict_block_bootstrap_is_wider_for_overlapping_windows():
    # Errors of overlapping forecast windows move together: neighbours share values.
    rng = np.random.default_rng(2)
    gain = np.convolve(rng.normal(size=320), np.ones(20) / 20, mode="valid")
    ours, baseline = np.full(len(gain), 3.0), 3.0 + gain + 0.02
    rows = evaluation.verdict(ours, baseline, metric="mae", baseline_text="b")
    blocks = evaluation.verdict(
        ours, baseline, metric="mae", baseline_text="b", block=20
    )
    width = [r["difference"][1] - r["difference"][0] for r in (rows, blocks)]
    assert width[1] > 1.5 * width[0]
    assert "block bootstrap (20 neighbouring" in blocks["method"]


def test_verdict_with_too_few_blocks_is_not_falsely_sure():
    # 11 forecasts of 12 steps: one block; a bootstrap would give a zero-width interval.
    ours = np.array(
        [2100.0, 2500, 1900, 2800, 2300, 2600, 2200, 2400, 2500, 2700, 2300]
    )
    baseline = ours - 700
    result = evaluation.verdict(
        ours, baseline, metric="mae", baseline_text="b", block=12
    )
    assert result["interval"] == [1900.0, 2800.0]
    assert result["difference"] == [-700.0, -700.0]
    assert result["outcome"] == "worse" and not result["beats_baseline"]
    assert "full range of the 11 test values" in result["method"]
    assert "likely 1,900–2,800" in result["sentence"]


def test_verdict_rejects_an_unknown_metric():
    with pytest.raises(ValueError, match="Invalid value for argument `metric`"):
        evaluation.verdict(np.ones(3), np.ones(3), metric="f1", baseline_text="b")


def test_reference_a_small_gap_on_154_rows_is_about_the_same():
    rng = np.random.default_rng(3)
    ours = rng.permutation(_right(154, 118))
    reference = ours.copy()
    reference[np.flatnonzero(ours == 0)[:3]] = 1  # 1.9 points better
    result = evaluation.compare_with_reference(
        ours, reference, metric="accuracy", reference_text="a gradient-boosting model"
    )
    assert result["winner"] == "same"
    assert "about the same" in result["sentence"]
    assert "Honest note" not in result["sentence"]


def test_reference_that_clearly_wins_gets_an_honest_note():
    ours, reference = np.full(50, 3.0), np.full(50, 2.0)
    result = evaluation.compare_with_reference(
        ours, reference, metric="mae", reference_text="a gradient-boosting model"
    )
    assert result["winner"] == "reference"
    assert result["sentence"].startswith("Honest note:")
    assert "an average error of 2 against our 3" in result["sentence"]
    flipped = evaluation.compare_with_reference(
        reference, ours, metric="mae", reference_text="a gradient-boosting model"
    )
    assert flipped["winner"] == "ours"
