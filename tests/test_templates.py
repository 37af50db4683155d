"""Template contract: every registered template trains, saves, reloads safely, predicts raw rows."""

from __future__ import annotations

import json
import re
import zipfile
from operator import attrgetter

import keras
import numpy as np
import pandas as pd
import pytest

from core.tables.bundle import frame_to_inputs
from core.templates import get_template, list_templates
from core.templates.base import resolve_params
from tests.conftest import FAST_PARAMS, tiny_series
from tests.test_images import raw_pictures, tiny_image_set


def _table_for(template, tiny_table, tiny_regression_table):
    if template.data_kind == "image_folder":
        return tiny_image_set(), None
    if template.data_kind == "time_series":
        return tiny_series(), "y"
    if template.task == "regression":
        return tiny_regression_table, "y"
    return tiny_table, "label"


def _model_inputs(template, prepared):
    """A few raw inputs the model takes: typed-in rows, or windows of the series."""
    if template.data_kind == "time_series":
        return prepared.test.inputs[:3]
    if template.data_kind == "image_folder":
        return raw_pictures(3)
    return frame_to_inputs(_raw_rows(), prepared.info["schema"])


def _output_shape(template, prepared) -> tuple[int, ...]:
    if template.task == "classification":
        return (3, len(prepared.info["class_names"]))
    if template.task == "forecasting":
        return (3, prepared.info["horizon"], 3)  # lower, forecast, upper per step
    return (3, 1)


def _raw_rows() -> pd.DataFrame:
    """Rows as a user types them: one missing number and one unseen category."""
    return pd.DataFrame(
        {
            "x": [0.5, np.nan, -1.2],
            "z": [np.nan, 0.3, 1.0],
            "color": ["red", "purple", None],
        }
    )


@pytest.mark.parametrize("template", list_templates(), ids=attrgetter("name"))
def test_template_contract(template, tiny_table, tiny_regression_table, tmp_path):
    frame, target = _table_for(template, tiny_table, tiny_regression_table)
    params = resolve_params(template, {**FAST_PARAMS, "batch_size": 8})

    assert template.check(frame, target, params) == []
    prepared = template.prepare(frame, target, params, seed=0)
    n = prepared.info["n_train"] + prepared.info["n_val"] + prepared.info["n_test"]
    assert n == len(frame) or template.data_kind == "time_series"  # series: windows
    model = template.build_model(prepared, params)
    history = model.fit(
        prepared.train.inputs,
        prepared.train.targets,
        validation_data=(prepared.val.inputs, prepared.val.targets),
        epochs=1,
        batch_size=8,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # default safe_mode=True

    outputs = np.asarray(loaded(_model_inputs(template, prepared)))
    assert outputs.shape == _output_shape(template, prepared)
    assert np.isfinite(outputs).all()
    if template.task == "classification":
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)
    # The reloaded model answers exactly like the one that was trained.
    original = np.asarray(model(_model_inputs(template, prepared)))
    np.testing.assert_allclose(outputs, original, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("template", list_templates(), ids=attrgetter("name"))
def test_saved_model_has_no_lambda_layer(
    template, tiny_table, tiny_regression_table, tmp_path
):
    frame, target = _table_for(template, tiny_table, tiny_regression_table)
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(frame, target, params, seed=0)
    model = template.build_model(prepared, params)
    path = tmp_path / "model.keras"
    model.save(path)

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    class_names = set(re.findall(r'"class_name": "(\w+)"', json.dumps(config)))
    assert class_names & {"Normalization", "Rescaling"}  # the walk does see layers
    assert "Lambda" not in class_names

    loaded = keras.saving.load_model(path, compile=False)
    layer_types = {type(layer).__name__ for layer in loaded.layers}
    assert "Lambda" not in layer_types
    expected = {"Normalization", "StringLookup"}
    if template.data_kind == "time_series":
        expected = {"Normalization", "Rescaling"}
    if template.data_kind == "image_folder":
        expected = {"Resizing", "Rescaling"}
    assert expected <= layer_types


def test_normalization_is_adapted_on_train_rows_only(tiny_table):
    template = get_template("tabular_classification")
    frame = tiny_table.copy()
    frame.loc[frame.index[-5:], "x"] = 1000.0  # outliers: train mean != full mean
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(frame, "label", params, seed=0)
    model = template.build_model(prepared, params)

    normalizers = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)
    ]
    means = sorted(float(np.ravel(layer.mean)[0]) for layer in normalizers)
    train_mean = float(prepared.train.raw["x"].mean())
    all_mean = float(frame["x"].mean())
    assert not np.isclose(train_mean, all_mean)
    assert any(np.isclose(m, train_mean, rtol=1e-4) for m in means)
    assert not any(np.isclose(m, all_mean, rtol=1e-4) for m in means)


def test_schema_choices_come_from_train_rows_only(tiny_table):
    template = get_template("tabular_classification")
    frame = tiny_table.copy()
    params = resolve_params(template, FAST_PARAMS)
    parts = template.prepare(frame, "label", params, seed=0)
    held_out = parts.test.raw.index[0]
    frame.loc[held_out, "color"] = "only_in_test"

    prepared = template.prepare(frame, "label", params, seed=0)
    color = next(f for f in prepared.info["schema"] if f["name"] == "color")
    assert "only_in_test" in set(prepared.test.raw["color"])
    assert "only_in_test" not in color["choices"]


def test_class_weight_for_imbalanced_target(tiny_table):
    template = get_template("tabular_classification")
    frame = tiny_table.copy()
    frame["label"] = np.where(np.arange(len(frame)) < 8, "rare", "common")
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(frame, "label", params, seed=0)

    weights = prepared.class_weight
    assert weights is not None
    rare = prepared.info["class_names"].index("rare")
    common = prepared.info["class_names"].index("common")
    assert weights[rare] > 1.0 > weights[common]


def test_no_class_weight_for_balanced_target(tiny_table):
    template = get_template("tabular_classification")
    frame = tiny_table.copy()
    frame["label"] = np.where(np.arange(len(frame)) % 2 == 0, "a", "b")
    params = resolve_params(template, FAST_PARAMS)
    assert template.prepare(frame, "label", params, seed=0).class_weight is None


def test_split_is_stratified_and_seeded(tiny_table):
    template = get_template("tabular_classification")
    params = resolve_params(template, FAST_PARAMS)
    first = template.prepare(tiny_table, "label", params, seed=3)
    second = template.prepare(tiny_table, "label", params, seed=3)
    assert list(first.test.raw.index) == list(second.test.raw.index)
    for split in (first.train, first.val, first.test):
        assert set(np.unique(split.targets)) == {0, 1}


def test_regression_output_is_on_target_scale(tiny_regression_table):
    template = get_template("tabular_regression")
    frame = tiny_regression_table.copy()
    frame["y"] = frame["y"] * 100 + 5000
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(frame, "y", params, seed=0)
    model = template.build_model(prepared, params)
    outputs = np.asarray(model(prepared.test.inputs))
    # An untrained network predicts near the training mean, not near 0.
    assert np.abs(outputs.mean() - prepared.info["target_mean"]) < 5 * float(
        prepared.info["target_std"]
    )
    assert outputs.mean() > 1000
