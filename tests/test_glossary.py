"""The glossary: every score a report can hold has a sentence in plain words."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import decision, metrics
from core.anomaly import report as anomaly_report
from core.corpus.ngram import Scores
from core.series.baselines import forecast_metrics
from pages.ui import glossary

RNG = np.random.default_rng(0)


def _proba(n: int, classes: int) -> np.ndarray:
    raw = RNG.random((n, classes))
    return raw / raw.sum(axis=1, keepdims=True)


def report_metric_keys() -> set[str]:
    """The metric keys of every kind's report, from the functions that compute them."""
    y2, y3 = np.arange(40) % 2, np.arange(40) % 3
    scores, labels = RNG.random(40), y2
    counts = decision.counts_at(scores, labels, 0.5)
    calibration = decision.reliability(scores, labels)
    return {
        *metrics.classification_metrics(y2, _proba(40, 2)),  # tables, text, vision
        *metrics.classification_metrics(y3, _proba(40, 3)),
        *metrics.regression_metrics(RNG.random(40), RNG.random(40)),
        *forecast_metrics(RNG.random(40), RNG.random(40), 1.0),  # series
        *Scores(rank=np.arange(40) % 7, proba=RNG.random(40)).summary(),  # corpus
        *anomaly_report._label_metrics(scores, y2),
        *(k for k in counts if k in ("flagged_share", "alerts_per_1000")),  # anomaly
        "precision",  # the threshold page's counts
        "recall",
        *(k for k in calibration if k in ("brier", "ece")),  # reliability
    }


def test_every_report_metric_has_a_label_and_a_meaning():
    keys = report_metric_keys()
    assert {"f1", "roc_auc", "perplexity", "mase", "brier"} <= keys  # built them all
    assert keys - set(glossary.MEANINGS) == set()
    assert keys - set(glossary.LABELS) == set()


def test_meanings_are_single_plain_sentences():
    for key, text in glossary.MEANINGS.items():
        assert text.endswith("."), key
        assert "`" not in text and "_" not in text, key


def _meanings_app(keys: list[str]) -> None:
    from pages.ui import glossary

    glossary.show_meanings(keys)


@pytest.mark.parametrize(
    ("keys", "shown", "hidden"),
    [
        (["f1", "roc_auc", "not_a_metric"], ["F1 score", "ROC AUC"], ["not_a_metric"]),
        (["perplexity"], ["Perplexity"], ["F1"]),
    ],
)
def test_show_meanings_lists_only_the_shown_scores(keys, shown, hidden):
    at = AppTest.from_function(_meanings_app, kwargs={"keys": keys}).run()
    assert not at.exception
    assert [e.label for e in at.expander] == ["What these scores mean"]
    text = at.expander[0].markdown[0].value
    assert all(name in text for name in shown)
    assert not any(name in text for name in hidden)


def test_show_meanings_without_entries_shows_nothing():
    at = AppTest.from_function(_meanings_app, kwargs={"keys": ["loss"]}).run()
    assert not at.exception
    assert not at.expander
