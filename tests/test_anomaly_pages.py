"""AppTest: the anomaly views on Results and Predict, and "no target" on Train."""

from __future__ import annotations

import pytest

from core import datasets, runs, training
from pages.ui import state
from pages.ui.views.table import NO_TARGET
from tests.test_anomaly import _cards
from tests.test_pages import open_page, texts


@pytest.fixture
def anomaly_run() -> str:
    dataset_id = datasets.store_upload(
        "cards.csv", _cards().to_csv(index=False).encode()
    )
    spec = runs.RunSpec(
        "anomaly_detection",
        dataset_id,
        None,
        {"epochs": 3, "batch_size": 16, "label_column": "Class"},
        dataset_name="cards.csv",
    )
    run_id = runs.create_run(spec)
    assert training.train_run(run_id) == "completed", runs.read_status(run_id)
    return run_id


@pytest.mark.trains
def test_results_and_predict_show_scores_flags_and_why(anomaly_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: anomaly_run})
    assert "ROC-AUC" in texts(at.success) + texts(at.warning)
    assert "isolation forest reference" in at.dataframe[0].value
    assert "why" in at.dataframe[1].value

    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: anomaly_run})
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert float(at.metric[0].value) >= 0
    rows = _cards().drop(columns="Class").head(9)
    at.file_uploader(key="_w_anomaly_upload").set_value(
        ("rows.csv", rows.to_csv(index=False).encode(), "text/csv")
    ).run()
    assert not at.exception
    scored = at.dataframe[0].value
    assert len(scored) == 9 and {"anomaly_score", "anomaly", "why"} <= set(scored)
    assert scored["anomaly_score"].is_monotonic_decreasing


def test_train_page_offers_no_target_and_suggests_anomalies():
    dataset_id = datasets.store_upload(
        "cards.csv", _cards().to_csv(index=False).encode()
    )
    at = open_page("pages/train.py", **{state.DATASET_ID: dataset_id})
    at.selectbox(key="_w_train_target").set_value(NO_TARGET).run()
    assert not at.exception
    assert "Find unusual rows" in texts(at.info)


@pytest.mark.trains
def test_threshold_page_serves_the_anomaly_run(anomaly_run):
    from core import decision

    assert decision.runs_with_decision() == [anomaly_run]
    at = open_page("pages/threshold.py", **{state.ACTIVE_RUN_ID: anomaly_run})
    assert not at.exception
    assert at.slider
