"""AppTest: every page renders, reacts to its main inputs and never raises."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import datasets, launch, run_locks, runs, workspace
from core.columns import suggest_target
from pages.ui import charts, glossary, state, text, widgets
from pages.ui.runs import run_label
from tests.conftest import train_here

APP = Path(__file__).parents[1] / "app.py"
HEART = Path(__file__).parents[1] / "sample_data" / "heart.csv"
TINY_CSV = b"age,color,label\n" + b"".join(
    f"{20 + i},{'red' if i % 2 else 'blue'},{'yes' if i % 3 else 'no'}\n".encode()
    for i in range(30)
)


def open_page(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception
    return at


def texts(elements) -> str:
    """The text a viewer sees: Markdown escapes (pages/ui/text.plain) removed."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(e.value) for e in elements))


def shown(sentence: str) -> str:
    """A sentence from `core` as a viewer sees it (pages/ui/text.sentence)."""
    return re.sub(r"\\(.)", r"\1", text.sentence(sentence))


# Real trained runs, shared by the results, predict and models tests.
def _train_sample(sample: str, template: str, target: str) -> str:
    spec = runs.RunSpec(
        template,
        datasets.store_sample(sample),
        target,
        {"epochs": 2, "batch_size": 32, "patience": 2},
        dataset_name=sample,
    )
    return train_here(spec)


@pytest.fixture
def regression_run(trained_workspace, monkeypatch) -> str:
    def train() -> str:
        return _train_sample("auto_mpg.csv", "tabular_regression", "mpg")

    return trained_workspace("mpg", train).use(monkeypatch)


@pytest.fixture
def trained_run(trained_workspace, monkeypatch, prepared_downloads) -> str:
    def train() -> str:
        return _train_sample("heart.csv", "tabular_classification", "target")

    trained_workspace("trained", train).use(monkeypatch)
    return next(r for r in runs.list_runs() if runs.read_spec(r)["dataset_id"])


# Home
def test_home_offers_samples_and_switches_to_data():
    at = open_page()
    assert "Predictive Studio" in texts(at.title)
    assert len(at.button) >= 3  # one per sample card
    at.button(key="_w_sample_heart.csv").click().run()
    assert not at.exception
    assert at.session_state[state.TARGET_COLUMN] == "target"
    assert at.session_state[state.DATASET_ID] == datasets.store_sample("heart.csv")
    assert any(t.value == "Data" for t in at.title)


# Data
def test_data_page_upload_shows_preview_types_and_check():
    at = open_page("pages/data.py")
    assert "or choose a sample to begin" in texts(at.info)
    at.file_uploader[0].set_value(("tiny.csv", TINY_CSV, "text/csv")).run()
    assert not at.exception
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["age", "color", "label"] and len(preview) == 20
    assert set(preview["color"]) == {"red", "blue"}  # text survives loading
    assert "30 rows · 3 columns" in texts(at.caption)
    column_types = at.data_editor[0].value.set_index("column")["type"].to_dict()
    assert column_types == {
        "age": "identifier",
        "color": "category",
        "label": "boolean",
    }
    assert at.selectbox(key="_w_target").value == "label"
    assert at.session_state[state.TARGET_COLUMN] == "label"
    assert at.get("plotly_chart")
    assert "“age” looks like an ID" in texts(at.info)  # quoted, without backticks


def test_data_page_shows_one_box_per_kind_of_finding_naming_its_columns():
    frame = pd.DataFrame(
        {
            column: [np.nan if i % 5 == k else (i * (k + 3)) % 17 for i in range(40)]
            for k, column in enumerate(["a", "b", "c"])
        }
    ).assign(site="Lyon", label=["yes", "no"] * 20)
    at = open_page(
        "pages/data.py",
        **{
            state.DATASET_ID: datasets.store_upload(
                "gaps.csv", frame.to_csv(index=False).encode()
            )
        },
    )
    assert at.selectbox(key="_w_target").value == "label"
    assert not at.error
    [copies] = at.warning  # another kind: a box of its own
    assert str(copies.value).startswith("**1 rows are exact copies of other rows.**")
    boxes = [str(box.value) for box in at.info]
    assert boxes == [
        "**Missing values in 3 columns: “a”, “b”, “c”.**  \nThe app fills missing "
        "numbers with the training average and adds a 'was missing' signal; missing "
        "categories become their own value.",
        "**“site” has the same value in every row.**  \nIt carries no information, "
        "so the app leaves it out.",
    ]
    [details] = [e for e in at.expander if e.label == "What was found in each column"]
    assert details.markdown[0].value.splitlines() == [
        f"- “{column}” has 8 missing values (20%)." for column in "abc"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\x01\x02binary\xff" * 50, "not a text CSV file"),
        (b"a,b,c\n", "has a header but no data rows"),
        (b"", "is empty"),
    ],
    ids=["binary", "header_only", "empty"],
)
def test_data_page_bad_csv_shows_specific_error(content, expected):
    at = open_page("pages/data.py")
    at.file_uploader[0].set_value(("bad.csv", content, "text/csv")).run()
    assert not at.exception
    assert expected in texts(at.error)
    assert state.DATASET_ID not in at.session_state


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOKS = Path(__file__).parent / "data" / "workbooks"


def test_data_page_takes_an_excel_workbook_and_names_its_sheets():
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        pd.read_csv(io.BytesIO(TINY_CSV)).to_excel(
            writer, sheet_name="first", index=False
        )
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Sheet2", index=False)
    at = open_page("pages/data.py")
    at.file_uploader[0].set_value(("tiny.xlsx", buffer.getvalue(), XLSX)).run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value.columns) == ["age", "color", "label"]
    assert "30 rows · 3 columns" in texts(at.caption)
    assert "`first` is used" in texts(at.info)
    assert at.session_state[state.DATASET_ID] == datasets.store_upload(
        "tiny.csv", TINY_CSV
    )  # pandas writes the same CSV back: one table, one data set
    at.selectbox(key="_w_sheet").set_value("Sheet2").run()
    assert list(at.dataframe[0].value.columns) == ["x"]
    assert "`Sheet2` is used" in texts(at.info)


def test_data_page_reads_an_old_excel_workbook_and_refuses_an_empty_sheet():
    data = (WORKBOOKS / "any_sheets.xls").read_bytes()
    at = open_page("pages/data.py")
    at.file_uploader[0].set_value(("old.xls", data, "application/vnd.ms-excel")).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="_w_sheet").options == ["Visible", "Hidden", "VeryHidden"]
    assert "3 rows · 2 columns" in texts(at.caption)  # the blank row left out
    at.selectbox(key="_w_sheet").set_value("Hidden").run()
    assert "The sheet `Hidden` of `old.xls` is empty" in texts(at.error)
    assert state.DATASET_ID not in at.session_state


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.xlsx", b"PK\x03\x04 not a workbook" * 9, "as a workbook (.xlsx)"),
        ("old.xls", b"\xd0\xcf\x11\xe0" * 9, "protected by a password"),
        ("report.docx", b"PK\x03\x04" * 9, "not a table file this app reads"),
    ],
    ids=["corrupt_xlsx", "xls", "docx"],
)
def test_data_page_refused_file_says_so_and_drops_the_old_data_set(
    name, content, expected
):
    at = open_page(
        "pages/data.py", **{state.DATASET_ID: datasets.store_upload("t.csv", TINY_CSV)}
    )
    assert at.dataframe  # the earlier data set is shown
    at.file_uploader[0].set_value((name, content, "application/octet-stream")).run()
    assert not at.exception
    assert expected in texts(at.error)
    assert state.DATASET_ID not in at.session_state
    assert not at.dataframe and not at.caption


def test_data_page_type_override_reaches_session_state():
    dataset_id = datasets.store_upload("tiny.csv", TINY_CSV)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[state.DATASET_ID] = dataset_id
    at.session_state[f"_w_types_{dataset_id}"] = {
        "edited_rows": {0: {"type": "number"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert at.session_state[state.COLUMN_TYPE_OVERRIDES] == {"age": "number"}
    assert "looks like an ID" not in texts(at.info)


def test_data_page_sample_picker_sets_target():
    at = open_page("pages/data.py")
    at.selectbox(key="_w_sample").set_value("auto_mpg.csv").run()
    assert not at.exception
    assert at.session_state[state.TARGET_COLUMN] == "mpg"
    assert at.selectbox(key="_w_target").value == "mpg"


# Train
def test_train_page_without_data_points_to_data_page():
    at = open_page("pages/train.py")
    assert "Choose a data set first" in texts(at.info)


def test_train_page_shows_cards_and_suggested_template():
    dataset_id = datasets.store_sample("auto_mpg.csv")
    at = open_page(
        "pages/train.py", **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "mpg"}
    )
    cards = texts(at.markdown)
    assert (
        "Classify rows of a table" in cards and "Predict a number from a table" in cards
    )
    assert "Suggested: **Predict a number from a table**" in texts(at.info)
    assert at.radio(key="_w_template_mpg").value == "tabular_regression"
    assert at.number_input(key="_w_param_epochs").value == 200
    assert at.session_state[state.TEMPLATE_NAME] == "tabular_regression"


def test_train_page_lists_the_chosen_templates_data_notes():
    dataset_id = datasets.store_sample("seattle_weather.csv")
    at = open_page(
        "pages/train.py",
        **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "temp_max"},
    )
    assert at.radio(key="_w_template_temp_max").value == "timeseries_forecasting"
    notes = next(e for e in at.expander if "will see" in e.label)
    assert "daily" in texts(notes.markdown)


def test_train_page_blocking_problem_is_an_error_not_a_run():
    frame = pd.DataFrame({"x": range(30), "y": [0] * 29 + [1]})
    dataset_id = datasets.store_upload("one_b.csv", frame.to_csv(index=False).encode())
    at = open_page(
        "pages/train.py", **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "y"}
    )
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert "have a single row" in texts(at.error)
    assert runs.list_runs() == []


def test_train_page_bad_param_is_an_error():
    dataset_id = datasets.store_sample("heart.csv")
    at = open_page(
        "pages/train.py",
        **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "target"},
    )
    at.text_input(key="_w_param_hidden_units").set_value("lots")
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert "hidden_units" in texts(at.error)
    assert runs.list_runs() == []


def test_train_button_starts_a_run(monkeypatch):
    launched = []
    monkeypatch.setattr(
        launch.LocalExecutor, "submit", lambda _, run_id: launched.append(run_id) or "0"
    )
    dataset_id = datasets.store_sample("heart.csv")
    at = open_page(
        "pages/train.py",
        **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "target"},
    )
    at.number_input(key="_w_param_epochs").set_value(3)
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert launched == runs.list_runs() == [at.session_state[state.ACTIVE_RUN_ID]]
    spec = runs.read_spec(launched[0])
    assert spec["params"]["epochs"] == 3 and spec["target"] == "target"
    assert at.get("progress")[0].proto.text == "Waiting to start"
    assert "heart.csv → target" in texts(at.caption)


def test_train_button_comes_first_and_settings_are_collapsed():
    dataset_id = datasets.store_sample("heart.csv")
    at = open_page(
        "pages/train.py",
        **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "target"},
    )
    position = {id(e): i for i, e in enumerate(_walk(at.main))}
    train = position[id(at.form_submit_button[0])]
    assert at.form_submit_button[0].label == "Train"
    assert all(train < position[id(n)] for n in at.number_input)
    assert train < position[id(at.radio(key="_w_template_target"))]
    settings = next(e for e in at.expander if e.label.startswith("More settings"))
    assert {n.key for n in settings.number_input} == {n.key for n in at.number_input}
    assert at.number_input(key="_w_param_epochs").help  # plain help on each setting


def test_train_page_asks_the_forecast_horizon_in_the_datas_units(monkeypatch):
    monkeypatch.setattr(launch.LocalExecutor, "submit", lambda _, run_id: "0")
    dataset_id = datasets.store_sample("seattle_weather.csv")
    at = open_page(
        "pages/train.py",
        **{state.DATASET_ID: dataset_id, state.TARGET_COLUMN: "temp_max"},
    )
    horizon = at.number_input(key="_w_param_horizon_day")
    assert horizon.label == "Forecast the next … days" and horizon.value == 7
    assert "one value per day" in horizon.help
    settings = next(e for e in at.expander if e.label.startswith("More settings"))
    assert "_w_param_horizon_day" not in {n.key for n in settings.number_input}
    horizon.set_value(10)
    at.form_submit_button[0].click().run()
    assert not at.exception
    spec = runs.read_spec(at.session_state[state.ACTIVE_RUN_ID])
    assert spec["params"]["horizon"] == 10 and spec["params"]["lookback"] == 0


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _hand_written_run(
    state: str,
    dataset_id: str = "0" * 16,
    dataset_name: str = "",
    target: str = "label",
    **status,
) -> str:
    spec = runs.RunSpec(
        "tabular_classification",
        dataset_id,
        target,
        {"epochs": 10},
        dataset_name=dataset_name,
    )
    run_id = runs.create_run(spec)
    if state in runs.ACTIVE_STATES:
        assert run_locks.hold_worker_lock(run_id)  # this test process is its worker
    runs.write_status(run_id, state=state, epochs=10, **status)
    return run_id


def test_live_progress_follows_the_run_directory():
    heart = datasets.store_sample("heart.csv")
    run_id = _hand_written_run(
        "running",
        dataset_id=heart,
        target="target",
        epoch=2,
        pid=os.getpid(),
        device="CPU (2 cores)",
        started_at=time.time() - 4,
    )
    pd.DataFrame(
        {
            "epoch": [1, 2],
            "loss": [0.9, 0.7],
            "val_loss": [1.0, 0.8],
            "accuracy": [0.5, 0.6],
        }
    ).to_csv(runs.runs_root() / run_id / runs.METRICS_FILE, index=False)
    session = {state.ACTIVE_RUN_ID: run_id, state.DATASET_ID: heart}
    at = open_page("pages/train.py", **session)
    assert texts(at.subheader) == "Progress"
    progress = at.get("progress")
    assert progress[0].proto.text.startswith("Training: epoch 2/10, about ")
    assert "Device: CPU (2 cores)" in texts(at.caption)
    # a 9-minute budget: 2 of 100 epochs took 3 min, so 9 min left is not 2 h 27 min
    runs.write_status(
        run_id, epochs=100, time_budget_s=540, started_at=time.time() - 180
    )
    assert (
        at.run().get("progress")[0].proto.text
        == "Training: epoch 2/100, about 6 min left"
    )
    runs.write_status(run_id, started_at=time.time() - 600)
    assert at.run().get("progress")[0].proto.text == (
        "Training: epoch 2/100, time budget reached: finishing up"
    )
    # the time left includes the work after the epochs: 2 epochs of 2 s, then ~2 min
    runs.write_status(run_id, epochs=4, time_budget_s=0, started_at=time.time() - 4)
    runs.write_status(run_id, after_training_s=120)
    assert at.run().get("progress")[0].proto.text == (
        "Training: epoch 2/4, about 2 min left"
    )
    # 5 min of budget left, 400 s of work kept for after training: out of time
    runs.write_status(
        run_id,
        time_budget_s=600,
        run_started_at=time.time() - 300,
        after_training_s=400,
    )
    assert at.run().get("progress")[0].proto.text == (
        "Training: epoch 2/4, time budget reached: finishing up, about 5 min left"
    )
    runs.write_status(
        run_id,
        phase="evaluating",
        training_ended_at=time.time() - 30,
        after_training_s=200,
        time_budget_s=0,
    )
    assert at.run().get("progress")[0].proto.text == (
        "Evaluating on the test rows… about 3 min left"
    )
    runs.write_status(run_id, phase="training", run_started_at=None)
    runs.write_status(
        run_id, epoch=0, epochs=10, time_budget_s=0, started_at=time.time()
    )
    assert at.run().get("progress")[0].proto.text == (
        "Training: epoch 0/10, estimating the time left…"
    )
    runs.write_status(run_id, time_budget_s=540, run_started_at=time.time())
    assert at.run().get("progress")[0].proto.text == (
        "Training: epoch 0/10, estimating the time left (at most 9 min)…"
    )
    runs.write_status(run_id, epoch=2, started_at=time.time() - 4, time_budget_s=0)
    assert at.button(key="_w_stop")
    assert len(at.get("plotly_chart")) == 1

    at.button(key="_w_stop").click().run()
    assert runs.is_stop_requested(run_id)
    runs.write_status(run_id, state="completed", epoch=2)
    at.run()
    assert not at.exception
    assert "Epoch 2/10 · completed" in at.get("progress")[0].proto.text
    assert "Training finished" in texts(at.success)
    assert "_w_stop" not in [b.key for b in at.button]
    runs.write_status(run_id, stop_reason="early_stopping", best_epoch=1)
    assert at.run().get("progress")[0].proto.text == (
        "Stopped early at epoch 2 of 10: the validation score had stopped "
        "improving (the best epoch, 1, is kept)."
    )


def _render_progress(run_id: str) -> None:
    from pages.ui.runs import live_progress

    live_progress(run_id)


def _render_formats(run_id: str) -> None:
    from pages.ui.runs import format_downloads

    format_downloads(run_id, ("tflite",))


def test_other_formats_read_in_peoples_words_and_show_a_failed_conversion(
    monkeypatch,
):
    from core import formats
    from core.errors import ExportError

    def broken(run_id, name, force=False):
        raise ExportError("The TensorFlow Lite (LiteRT) export failed: no space left")

    monkeypatch.setattr(formats, "export_format", broken)
    run_id = _hand_written_run("completed")
    at = AppTest.from_function(
        _render_formats, args=(run_id,), default_timeout=30
    ).run()
    assert "**For phones and small devices (TensorFlow Lite)**" in texts(at.markdown)
    at.button(key="_w_convert_tflite").click().run()
    assert not at.exception
    assert at.status[0].label == "The TensorFlow Lite (LiteRT) conversion failed."
    assert "export failed: no space left" in texts(at.error)


@pytest.mark.usefixtures("ordered_run_ids")  # runs made in one millisecond
def test_live_progress_shows_failed_error_and_queue_position():
    failed = _hand_written_run("failed", error="Training diverged: lower the rate.")
    at = AppTest.from_function(
        _render_progress, args=(failed,), default_timeout=30
    ).run()
    assert "Training diverged" in texts(at.error)
    started = time.mktime((2026, 1, 2, 10, 31, 0, 0, 0, -1))
    _hand_written_run(
        "running", dataset_name="heart.csv", pid=os.getpid(), started_at=started
    )
    _hand_written_run("queued", pid=os.getpid())
    queued = _hand_written_run(
        "queued", pid=os.getpid(), message="Waiting for run X to finish."
    )
    at = AppTest.from_function(
        _render_progress, args=(queued,), default_timeout=30
    ).run()
    assert not at.exception
    assert "Waiting: 2 trainings ahead of this one (heart.csv, started 10:31)" in texts(
        at.info
    )
    assert at.get("progress")[0].proto.text == "Waiting to start"


def test_live_progress_names_the_phase_after_the_epochs():
    run_id = _hand_written_run(
        "running",
        epoch=12,
        pid=os.getpid(),
        phase="training",
        started_at=time.time() - 12,
    )
    runs.write_status(run_id, epochs=200)
    at = AppTest.from_function(
        _render_progress, args=(run_id,), default_timeout=30
    ).run()
    text = at.get("progress")[0].proto.text
    assert text.startswith("Training: epoch 12/200, about ") and text.endswith(" left")
    for phase, shown in [
        ("preparing", "Preparing the data…"),
        ("checking", "Checking the downloadable model…"),
        ("evaluating", "Evaluating on the test rows…"),
        ("packaging", "Preparing the model download…"),
    ]:
        runs.write_status(run_id, phase=phase)
        assert runs.read_status(run_id).eta_seconds is None
        at.run()  # AppTest does not tick run_every: rerun after each status write
        assert at.get("progress")[0].proto.text == shown
    assert at.get("progress")[0].proto.value == 100  # the epochs are behind it


def test_train_page_hides_or_labels_another_datasets_run():
    heart = datasets.store_sample("heart.csv")
    done = _hand_written_run("completed", dataset_id=heart, dataset_name="heart.csv")
    mpg = datasets.store_sample("auto_mpg.csv")
    session = {
        state.DATASET_ID: mpg,
        state.TARGET_COLUMN: "mpg",
        state.ACTIVE_RUN_ID: done,
    }
    at = open_page("pages/train.py", **session)
    assert not at.get("progress") and not at.subheader  # no stale curves
    busy = _hand_written_run(
        "running", dataset_id=heart, dataset_name="heart.csv", pid=os.getpid()
    )
    at.session_state[state.ACTIVE_RUN_ID] = busy
    at.run()
    assert texts(at.subheader) == "Another training in progress"
    assert "heart.csv → label" in texts(at.caption)
    assert at.get("progress")


# Results, Predict, Models on a real trained run
@pytest.mark.trains
def test_results_page_on_a_trained_run(trained_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    verdict = runs.read_evaluation(trained_run)["verdict"]
    headline = at.success if verdict["beats_baseline"] else at.warning
    assert shown(verdict["sentence"]) in texts(headline)
    assert "How sure: 95% intervals" in texts(at.caption)
    table = at.dataframe[0].value
    assert list(table.columns) == ["ours", "baseline", "gradient boosting reference"]
    assert "Accuracy" in table.index
    per_class = at.dataframe[1].value
    assert set(per_class["class"]) == {"0", "1"}
    # confusion matrix, ROC, PR, importance, learning curves
    assert len(at.get("plotly_chart")) == 5


@pytest.mark.trains
def test_results_page_says_what_each_score_and_chart_means(trained_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    help_box = next(e for e in at.expander if e.label == "What these scores mean")
    words = texts(help_box.markdown)
    for key in runs.read_evaluation(trained_run)["metrics"]:
        assert f"{glossary.LABELS[key]}**: {glossary.MEANINGS[key]}" in words
    captions = texts(at.caption)
    assert "a bootstrap" in captions  # what "likely X–Y" means, once
    assert "below zero (shuffling made it better)" in captions  # importance bars
    assert "ROC curve:" in captions


@pytest.mark.trains
def test_results_page_gives_no_green_check_to_a_model_in_the_noise(
    trained_run, monkeypatch
):
    report = runs.read_evaluation(trained_run)
    report["verdict"] = {**report["verdict"], "beats_baseline": False}
    report["summary"][0] = "53% (40–66%) — no better than guessing: always `0`"
    monkeypatch.setattr(runs, "read_evaluation", lambda run_id: report)
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert "no better than guessing: always “0”" in texts(at.warning)  # no backticks
    assert "no better than guessing" not in texts(at.success)


def _main_in_order(at) -> list[tuple[str, str]]:
    """(type, label or text) of each element of the main area, top to bottom."""
    found = []

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if children:
            for index in sorted(children):
                walk(children[index])
            return
        found.append((node.type, getattr(node, "label", None) or str(node.value)))

    walk(at.main)
    return found


@pytest.mark.trains
def test_results_page_offers_the_prepared_download_before_the_report(trained_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    order = _main_in_order(at)
    download = order.index(("download_button", "Download model"))
    assert order[download - 1] == ("selectbox", "Run")  # right under the run picker
    sentence = shown(runs.read_evaluation(trained_run)["verdict"]["sentence"])
    unescaped = [re.sub(r"\\(.)", r"\1", text) for _, text in order]
    report = next(i for i, text in enumerate(unescaped) if sentence in text)
    assert download < report
    assert (
        "ready-to-run predict script; works with Python and Keras 3"
        in order[download + 1][1]
    )
    assert not [b for b in at.button if b.key == "_w_prepare_download"]
    labels = texts(at.markdown)
    for words in (
        "For phones and small devices (TensorFlow Lite)",
        "For other languages and servers (ONNX)",
        "For TensorFlow Serving (SavedModel)",
    ):
        assert f"**{words}**" in labels
    assert report < order.index(("subheader", "Other ways to use the model"))


@pytest.mark.trains
def test_results_page_prepares_a_missing_download_once_on_click(trained_run):
    from core import export

    export.bundle_path(trained_run).unlink()  # as for a run trained before this
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert not [b for b in at.download_button if b.label == "Download model"]
    assert "Preparing it takes a few seconds once" in texts(at.caption)
    at.button(key="_w_prepare_download").click().run(timeout=120)
    assert not at.exception
    assert [b.label for b in at.download_button][:1] == ["Download model"]
    assert export.read_download(trained_run)["prepared_by"] == "results"
    again = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert [b.label for b in again.download_button][:1] == ["Download model"]


@pytest.mark.trains
def test_results_page_waits_while_the_worker_prepares_the_download(trained_run):
    before = runs.read_status(trained_run).state
    runs.write_status(trained_run, state="running", phase="packaging")
    assert run_locks.hold_worker_lock(trained_run)  # as the worker does
    try:
        at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
        assert "Preparing the model download" in texts(at.info)
        assert "Download model" not in [b.label for b in at.download_button]
        assert not [b for b in at.button if b.key == "_w_prepare_download"]
    finally:
        run_locks.release_worker_lock(trained_run)
        runs.write_status(trained_run, state=before, phase="")
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert [b.label for b in at.download_button][:1] == ["Download model"]


@pytest.mark.trains
def test_results_page_says_why_the_download_was_not_prepared(trained_run, monkeypatch):
    from core import export

    record = {"ok": False, "message": "The download could not be prepared: disk full"}
    monkeypatch.setattr(export, "ready_download", lambda run_id: {})
    monkeypatch.setattr(export, "read_download", lambda run_id: record)
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert "could not be prepared: disk full" in texts(at.warning)
    assert at.button(key="_w_prepare_download").label == "Prepare the model download"


def test_results_page_without_runs():
    at = open_page("pages/results.py")
    assert "No runs yet" in texts(at.info)


@pytest.mark.trains
def test_predict_page_one_row_and_batch(trained_run):
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert at.number_input(key="_w_input_age").value == pytest.approx(
        runs.read_info(trained_run)["schema"][0]["default"]
    )
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert at.metric[0].value in {"0", "1"}
    assert len(at.get("plotly_chart")) == 1

    frame = pd.read_csv(HEART).head(7).drop(columns="target")
    frame["note"] = "x"
    at.file_uploader(key="_w_score_upload").set_value(
        ("rows.csv", frame.to_csv(index=False).encode(), "text/csv")
    ).run()
    assert not at.exception
    assert "Ignored columns the model does not use: ['note']" in texts(at.warning)
    scored = at.dataframe[0].value
    assert len(scored) == 7 and "prediction" in scored and "probability_1" in scored
    assert at.download_button[0].label == "Download predictions (CSV)"


@pytest.mark.trains
def test_predict_page_warns_once_when_the_model_is_no_better_than_its_baseline(
    trained_run, monkeypatch
):
    report = runs.read_evaluation(trained_run)
    baseline = "always giving the most common answer (`0`)"
    report["verdict"] = {
        **report["verdict"],
        "beats_baseline": False,
        "outcome": "unclear",
        "baseline_text": baseline,
        "rows": "test rows",
    }
    monkeypatch.setattr(runs, "read_evaluation", lambda run_id: report)
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: trained_run})
    warned = texts(at.warning)
    assert warned.count("treat its answers with care") == 1
    assert (
        "This model was not clearly better than always giving the most common "
        "answer (“0”) on its test rows: treat its answers with care." in warned
    )
    at.form_submit_button[0].click().run()  # its answers still come
    assert not at.exception
    assert at.metric[0].value in {"0", "1"}

    report["verdict"]["beats_baseline"] = True
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: trained_run})
    assert "treat its answers with care" not in texts(at.warning)


def test_core_sentences_show_their_quoted_values_without_backticks():
    shown = text.sentence("always giving the most common answer (`0`) is right")
    assert shown == "always giving the most common answer (“0”) is right"
    assert text.sentence("a `![p](http://h/x.png)` name") == text.plain(
        "a “![p](http://h/x.png)” name"
    )  # still escaped


@pytest.mark.trains
def test_predict_page_batch_with_missing_column_is_an_error(trained_run):
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: trained_run})
    at.file_uploader(key="_w_score_upload").set_value(
        ("rows.csv", b"foo,bar\n1,2\n3,4\n", "text/csv")
    ).run()
    assert not at.exception
    assert "lacks the model's input columns" in texts(at.error)


@pytest.mark.trains
def test_models_page_lists_and_exports_the_run(trained_run):
    at = open_page("pages/models.py")
    table = at.dataframe[0].value
    assert table["State"].tolist() == ["completed"]
    verdict = runs.read_evaluation(trained_run)["verdict"]
    assert table["Verdict"].tolist() == [verdict["headline"]]
    assert at.dataframe[1].value["Run id"].tolist() == [trained_run]
    next(b for b in at.button if b.label == "Prepare download").click().run(timeout=120)
    assert not at.exception
    assert "match the live model" in texts(at.success)
    labels = [b.label for b in at.download_button]
    assert labels == ["Download bundle.zip", "Download model.keras"]


@pytest.mark.trains
def test_models_page_imports_a_bundle_and_deletes_it(
    trained_run, tmp_path, monkeypatch
):
    from core import export

    bundle = export.bundle_path(trained_run)
    if not bundle.is_file():
        export.build_bundle(trained_run)
    content = bundle.read_bytes()
    # Import into a fresh, empty workspace so the trained run stays untouched.
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(tmp_path / "other"))
    at = open_page("pages/models.py")
    at.file_uploader(key="_w_bundle").set_value(("b.zip", content, "application/zip"))
    at.form_submit_button[0].click().run()
    assert not at.exception
    new_id = at.session_state[state.ACTIVE_RUN_ID]
    assert f"Imported as run `{new_id}`" in texts(at.success)
    assert runs.read_status(new_id).state == "completed"

    at.switch_page("pages/predict.py").run()
    assert not at.exception
    assert at.selectbox(key="_w_predict_run").value == new_id

    at.switch_page("pages/models.py").run()
    delete = next(b for b in at.button if b.label == "Delete run")
    assert delete.disabled
    at.checkbox(key="_w_delete_sure").check().run()
    next(b for b in at.button if b.label == "Delete run").click().run()
    assert not at.exception
    assert runs.list_runs() == []


def test_models_page_bad_bundle_and_active_delete_show_errors():
    active = _hand_written_run("running", pid=None)
    at = open_page("pages/models.py")
    at.file_uploader(key="_w_bundle").set_value(
        ("junk.zip", b"not a zip", "application/zip")
    )
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert at.error, "a bad bundle must show an error"
    at.checkbox(key="_w_delete_sure").check().run()
    next(b for b in at.button if b.label == "Delete run").click().run()
    assert not at.exception
    assert f"Run `{active}` is still active" in texts(at.error)
    assert runs.list_runs() == [active]


# Chart builders (plain functions)
def test_learning_curves_has_loss_and_metric_panels():
    metrics = pd.DataFrame(
        {
            "epoch": [1, 2],
            "loss": [1, 0.5],
            "val_loss": [1, 0.6],
            "mae": [3, 2],
            "val_mae": [3, 2],
        }
    )
    fig = charts.learning_curves(metrics)
    assert [(t.name, t.showlegend) for t in fig.data] == [
        ("training", True),
        ("validation", True),
        ("training", False),
        ("validation", False),
    ]
    assert list(fig.data[3].y) == [3, 2]


def test_regression_charts_from_an_evaluation():
    evaluation = {"actual": [1.0, 2.0, 3.0], "predicted": [1.5, 2.0, 2.0]}
    assert list(charts.residuals(evaluation).data[0].y) == [0.5, 0.0, -1.0]
    diagonal = charts.predicted_vs_actual(evaluation).data[1]
    assert list(diagonal.x) == [1.0, 3.0]


def test_regression_charts_span_every_price_with_webgl():
    from core.tables.report import spread_sample

    # Diamonds-shaped: 10,788 test prices in file order, cheap ones first.
    rng = np.random.default_rng(0)
    prices = np.sort(rng.lognormal(7.8, 1.0, 10_788).clip(326, 18_820))
    prices[-1] = 18_820.0
    shown = spread_sample(prices, 2_000)
    assert len(shown) == 2_000 and list(shown) == sorted(shown)
    assert prices[shown].min() == prices.min() and prices[shown].max() == 18_820.0
    report = {
        "actual": prices.tolist(),
        "predicted": (prices * 1.01).tolist(),
        "n_test": len(prices),
    }
    fig = charts.predicted_vs_actual(report)
    assert fig.data[0].type == "scattergl" and len(fig.data[0].x) == len(prices)
    assert fig.layout.xaxis.hoverformat == charts.NUMBER_HOVER
    assert charts.residuals(report).data[0].type == "scattergl"
    assert fig.layout.title.text == "Predicted vs actual (test rows)"
    report["n_test"] = 50_000  # a sampled report says so in the title
    title = charts.residuals(report).layout.title.text
    assert "10,788 of 50,000 test rows, spread over the range" in title


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (14250.0, "14,250"),
        (32.349999999999994, "32.35"),
        (0.76623, "0.7662"),
        (1_234_567.8, "1,234,568"),
        (np.int64(303), "303"),
        (float("nan"), "–"),
        (pd.Timestamp("1961-01-01 00:00:00"), "1961-01-01"),
        (pd.Timestamp("2024-03-05 14:30:00"), "2024-03-05 14:30"),
        ("red", "red"),
    ],
)
def test_format_value_writes_numbers_and_dates_for_people(value, shown):
    assert text.format_value(value) == shown


def test_people_table_formats_cells_but_keeps_numbers():
    table = pd.DataFrame(
        {"month": pd.to_datetime(["1961-01-01", "1961-02-01"]), "co2": [14250.0, 1.5]}
    )
    html = text.people_table(table).to_html()
    assert "1961-01-01<" in html and "00:00:00" not in html and "14,250" in html
    assert text.people_table(table).data["co2"].dtype == float


def test_streamlit_toolbar_hides_the_deploy_button():
    import tomllib

    config = tomllib.loads((APP.parent / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "minimal"


def test_metrics_table_puts_models_side_by_side():
    table = widgets.metrics_table(
        {"metrics": {"mae": 1.0}, "baseline": {"mae": 3.0}, "reference": {"mae": 0.9}}
    )
    assert table.loc["Mean absolute error"].tolist() == [1.0, 3.0, 0.9]


@pytest.mark.trains
def test_models_page_compares_two_runs(trained_run, tmp_path, monkeypatch):
    import shutil

    source = runs.runs_root() / trained_run
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(tmp_path / "two"))
    for suffix in ("aaaa", "bbbb"):
        shutil.copytree(source, runs.runs_root() / f"{trained_run[:-4]}{suffix}")
    at = open_page("pages/models.py")
    assert len(at.dataframe[0].value) == 2
    first, second = at.selectbox(key="_w_compare_0"), at.selectbox(key="_w_compare_1")
    assert first.value != second.value
    assert len(at.get("plotly_chart")) == 2
    tables = [t.value for t in at.dataframe[2:4]]  # after the list and its ids
    assert all(list(t.columns)[0] == "ours" for t in tables)


@pytest.mark.trains
def test_opening_pages_keeps_a_training_run_active(trained_run, tmp_path, monkeypatch):
    import shutil

    source = runs.runs_root() / trained_run
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(tmp_path / "busy"))
    shutil.copytree(source, runs.runs_root() / trained_run)
    training = _hand_written_run("running", pid=os.getpid(), epoch=1)
    at = open_page("pages/models.py", **{state.ACTIVE_RUN_ID: training})
    at.switch_page("pages/predict.py").run()
    assert at.selectbox(key="_w_predict_run").value == trained_run
    assert at.session_state[state.ACTIVE_RUN_ID] == training
    at.switch_page("pages/results.py").run()
    assert not at.exception
    assert at.get("progress")[0].proto.text.startswith("Training: epoch 1/10")
    at.selectbox(key="_w_results_run").set_value(trained_run).run()
    assert at.session_state[state.ACTIVE_RUN_ID] == trained_run
    assert shown(runs.read_evaluation(trained_run)["verdict"]["sentence"]) in texts(
        [*at.success, *at.warning]
    )


@pytest.mark.trains
def test_results_and_predict_for_a_regression_run(regression_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: regression_run})
    verdict = runs.read_evaluation(regression_run)["verdict"]
    headline = at.success if verdict["beats_baseline"] else at.warning
    assert texts(headline).startswith("Off by")
    assert "Mean absolute error" in at.dataframe[0].value.index
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Predicted vs actual" in t for t in titles)
    assert any("Residuals" in t for t in titles)
    at.switch_page("pages/predict.py").run()
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert float(at.metric[0].value) > 0
    assert not at.get("plotly_chart")  # no class probabilities for a number


def test_default_target_skips_ids_dates_and_text():
    column_types = {"x": "number", "c": "category", "id": "identifier", "when": "date"}
    assert suggest_target(column_types) == "c"
    many = pd.Series([f"v{i % 40}" for i in range(80)], name="v")
    fig = charts.target_distribution(many, "category")
    assert len(fig.data[0].x) == charts.MAX_BARS and "of 40" in fig.layout.title.text


def test_run_label_names_the_target_only_when_there_is_one():
    pictures = runs.create_run(runs.RunSpec("image_classification", "0" * 16, None, {}))
    table = runs.create_run(runs.RunSpec("tabular_classification", "0" * 16, "y", {}))
    assert "→" not in run_label(pictures)
    assert f"· {'0' * 16} → y · queued · #{table[-4:]}" in run_label(table)
