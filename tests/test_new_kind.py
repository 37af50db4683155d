"""A new kind of template, registered here only, is served by the whole app and the CLI.

Issue 9's "done when": no page or core file names the toy kind, yet Data → Train →
Results → Predict (AppTest) and `python -m core train/predict` all work with it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core import __main__ as cli
from core import launch, runs, training
from core.catalog import list_templates
from core.templates.base import Prepared, Split, Template
from core.templates.params import Param
from core.templates.registry import register, unregister
from pages.ui import kinds, state
from tests.test_pages import open_page, texts

TOY = "toy_numbers"


class ToyNumbers(Template):
    """A one-layer Keras model that predicts a number from a table's number columns."""

    name = TOY
    title = "Toy: a number from the other numbers"
    description = "One dense layer on the number columns (a test-only template)."
    task = "toy"
    data_kind = "toy"
    sources = ("table",)
    params = (
        Param("epochs", "Maximum epochs", 3, min_value=1, max_value=50),
        Param("time_budget_s", "Time budget (seconds)", 0, min_value=0),
        Param("batch_size", "Batch size", 16, choices=(8, 16, 32)),
        Param("patience", "Patience (epochs)", 2, min_value=1, advanced=True),
        Param("seed", "Random seed", 7, min_value=0, advanced=True),
    )
    bundle_script = "core.tables.bundle"
    predict_input = "rows.csv"

    def suggest(self, frame: pd.DataFrame, target: str | None) -> tuple[float, str]:
        return 0.0, "A toy."  # never the suggested one: the page must offer it anyway

    def example_data(self) -> tuple[pd.DataFrame, str]:
        return toy_frame(), "y"

    def preflight(self, frame: Any, target: str | None, params: Mapping) -> list[str]:
        return [f"Uses the number columns {', '.join(_features(frame, target))}."]

    def check(self, frame: Any, target: str | None, params: Mapping) -> list[str]:
        if target not in frame or not _features(frame, target):
            return ["The toy needs a number target and other number columns."]
        return []

    def prepare(
        self, frame: pd.DataFrame, target: str | None, params: Mapping, seed: int
    ) -> Prepared:
        features = _features(frame, target)
        x = frame[features].to_numpy("float32")
        y = frame[target].to_numpy("float32")
        cuts = [0, len(frame) * 3 // 5, len(frame) * 4 // 5, len(frame)]
        parts = [
            Split(x[start:end], y[start:end], frame.iloc[start:end])
            for start, end in itertools.pairwise(cuts)
        ]
        info = {"features": features, "target": target, "data_kind": "toy"}
        return Prepared(*parts, info=info | {"template": TOY})

    def build_model(self, prepared: Prepared, params: Mapping) -> Any:
        import keras

        inputs = keras.Input((prepared.train.inputs.shape[1],))
        scale = keras.layers.Normalization()
        scale.adapt(prepared.train.inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(scale(inputs)))
        model.compile(keras.optimizers.Adam(0.1), "mse", metrics=["mae"])
        return model

    def evaluate(self, model: Any, prepared: Prepared, params: Mapping) -> dict:
        test = prepared.test
        guess = model.predict(test.inputs, verbose=0)[:, 0]
        mae = float(np.mean(np.abs(guess - test.targets)))
        baseline = float(np.mean(np.abs(prepared.train.targets.mean() - test.targets)))
        return {
            "metrics": {"mae": mae},
            "baseline": {"mae": baseline},
            "summary": [f"The toy is off by {mae:.2f} on average."],
        }

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        path = folder / "rows.csv"
        prepared.test.raw.to_csv(path, index=False)
        return path

    def predict_frame(
        self, model: Any, frame: pd.DataFrame, info: Mapping
    ) -> tuple[pd.DataFrame, list[str]]:
        x = frame[info["features"]].to_numpy("float32")
        return frame.assign(prediction=model.predict(x, verbose=0)[:, 0]), []


def _toy_results(run_id: str, evaluation: dict) -> None:
    import streamlit as st

    st.markdown(f"The toy's own report: {evaluation['metrics']['mae']:.2f}")


def _features(frame: pd.DataFrame, target: str | None) -> list[str]:
    return [c for c in frame.select_dtypes("number").columns if c != target]


def toy_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "y": 2 * a - b})


@pytest.fixture
def toy_template():
    register(ToyNumbers)
    yield TOY
    unregister(TOY)


@pytest.fixture
def toy_csv(tmp_path) -> Path:
    path = tmp_path / "toy.csv"
    toy_frame().to_csv(path, index=False)
    return path


@pytest.mark.trains
def test_the_app_serves_a_new_kind(toy_template, toy_csv, monkeypatch):
    # trained in-process below
    monkeypatch.setattr(launch.LocalExecutor, "submit", lambda _, run_id: "0")
    at = open_page("pages/data.py")
    at.file_uploader(key="_w_upload").set_value(
        ("toy.csv", toy_csv.read_bytes(), "text/csv")
    ).run()
    at.selectbox(key="_w_target").set_value("y").run()
    assert not at.exception

    at.switch_page("pages/train.py").run()
    picker = at.radio(key="_w_template_y")
    assert ToyNumbers.title in picker.options  # offered, though never suggested
    picker.set_value(TOY).run()
    assert "Uses the number columns a, b." in texts(at.markdown)
    at.form_submit_button[0].click().run()
    assert not at.exception
    run_id = at.session_state[state.ACTIVE_RUN_ID]
    assert runs.read_spec(run_id)["template"] == TOY
    assert training.train_run(run_id) == "completed", runs.read_status(run_id)

    at.switch_page("pages/results.py").run()
    assert not at.exception
    assert "The toy is off by" in texts(at.info)  # no verdict: a neutral headline
    assert "Mean absolute error" in at.dataframe[0].value.index
    toy_views = kinds.KindViews(results=_toy_results)  # a view of its own, test only
    monkeypatch.setitem(kinds._VIEWS, "toy", toy_views)
    at.run()
    assert "The toy's own report" in texts(at.markdown)

    at.switch_page("pages/predict.py").run()
    rows = toy_frame(5).drop(columns="y").to_csv(index=False).encode()
    at.file_uploader(key="_w_generic_predict").set_value(
        ("rows.csv", rows, "text/csv")
    ).run()
    assert not at.exception
    assert len(at.dataframe[0].value["prediction"]) == 5
    assert at.get("download_button")


@pytest.mark.trains
def test_the_cli_serves_a_new_kind(toy_template, toy_csv, tmp_path, capsys):
    args = ["train", str(toy_csv), "--target", "y", "--template", TOY, "--json"]
    assert cli.main([*args, "--epochs", "3"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert runs.read_spec(run_id)["template"] == TOY
    out = tmp_path / "predictions.csv"
    assert cli.main(["predict", run_id, str(toy_csv), "-o", str(out)]) == 0
    assert len(pd.read_csv(out)["prediction"]) == 60


def test_a_kind_without_views_gets_the_generic_ones():
    assert kinds.views_for("toy") == kinds.KindViews()
    assert kinds.views_for("series").results is not kinds.KindViews().results
    # One upload widget per kind of stored data a template trains on (today a CSV,
    # pictures, a corpus, and texts).
    sources = {kind for template in list_templates() for kind in template.sources}
    assert len(kinds.uploads()) == len(sources)
    assert all(kinds.views_for(kind).upload for kind in sources)
