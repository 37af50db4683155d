"""Table-model choices measured in bench/tables.py, pinned on real-shaped data."""

from __future__ import annotations

import numpy as np

from core.catalog import get_template


def test_class_weights_are_softened_square_roots_of_balanced():
    # The class counts of UCI heart disease's `num` (0 = healthy ... 4 = severe).
    counts = {0: 411, 1: 265, 2: 109, 3: 107, 4: 28}
    y = np.repeat(list(counts), list(counts.values()))

    weights = get_template("tabular_classification").class_weight(y)

    balanced = {c: len(y) / (len(counts) * n) for c, n in counts.items()}
    for c in counts:
        assert np.isclose(weights[c], np.sqrt(balanced[c]))
    assert weights[4] / weights[0] < 4  # fully balanced would be about 15
    assert weights[4] > 1 > weights[0]


def _results(ours: float, reference: float, n: int = 200) -> list[dict]:
    rows = {"ours": np.full(n, ours), "reference": np.full(n, reference)}
    rows["baseline"] = np.zeros(n)
    return [
        {
            "seed": s,
            "rows": rows,
            "fit_s": 1.0,
            "ref_fit_s": 1.0,
            "epochs": 5,
            "n_train": n,
        }
        for s in (1, 2, 3)
    ]


def test_bench_verdict_respects_the_metric_direction():
    from bench.tables import TABLES, summarize

    accuracy = next(t for t in TABLES if t.template == "tabular_classification")
    mae = next(t for t in TABLES if t.template == "tabular_regression")
    rng = np.random.default_rng(0)
    noisy = _results(0.0, 0.0)
    for result in noisy:
        result["rows"] = {
            k: rng.integers(0, 2, 200).astype(float) for k in result["rows"]
        }

    assert summarize(accuracy, _results(0.9, 0.6))["verdict"] == "ours better"
    assert summarize(mae, _results(0.9, 0.6))["verdict"] == "reference better"
    assert summarize(mae, _results(2.0, 3.0))["verdict"] == "ours better"
    assert summarize(accuracy, noisy)["verdict"] == "within noise"
