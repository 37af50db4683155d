"""Table-model choices measured in bench/tables.py, pinned on real-shaped data."""

from __future__ import annotations

import numpy as np

from core.templates import get_template


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
