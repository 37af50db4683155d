"""The references are tuned on the validation rows only (issue 22): tables and texts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.catalog import get_template
from core.tables import report as table_report
from core.templates.params import resolve_params
from core.text import report as text_report


def _prepared(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["color"] = rng.choice(["red", "blue"], size=rows)
    frame["label"] = np.where(x[:, 0] + (frame["color"] == "red") > 0.5, "yes", "no")
    template = get_template("tabular_classification")
    params = resolve_params(template, {"seed": seed})
    return template.prepare(frame, "label", params, seed)


def test_the_table_reference_is_picked_and_stopped_on_the_validation_rows():
    prepared = _prepared(600)
    estimator = table_report.HistGradientBoostingClassifier
    model, seconds = table_report._reference(prepared, estimator, seed=0)
    assert model.early_stopping is True and model.n_iter_ < model.max_iter
    params = model.get_params()
    assert any(
        all(params[key] == value for key, value in config.items())
        for config in table_report.REFERENCE_CONFIGS
    ), params
    assert seconds > 0


def test_the_table_reference_keeps_the_library_defaults_on_few_validation_rows():
    prepared = _prepared(60)  # about 9 validation rows
    assert len(prepared.val.targets) < table_report.MIN_TUNING_ROWS
    model, _ = table_report._reference(
        prepared, table_report.HistGradientBoostingClassifier, seed=0
    )
    assert model.early_stopping == "auto" and model.max_iter == 100


def test_the_text_reference_takes_the_c_most_accurate_on_validation():
    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "fine", "awful", "nice", "poor", "meh", "ok"])
    labels = rng.integers(0, 2, size=200)
    texts = [
        " ".join(rng.choice(words[label::2], size=4)) + " " + rng.choice(words)
        for label in labels
    ]
    train, val = (texts[:150], labels[:150]), (texts[150:], labels[150:])
    untuned, _ = text_report.fit_reference(*train, "words", seed=0)
    assert untuned[-1].C == 1.0
    tuned, _ = text_report.fit_reference(*train, "words", seed=0, validation=val)
    best = text_report._best_c(*train, "words", 0, val)
    assert tuned[-1].C == best and best in text_report.REFERENCE_C
    assert tuned.score(*val) >= untuned.score(*val)
