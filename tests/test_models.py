"""The table network's number encoding: quantile bins, piecewise-linear, no custom code."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from core import models
from core.bundle_predict import frame_to_inputs

# Real-shaped: the `chol` column of UCI heart disease (Switzerland/VA rows record blanks).
CHOL = [233, 286, 229, 250, 204, 236, 268, 354, 254, 203, 192, 294, np.nan, 256, 263]


def _encoder(train: pd.DataFrame, schema: list[dict]) -> keras.Model:
    inputs, features = models.build_table_inputs(train, schema)
    return keras.Model(inputs, features)


def test_piecewise_linear_is_zero_below_one_above_linear_inside():
    edges = np.array([0.0, 10.0, 20.0, 40.0])
    x = keras.Input(shape=(1,))
    model = keras.Model(x, models.piecewise_linear(x, edges, name="v_bins"))

    out = np.asarray(model(np.array([[-5.0], [5.0], [15.0], [30.0], [99.0]])))

    np.testing.assert_allclose(
        out,
        [[0, 0, 0], [0.5, 0, 0], [1, 0.5, 0], [1, 1, 0.5], [1, 1, 1]],
        atol=1e-6,
    )


def test_quantile_edges_are_distinct_and_collapse_for_few_values():
    assert len(models.quantile_edges(np.arange(100.0), 8)) == 9
    assert list(models.quantile_edges(np.array([0.0, 1.0, 1.0, 0.0]), 8)) == [0, 1]
    assert len(models.quantile_edges(np.array([]), 8)) == 0


def test_number_column_gets_value_bins_and_missing_flag():
    train = pd.DataFrame({"chol": CHOL, "sex": [0, 1] * 7 + [0]})
    schema = [{"name": "chol", "kind": "number"}, {"name": "sex", "kind": "number"}]
    encoder = _encoder(train, schema)

    # chol: scaled value + 8 bins + missing flag; sex (two values): scaled value only.
    assert encoder.output.shape[-1] == 1 + models.NUMBER_BINS + 1 + 1
    rows = pd.DataFrame({"chol": [100.0, 400.0, np.nan], "sex": [0, 1, 1]})
    out = np.asarray(encoder(frame_to_inputs(rows, schema)))
    bins = slice(1, 1 + models.NUMBER_BINS)
    assert out[0, bins].sum() == 0  # below every training value
    assert out[1, bins].min() == 1  # above every training value
    assert out[2, 1 + models.NUMBER_BINS] == 1  # the blank is flagged


def test_number_columns_with_spaces_and_symbols_train(tmp_path):
    # Real headers: breast cancer's "worst fractal dimension", a unit in brackets.
    train = pd.DataFrame(
        {"worst fractal dimension": np.linspace(0.05, 0.2, 12), "Temp (C)": CHOL[:12]}
    )
    schema = [{"name": c, "kind": "number"} for c in train.columns]
    inputs, features = models.build_table_inputs(train, schema)
    model = keras.Model(inputs, keras.layers.Dense(1)(features))
    model.compile(optimizer="adam", loss="mse")

    history = model.fit(
        frame_to_inputs(train, schema), np.ones(12), epochs=1, verbose=0
    )

    assert np.isfinite(history.history["loss"][0])


def test_encoder_with_bins_saves_and_loads_without_custom_objects(tmp_path):
    train = pd.DataFrame({"chol": CHOL})
    schema = [{"name": "chol", "kind": "number"}]
    encoder = _encoder(train, schema)
    rows = frame_to_inputs(pd.DataFrame({"chol": [180.0, 260.0, np.nan]}), schema)
    path = tmp_path / "encoder.keras"
    encoder.save(path)

    loaded = keras.saving.load_model(path)

    np.testing.assert_allclose(np.asarray(loaded(rows)), np.asarray(encoder(rows)))
    assert not loaded.trainable_weights  # the bins are fixed, not learned


def test_class_weights_are_softened_square_roots_of_balanced():
    from core.templates import get_template

    # The class counts of UCI heart disease's `num` (0 = healthy ... 4 = severe).
    counts = {0: 411, 1: 265, 2: 109, 3: 107, 4: 28}
    y = np.repeat(list(counts), list(counts.values()))

    weights = get_template("tabular_classification").class_weight(y)

    balanced = {c: len(y) / (len(counts) * n) for c, n in counts.items()}
    for c in counts:
        assert np.isclose(weights[c], np.sqrt(balanced[c]))
    assert weights[4] / weights[0] < 4  # fully balanced would be about 15
    assert weights[4] > 1 > weights[0]
