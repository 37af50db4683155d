"""Issue 21's small ones: words for probabilities, input names, emoji, Models list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pages.ui import charts
from pages.ui.text import percent


@pytest.mark.parametrize(
    ("probability", "words"),
    [
        (1.0, ">99%"),
        (0.9951, ">99%"),
        (0.994, "99%"),
        (0.37, "37%"),
        (0.004, "<1%"),
        (0.0, "<1%"),
        (float("nan"), "–"),
    ],
)
def test_probabilities_in_words_never_read_certain(probability, words):
    assert percent(probability) == words


def test_probability_bars_say_more_than_99_not_100():
    fig = charts.class_probabilities({"cat": 0.9999, "dog": 0.0001})
    assert list(fig.data[0].text) == [">99%", "<1%"]


def test_valid_column_names_are_the_model_input_names():
    from core.tables.template import input_names

    names = input_names(
        ["Glucose", "age", "Age", "a/b", "c3_a_b", "features", "dense_0", "1st", "_x"]
    )
    assert names[:2] == ["Glucose", "age"]  # kept as they are
    assert names[2] == "c2_Age"  # the same name but for case: not kept twice
    assert names[3] != "c3_a_b" and names[3].startswith("c3_a_b")  # no clash
    assert names[4] == "c3_a_b"  # a valid name is kept even when it looks made up
    assert names[5:] == ["c5_features", "c6_dense_0", "c7_1st", "c8_x"]
    assert len(set(names)) == len(names)


def test_a_table_model_takes_its_columns_names_and_old_runs_keep_theirs(tmp_path):
    import keras
    import numpy as np
    import pandas as pd

    from core.catalog import get_template
    from core.tables.bundle import frame_to_inputs
    from core.templates.params import resolve_params
    from tests.conftest import FAST_PARAMS

    template = get_template("tabular_classification")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Glucose": rng.normal(size=40),
            "normalization": rng.normal(size=40),  # a Keras layer's own name
            "BMI (kg/m²)": rng.normal(size=40),
            "label": ["yes", "no"] * 20,
        }
    )
    params = resolve_params(template, FAST_PARAMS)
    prepared = template.prepare(frame, "label", params, seed=0)
    model = template.build_model(prepared, params)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    assert [t.name for t in loaded.inputs] == [
        "Glucose",
        "c1_normalization",
        "c2_BMI_kg_m",
    ]
    schema = prepared.info["schema"]
    assert [f["input"] for f in schema] == [t.name for t in loaded.inputs]
    outputs = np.asarray(loaded(frame_to_inputs(frame.head(3), schema)))
    assert outputs.shape == (3, 2)
    # A run saved before: its info.json maps each column to its `c0_…` input.
    old = [dict(f, input=f"c{i}_old") for i, f in enumerate(schema)]
    assert list(frame_to_inputs(frame.head(1), old)) == ["c0_old", "c1_old", "c2_old"]


def test_models_list_shows_words_and_keeps_ids_in_its_details():
    from streamlit.testing.v1 import AppTest

    from core import runs
    from tests.test_pages import APP

    spec = runs.RunSpec(
        "tabular_classification", "0" * 16, "target", {}, dataset_name="heart.csv"
    )
    run_id = runs.create_run(spec)
    runs.write_status(run_id, state="completed", epochs=2)
    runs.write_json_atomic(
        runs.run_dir(run_id) / runs.EVALUATION_FILE,
        {
            "metrics": {"accuracy": 0.8712, "balanced_accuracy": 0.85},
            "headline_metric": "balanced_accuracy",
            "verdict": {"beats_baseline": True, "headline": "Right 87% of the time"},
        },
    )
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/models.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "Trained",
        "Model",
        "Data",
        "Score",
        "Verdict",
        "State",
    ]
    row = table.iloc[0].to_dict()
    assert row["Model"] == "Classify rows of a table"
    assert row["Data"] == "heart.csv → target"
    assert row["Score"] == "Balanced accuracy 0.85"
    assert row["Verdict"] == "Right 87% of the time"
    shown = " ".join(str(v) for v in row.values())
    assert run_id not in shown and "tabular_classification" not in shown
    assert at.dataframe[1].value["Run id"].tolist() == [run_id]


EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")


def test_no_literal_emoji_in_what_the_app_shows():
    """Chromium without an emoji font draws a box: icons are `:material/…:` only."""
    root = Path(__file__).parents[1]
    files = [
        root / "app.py",
        *(root / "pages").rglob("*.py"),
        *(root / "core").rglob("*.py"),
    ]
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if EMOJI.search(line)
    ]
    assert found == []


def test_warm_up_imports_keras_once_in_the_background():
    """In a fresh process: nothing imports Keras until warm_up's one thread does."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from core import prediction\n"
        "assert 'keras' not in sys.modules\n"
        "thread = prediction.warm_up()\n"
        "assert prediction.warm_up() is thread\n"
        "thread.join(120)\n"
        "assert 'keras' in sys.modules and not thread.is_alive()\n"
        "assert prediction.warm_up() is thread\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_app_starts_the_warm_up_after_drawing_a_page():
    from streamlit.testing.v1 import AppTest

    from core import prediction
    from tests.test_pages import APP

    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    assert prediction._warm_up_thread is not None


def test_the_train_button_is_drawn_before_the_slow_data_check(monkeypatch):
    """The template's data check takes seconds on a first visit: the button comes first."""
    from streamlit.testing.v1 import AppTest

    from core import datasets
    from pages.ui import cache, state
    from tests.test_pages import APP

    checked = []

    def slow_check(*args, **kwargs):  # the page stops where the check would run
        import streamlit as st

        checked.append(args)
        st.stop()

    monkeypatch.setattr(cache, "template_notes_cached", slow_check)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[state.DATASET_ID] = datasets.store_sample("heart.csv")
    at.session_state[state.TARGET_COLUMN] = "target"
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception and checked
    assert [b.label for b in at.button if b.label == "Train"] == ["Train"]


def test_scores_columns_fit_a_phone_and_name_the_reference_on_hover():
    import pandas as pd

    from pages.ui.widgets import scores_columns

    table = pd.DataFrame(
        {"ours": [0.9], "baseline": [0.5], "gradient boosting reference": [0.8]},
        index=["Accuracy"],
    )
    config = scores_columns(table)
    widths = [config[c]["width"] for c in ["_index", *table.columns]]
    assert sum(widths) <= 358  # a 390 px phone less Streamlit's margins
    reference = config["gradient boosting reference"]
    assert reference["label"] == "reference"
    assert reference["help"] == "gradient boosting reference"
