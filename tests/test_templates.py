"""Template contract: every registered template trains, saves, reloads safely, predicts raw rows."""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from operator import attrgetter
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from core import __main__ as cli
from core import datasets
from core.catalog import get_template, list_templates, register, suggest, templates_for
from core.errors import TemplateError, UserError
from core.tables.bundle import frame_to_inputs
from core.templates.base import REQUIRED_ATTRIBUTES, Template
from core.templates.params import TRAINING_PARAMS, resolve_params, training_params
from core.templates.registry import unregister
from pages.ui import kinds
from tests.conftest import FAST_PARAMS

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.trains
@pytest.mark.parametrize("template", list_templates(), ids=attrgetter("name"))
def test_template_contract(template, workspace_root, tmp_path):
    """Every template trains on its example, reloads safely and predicts its own check input."""
    check_contract(template, tmp_path)


@pytest.mark.parametrize("template", list_templates(), ids=attrgetter("name"))
def test_saved_model_has_no_lambda_layer(template, workspace_root, tmp_path):
    check_no_lambda_layer(template, tmp_path)


def readme_template_code() -> str:
    """The code of README.md's "Adding a template" example."""
    section = README.read_text().split("## Adding a template", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.trains
def test_the_readme_template_fills_the_contract(workspace_root, tmp_path):
    """The README's example, registered as a reader would, passes the contract test."""
    exec(compile(readme_template_code(), str(README), "exec"), {})  # registers it
    try:
        template = get_template("linear_numbers")
        check_contract(template, tmp_path)
        check_no_lambda_layer(template, tmp_path)
    finally:
        unregister("linear_numbers")


def check_contract(template: Template, folder: Path) -> None:
    """Trains `template` on its example, reloads it safely and predicts its check input.

    Its data kinds are those a person can upload (`pages.ui.kinds`), and it is listed
    for each of them.
    """
    dataset, target = template.example_data()
    params = resolve_params(template, {**FAST_PARAMS, "batch_size": 8})

    assert isinstance(template.data_kind, str) and template.data_kind
    assert all(kinds.views_for(kind).upload for kind in template.sources)
    assert all(template in templates_for(kind) for kind in template.sources)
    score, reason = template.suggest(dataset, target)
    assert 0 < score <= 1 and reason  # a template fits its own example
    assert template.check(dataset, target, params) == []
    assert all(
        isinstance(note, str) for note in template.notes(dataset, target, params)
    )
    prepared = template.prepare(dataset, target, params, seed=0)
    assert min(prepared.info[f"n_{part}"] for part in ("train", "val", "test")) > 0
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
    template.calibrate(model, prepared, params)

    path = folder / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # default safe_mode=True
    check_input = template.write_check_input(prepared, folder)
    original, _ = template.predict_file(model, check_input, prepared.info)
    reloaded, _ = template.predict_file(loaded, check_input, prepared.info)
    assert len(reloaded) > 0
    # The reloaded model answers exactly like the one that was trained.
    pd.testing.assert_frame_equal(reloaded, original, rtol=1e-5, atol=1e-6)
    report = template.evaluate(loaded, prepared, params)
    assert report["metrics"] and json.loads(json.dumps(report, default=str))


def check_no_lambda_layer(template: Template, folder: Path) -> None:
    """The saved model holds its preprocessing layers and no Lambda layer."""
    dataset, target = template.example_data()
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(dataset, target, params, seed=0)
    model = template.build_model(prepared, params)
    path = folder / "model.keras"
    model.save(path)

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    class_names = set(re.findall(r'"class_name": "(\w+)"', json.dumps(config)))
    preprocessing = {"Normalization", "Rescaling", "TextVectorization"}
    assert class_names & preprocessing  # the walk does see layers
    assert "Lambda" not in class_names

    loaded = keras.saving.load_model(path, compile=False)
    layer_types = {type(layer).__name__ for layer in loaded.layers}
    assert "Lambda" not in layer_types
    assert layer_types & preprocessing  # preprocessing is inside


@pytest.mark.parametrize("name", ["tabular_classification", "tabular_regression"])
def test_table_model_takes_raw_rows_with_gaps_and_unseen_categories(name, tmp_path):
    template = get_template(name)
    frame, target = template.example_data()
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(frame, target, params, seed=0)
    model = template.build_model(prepared, params)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    rows = pd.DataFrame(
        {
            "x": [0.5, np.nan, -1.2],
            "z": [np.nan, 0.3, 1.0],
            "color": ["red", "purple", None],
        }
    )

    outputs = np.asarray(loaded(frame_to_inputs(rows, prepared.info["schema"])))
    assert np.isfinite(outputs).all()
    classes = len(prepared.info.get("class_names", [None]))
    assert outputs.shape == (3, classes)
    if template.task == "classification":
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)


def test_templates_for_a_kind_and_sources():
    table = {t.name for t in templates_for("table")}
    assert table == {
        "tabular_classification",
        "tabular_regression",
        "text_classification",
        "timeseries_forecasting",
        "next_word",  # a CSV's text column (a search log)
        "anomaly_detection",
    }
    assert [t.name for t in templates_for("images")] == ["image_classification"]
    assert get_template("timeseries_forecasting").data_kind == "series"
    assert get_template("image_classification").data_kind == "images"
    assert templates_for("no_such_kind") == []


SAMPLES = README.parent / "sample_data"


@pytest.mark.parametrize(
    ("sample", "target", "expected"),
    [
        ("seattle_weather.csv", "temp_max", "timeseries_forecasting"),
        ("heart.csv", "target", "tabular_classification"),
        ("auto_mpg.csv", "mpg", "tabular_regression"),
        ("sentiment_sentences.csv", "label", "text_classification"),
        ("language_detection.csv", "Language", "text_classification"),
    ],
)
def test_the_app_and_the_cli_suggest_the_same_template(
    sample, target, expected, workspace_root
):
    """The Train page asks `suggest` on the stored sample; the CLI on the file it is given."""
    app_choice, reason = suggest(
        datasets.load_table(datasets.store_sample(sample)), target, "table"
    )
    args = argparse.Namespace(
        data=SAMPLES / sample, template=None, target=target, sheet=None
    )
    cli_choice, _ = cli._template_and_dataset(args)
    assert app_choice.name == cli_choice.name == expected
    assert f"`{target}`" in reason


def test_suggest_refuses_a_kind_no_template_trains_on():
    with pytest.raises(UserError, match="dataset_kind='sound'"):
        suggest(pd.DataFrame({"y": [1]}), "y", "sound")


class _Toy(Template):
    name = "toy_template"
    title = "Toy"
    task = "toy"
    data_kind = "audio"  # a kind no built-in template trains on
    bundle_script = "core.tables.bundle"

    def suggest(self, data, target):
        return 1.0, "toys win"

    # The contract's required methods: these tests never train the toy.
    def example_data(self): ...
    def check(self, data, target, params): ...
    def prepare(self, data, target, params, seed): ...
    def build_model(self, prepared, params): ...
    def evaluate(self, model, prepared, params): ...
    def write_check_input(self, prepared, folder): ...
    def predict_file(self, model, path, info): ...


def test_a_registered_template_is_listed_and_suggested_for_its_kind():
    register(_Toy)
    try:
        assert [t.name for t in templates_for("audio")] == ["toy_template"]
        best, reason = suggest(None, None, "audio")
        assert (best.name, reason) == ("toy_template", "toys win")
        assert get_template("toy_template").sources == ("audio",)
        with pytest.raises(UserError, match="predicts from files"):
            best.predict_frame(None, pd.DataFrame(), {})
    finally:
        unregister("toy_template")
    with pytest.raises(TemplateError, match="Unknown template `toy_template`"):
        get_template("toy_template")


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


def test_a_template_without_a_required_method_cannot_be_registered():
    class Partial(Template):
        name, title, task, bundle_script = "partial", "Partial", "toy", "x.bundle"

        def predict_file(self, model, path, info): ...

    with pytest.raises(TypeError, match="abstract method.*build_model"):
        register(Partial)
    with pytest.raises(TemplateError, match="Unknown template `partial`"):
        get_template("partial")


@pytest.mark.parametrize("attribute", ["name", "title", "task", "bundle_script"])
def test_a_template_without_a_required_attribute_is_refused_where_defined(attribute):
    with pytest.raises(TypeError, match=f"attribute `{attribute}` of template `_Bad`"):
        type("_Bad", (_Toy,), {attribute: ""})


def test_a_template_that_cannot_predict_is_refused_where_defined():
    with pytest.raises(TypeError, match="`_Mute` cannot predict"):
        type("_Mute", (_Toy,), {"predict_file": Template.predict_file})


def test_every_registered_template_fills_the_contract():
    for template in list_templates():
        assert all(getattr(template, a) for a in REQUIRED_ATTRIBUTES)
        assert not getattr(type(template), "__abstractmethods__", None)


def test_training_params_replaces_only_the_defaults_it_is_given():
    params = training_params(epochs=7, patience=3)
    assert [p.name for p in params] == [p.name for p in TRAINING_PARAMS]
    changed = {p.name: p.default for p in params if p not in TRAINING_PARAMS}
    assert changed == {"epochs": 7, "patience": 3}
    with pytest.raises(ValueError, match="Received: epoch=7"):
        training_params(epoch=7)
