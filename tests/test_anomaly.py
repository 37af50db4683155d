"""Anomaly detection without labels: CLI metrics, threshold in info, bundle round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import export, prediction, runs, thresholds
from core.__main__ import main

CARDS = Path("/work/shared/data/creditcard_fraud_sample/creditcard_sample.csv")


def _cards() -> pd.DataFrame:
    """120 rows shaped like the card sample: a few V columns, Amount, a category."""
    rng = np.random.default_rng(0)
    n, fraud = 120, np.arange(120) % 6 == 0
    frame = pd.DataFrame(
        {f"V{i}": rng.normal(size=n) - 4 * fraud * (i % 2) for i in range(1, 6)}
    )
    frame["Amount"] = np.where(fraud, 900.0, rng.gamma(2, 30, size=n)).round(2)
    frame["Channel"] = rng.choice(["web", "shop"], size=n)
    frame["Class"] = fraud.astype(int)
    return frame


@pytest.fixture
def cards_csv(tmp_path):
    path = tmp_path / "cards.csv"
    _cards().to_csv(path, index=False)
    return path


def _train(path: Path, capsys, *params: str) -> dict:
    argv = ["train", str(path), "--template", "anomaly_detection", "--epochs", "3"]
    argv += ["--json", "--param", "batch_size=16"]
    for param in params:
        argv += ["--param", param]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.trains
def test_label_column_is_only_checked_against(cards_csv, capsys):
    result = _train(cards_csv, capsys, "label_column=Class")
    run_id = result["run_id"]
    info, report = runs.read_info(run_id), runs.read_evaluation(run_id)
    assert {"roc_auc", "average_precision"} <= set(result["metrics"])
    assert set(result["reference"]) == {"roc_auc", "average_precision"}
    assert "Class" not in [f["name"] for f in info["schema"]]
    assert info["excluded"]["Class"] == "for checking only"
    assert info["decision"]["set_by"] == "default"
    decision = report["decision"]
    assert len(decision["scores"]) == len(decision["labels"]) == info["n_test"]
    assert decision["default_threshold"] == info["decision"]["threshold"]
    assert result["verdict"]["metric"] == "accuracy"


@pytest.mark.trains
def test_no_labels_still_scores_and_flags(cards_csv, capsys):
    result = _train(cards_csv, capsys)
    report = runs.read_evaluation(result["run_id"])
    assert report["decision"]["labels"] is None
    assert "roc_auc" not in result["metrics"]
    assert 0 <= result["metrics"]["flagged_share"] <= 1


def test_a_target_is_refused_with_the_fix(cards_csv, capsys):
    argv = ["train", str(cards_csv), "--template", "anomaly_detection"]
    assert main([*argv, "--target", "Class"]) == 1
    assert "label_column" in capsys.readouterr().err


@pytest.mark.trains
def test_threshold_round_trips_through_the_bundle(cards_csv, tmp_path, capsys):
    run_id = _train(cards_csv, capsys)["run_id"]
    rows = _cards()
    scores = prediction.predict_frame(run_id, rows)[0]["anomaly_score"]
    middle = float(np.median(runs.read_evaluation(run_id)["decision"]["scores"]))
    thresholds.save_threshold(run_id, middle, set_by="you")
    live, _ = prediction.predict_frame(run_id, rows)
    assert (live["anomaly"] == "yes").sum() == (scores >= middle).sum()
    assert list(live["anomaly_score"]) == sorted(live["anomaly_score"], reverse=True)
    assert export.build_bundle(run_id)["ok"]
    folder = tmp_path / "bundle"
    zipfile.ZipFile(export.bundle_path(run_id)).extractall(folder)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "out.csv"
    command = [sys.executable, str(folder / "predict.py"), str(tmp_path / "rows.csv")]
    subprocess.run([*command, "-o", str(out)], check=True, timeout=300)
    fresh = pd.read_csv(out)
    assert list(fresh["row"]) == list(live["row"])
    assert list(fresh["anomaly"]) == list(live["anomaly"])
    flagged = fresh[fresh["anomaly"] == "yes"]
    assert flagged["why"].notna().all()


@pytest.mark.slow
@pytest.mark.trains
@pytest.mark.skipif(not CARDS.is_file(), reason="the card sample is not here")
def test_autoencoder_finds_card_fraud_it_never_saw(capsys):
    result = _train(CARDS, capsys, "label_column=Class", "epochs=200")
    assert result["metrics"]["roc_auc"] >= 0.90
