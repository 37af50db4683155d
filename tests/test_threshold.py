"""The decision threshold: counts and costs, a fraud run's report, the page, the bundle."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import (
    bundle_import,
    datasets,
    decision,
    export,
    prediction,
    runs,
    thresholds,
    workspace,
)
from core.__main__ import _print_train_result, main
from core.errors import DataError, DecisionError
from pages.ui import state
from pages.ui.text import format_value
from tests.conftest import train_here

APP = Path(__file__).parents[1] / "app.py"


def fraud_rows(n: int = 240) -> pd.DataFrame:
    """Rows shaped like the card sample (Time, V1..V28, Amount, Class), ~17% fraud."""
    rng = np.random.default_rng(0)
    fraud = rng.random(n) < 0.17
    frame = pd.DataFrame(
        rng.normal(size=(n, 28)) + fraud[:, None] * np.linspace(-1.5, 1.5, 28),
        columns=[f"V{i}" for i in range(1, 29)],
    )
    frame.insert(0, "Time", rng.uniform(0, 170_000, n).round())
    frame["Amount"] = rng.exponential(80, n).round(2)
    frame["Class"] = fraud.astype(int)
    return frame


def _train_fraud() -> str:
    """One small fraud run, trained in-process once."""
    dataset_id = datasets.store_upload(
        "cards.csv", fraud_rows().to_csv(index=False).encode()
    )
    params = {"epochs": 8, "batch_size": 32, "patience": 8}
    return train_here(
        runs.RunSpec("tabular_classification", dataset_id, "Class", params)
    )


@pytest.fixture
def run_id(trained_workspace, tmp_path, monkeypatch) -> str:
    """The fraud run in a private copy of its workspace: tests may change it."""
    root = tmp_path / "copy"
    shutil.copytree(trained_workspace("fraud", _train_fraud).root, root)
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(root))
    return runs.list_runs()[0]


# --- core.decision on plain numbers ---------------------------------------------------


def test_counts_at_a_threshold():
    counts = decision.counts_at([0.1, 0.4, 0.35, 0.8, 0.9], [0, 0, 1, 1, 0], 0.4)
    assert (counts["tp"], counts["fp"], counts["fn"], counts["tn"]) == (1, 2, 1, 1)
    assert counts["flagged"] == 3 and counts["alerts_per_1000"] == 600
    assert counts["precision"] == pytest.approx(1 / 3) and counts["recall"] == 0.5
    assert decision.expected_cost(counts, 500, 5) == 1 * 500 + 3 * 5


def test_counts_without_labels_have_no_costs():
    counts = decision.counts_at([1.0, 2.0, 3.0, 4.0], None, 3.0)
    assert counts["flagged"] == 2 and counts["flagged_share"] == 0.5
    assert "tp" not in counts
    with pytest.raises(DecisionError, match="Costs need labelled rows"):
        decision.expected_cost(counts, 500, 5)


@pytest.mark.parametrize("miss,alert", [(500, 5), (1, 100), (10, 10), (0, 1)])
def test_cheapest_threshold_is_the_brute_force_minimum(miss, alert):
    rng = np.random.default_rng(3)
    labels = rng.random(200) < 0.2
    scores = np.round(rng.random(200) * 0.6 + labels * 0.3, 2)  # ties on purpose
    best = decision.cheapest_threshold(scores, labels, miss, alert)
    cost = decision.expected_cost(decision.counts_at(scores, labels, best), miss, alert)
    candidates = [*np.unique(scores), np.inf]
    brute = min(
        decision.expected_cost(decision.counts_at(scores, labels, t), miss, alert)
        for t in candidates
    )
    assert cost == brute


def test_cheapest_threshold_refuses_negative_costs():
    with pytest.raises(DecisionError, match="`cost_miss`"):
        decision.cheapest_threshold([0.1, 0.9], [0, 1], -1, 5)


def test_reliability_of_honest_probabilities_is_near_the_diagonal():
    rng = np.random.default_rng(0)
    probabilities = rng.random(20_000)
    labels = rng.random(20_000) < probabilities
    curve = decision.reliability(probabilities, labels)
    assert len(curve["predicted"]) == decision.RELIABILITY_BINS
    assert curve["ece"] < 0.02
    assert decision.reliability(probabilities, ~labels)["ece"] > 0.4


# --- a fraud run ------------------------------------------------------------------------


@pytest.mark.trains
def test_fraud_run_reports_rare_class_metrics_led_by_average_precision(run_id):
    report, info = runs.read_evaluation(run_id), runs.read_info(run_id)
    rare = {"average_precision", "recall_at_1pct_false_alarms", "precision_at_top_5pct"}
    for column in ("metrics", "baseline", "reference"):
        assert rare <= set(report[column])
        assert next(iter(report[column])) == "average_precision"
    assert report["verdict"]["metric"] == "average_precision"
    assert report["summary"][0].startswith("Average precision")
    assert (
        "Accuracy" in report["summary"][-1]
        and "not the headline" in report["summary"][-1]
    )
    assert runs.summarize_run(run_id)["metric"] == "average_precision"
    assert info["decision"] == {
        "threshold": 0.5,
        "positive_label": "1",
        "score_name": "probability that Class is 1",
        "set_by": "default",
        "cost_miss": None,
        "cost_alert": None,
    }
    found = report["decision"]
    assert len(found["scores"]) == len(found["labels"]) == info["n_test"]
    assert found["default_threshold"] == 0.5 and found["reliability"]["rows"]
    assert info["calibration"]["scale"] > 0  # Platt scaling kept the ranking
    assert {"ece", "ece_before", "brier", "brier_before"} <= set(found["reliability"])
    assert decision.runs_with_decision() == [run_id]


@pytest.mark.trains
def test_save_threshold_checks_its_values(run_id):
    low, high = decision.score_range(runs.read_evaluation(run_id)["decision"]["scores"])
    for bad in (float("nan"), high + 0.1, low - 0.1, "0.5"):
        with pytest.raises(DecisionError, match="argument `threshold`"):
            thresholds.save_threshold(run_id, bad, set_by="you")
    with pytest.raises(DecisionError, match="argument `set_by`"):
        thresholds.save_threshold(run_id, high, set_by="me")
    with pytest.raises(DecisionError, match="argument `cost_alert`"):
        thresholds.save_threshold(run_id, high, set_by="you", cost_alert=float("inf"))
    assert runs.read_info(run_id)["decision"]["threshold"] == 0.5


def _flags(frame: pd.DataFrame) -> int:
    return int((frame["prediction"].astype(str) == "1").sum())


@pytest.mark.trains
def test_threshold_round_trips_through_the_bundle(run_id, tmp_path):
    rows = fraud_rows(400).tail(150).drop(columns="Class")
    before, _ = prediction.predict_frame(run_id, rows)
    scores = runs.read_evaluation(run_id)["decision"]["scores"]
    lower = float(np.quantile(scores, 0.5))
    thresholds.save_threshold(
        run_id, lower, set_by="lowest cost", cost_miss=500, cost_alert=5
    )
    after, _ = prediction.predict_frame(run_id, rows)
    assert _flags(after) > _flags(before)  # a lower threshold flags more rows

    check = export.build_bundle(run_id)
    assert check["ok"], check["message"]
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(export.bundle_path(run_id)) as bundle:
        bundle.extractall(folder)
    assert (
        json.loads((folder / "metadata.json").read_text())["decision"]["threshold"]
        == lower
    )
    card = (folder / "README.md").read_text()
    assert f"**{lower:.6g}**" in card and "set by lowest cost" in card
    rows.to_csv(tmp_path / "rows.csv", index=False)
    command = [
        sys.executable,
        "predict.py",
        str(tmp_path / "rows.csv"),
        "-o",
        "out.csv",
    ]
    subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=300)
    fresh = pd.read_csv(folder / "out.csv")
    assert (
        fresh["prediction"].astype(str).tolist()
        == after["prediction"].astype(str).tolist()
    )


@pytest.mark.trains
def test_cli_json_carries_average_precision_and_the_threshold(run_id, capsys):
    _print_train_result(
        argparse.Namespace(json=True), run_id, "tabular_classification", []
    )
    result = json.loads(capsys.readouterr().out)
    assert 0 <= result["metrics"]["average_precision"] <= 1
    assert "average_precision" in result["reference"]
    assert result["threshold"] == 0.5 and result["decision"]["positive_label"] == "1"


@pytest.mark.trains
def test_cli_threshold_saves_a_value_and_the_lowest_cost(run_id, capsys):
    assert main(["threshold", run_id, "0.2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (
        shown["decision"]["threshold"] == 0.2 and shown["decision"]["set_by"] == "you"
    )
    assert main(["threshold", run_id, "--cost-miss", "500", "--cost-alert", "5"]) == 0
    stored = runs.read_info(run_id)["decision"]
    assert stored["set_by"] == "lowest cost" and stored["cost_miss"] == 500
    assert "expected_cost" in capsys.readouterr().out
    assert main(["threshold", run_id, "7"]) == 1
    assert "threshold" in capsys.readouterr().err


# --- the page ---------------------------------------------------------------------------


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _saved_line(at: AppTest) -> str:
    return next(c.value for c in at.caption if "Saved threshold:" in c.value)


@pytest.mark.trains
def test_threshold_page_slider_moves_counts_and_cost_and_save_reaches_predict(run_id):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[state.ACTIVE_RUN_ID] = run_id
    at.run()
    at.switch_page("pages/threshold.py").run()
    assert not at.exception
    slider = at.slider(key=f"_w_threshold_{run_id}")
    assert slider.value == pytest.approx(0.5)
    flagged, cost = (
        _metric(at, "Flagged"),
        _metric(at, "Expected cost on the test rows"),
    )
    assert "Lowest expected cost" in at.info[-1].value
    low, _ = decision.score_range(runs.read_evaluation(run_id)["decision"]["scores"])
    slider.set_value(low).run()
    assert not at.exception
    assert _metric(at, "Flagged") != flagged
    assert _metric(at, "Expected cost on the test rows") != cost
    at.number_input(key=f"_w_cost_alert_{run_id}").set_value(50.0).run()
    assert _metric(at, "Expected cost on the test rows") != cost

    rows = fraud_rows(400).tail(150).drop(columns="Class")
    csv = ("rows.csv", rows.to_csv(index=False).encode(), "text/csv")
    predict = AppTest.from_file(APP, default_timeout=60)
    predict.session_state[state.ACTIVE_RUN_ID] = run_id
    predict.run()
    predict.switch_page("pages/predict.py").run()
    predict.file_uploader(key="_w_score_upload").set_value(csv).run()
    before = _flags(predict.dataframe[0].value)

    old = format_value(runs.read_info(run_id)["decision"]["threshold"])
    assert f"Saved threshold: {old} (set by" in _saved_line(at)
    at.button[0].click().run()  # Save this threshold
    assert not at.exception
    assert "Saved threshold" in at.success[0].value
    saved = runs.read_info(run_id)["decision"]
    assert saved["threshold"] == pytest.approx(low) and saved["set_by"] == "you"
    shown = f"Saved threshold: {format_value(saved['threshold'])} (set by you)."
    assert shown in _saved_line(at)  # at once, not after leaving the page
    assert saved["cost_alert"] == 50.0
    predict.run()
    assert not predict.exception
    assert _flags(predict.dataframe[0].value) > before


@pytest.mark.trains
@pytest.mark.parametrize(
    "damage",
    [
        {"scores": "0.1,0.9"},
        {"scores": [0.1, float("nan")]},
        {"labels": [0, 2, 1]},
        {"labels": [0, 1]},
        {"positive_label": None},
    ],
)
def test_a_damaged_decision_is_not_offered(run_id, damage):
    path = runs.run_dir(run_id) / runs.EVALUATION_FILE
    report = runs.read_evaluation(run_id)
    report["decision"] = {
        **report["decision"],
        "scores": [0.1, 0.5, 0.9],
        "labels": [0, 0, 1],
        **damage,
    }
    runs.write_json_atomic(path, report)
    assert decision.runs_with_decision() == []
    with pytest.raises(DecisionError, match="gives no scores"):
        thresholds.save_threshold(run_id, 0.5, set_by="you")


@pytest.mark.trains
def test_a_bundle_with_a_wrong_decision_is_refused(run_id):
    export.build_bundle(run_id)
    with zipfile.ZipFile(export.bundle_path(run_id)) as source:
        metadata = json.loads(source.read("metadata.json"))
        model = source.read("model.keras")
    metadata["decision"]["threshold"] = "high"
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as bundle:
        bundle.writestr("model.keras", model)
        bundle.writestr("metadata.json", json.dumps(metadata))
    with pytest.raises(DataError, match="`decision` should be an object"):
        bundle_import.import_bundle(forged.getvalue(), "forged.zip")


@pytest.mark.trains
def test_threshold_page_without_labels_counts_flags_and_asks_for_no_costs(run_id):
    path = runs.run_dir(run_id) / runs.EVALUATION_FILE
    report = runs.read_evaluation(run_id)
    report["decision"] = {**report["decision"], "labels": None}
    runs.write_json_atomic(path, report)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[state.ACTIVE_RUN_ID] = run_id
    at.run()
    at.switch_page("pages/threshold.py").run()
    assert not at.exception
    assert "costs need labels" in at.info[0].value
    assert {m.label for m in at.metric} == {
        "Flagged",
        "Alerts per 1,000 rows",
        "Flagged share",
    }
    assert not at.number_input
