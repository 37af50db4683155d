"""The headless CLI: same engine, one JSON object with --json, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import datasets, runs
from core.__main__ import main

HEART = Path(__file__).parents[1] / "sample_data" / "heart.csv"


@pytest.fixture
def table_csv(tmp_path, tiny_table):
    path = tmp_path / "tiny.csv"
    tiny_table.to_csv(path, index=False)
    return path


def _train(table_csv, capsys) -> dict:
    argv = [
        "train",
        str(table_csv),
        "--target",
        "label",
        "--epochs",
        "2",
        "--json",
        "--param",
        "batch_size=8",
    ]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.trains
def test_train_json_reports_metrics_baseline_and_reference(table_csv, capsys):
    result = _train(table_csv, capsys)
    assert result["template"] == "tabular_classification"
    assert result["model_path"].endswith("model.keras")
    for key in ("metrics", "baseline", "reference"):
        assert set(result[key]) >= {"accuracy", "balanced_accuracy", "f1"}
    assert isinstance(result["warnings"], list)
    verdict = result["verdict"]
    assert isinstance(verdict["beats_baseline"], bool)
    assert (
        verdict["interval"][0]
        <= result["metrics"]["accuracy"]
        <= verdict["interval"][1]
    )
    assert verdict["sentence"] == result["summary"][0]
    training = result["training"]  # both epochs ran: no reason to give
    assert (training["epochs_run"], training["max_epochs"]) == (2, 2)
    assert (training["stop_reason"], training["stopped"]) == ("", "")
    assert 0 < training["seconds"] < 120 and training["best_epoch"] in (1, 2)


@pytest.mark.trains
def test_train_says_why_it_stopped_early(table_csv, capsys):
    argv = ["train", str(table_csv), "--target", "label", "--epochs", "300"]
    argv += ["--param", "patience=1", "--param", "learning_rate=0.05"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Stopped early at epoch " in out
    assert "the validation score had stopped improving (the best epoch, " in out


@pytest.mark.trains
@pytest.mark.parametrize("shuffled", [True, False], ids=["shuffled", "real"])
def test_verdict_on_heart_disease_with_a_shuffled_or_real_target(
    shuffled, tmp_path, capsys
):
    table = pd.read_csv(HEART)
    if shuffled:  # no signal left: the model must not be said to beat guessing
        table["target"] = np.random.default_rng(0).permutation(table["target"])
    path = tmp_path / "heart.csv"
    table.to_csv(path, index=False)
    argv = ["train", str(path), "--target", "target", "--epochs", "8", "--json"]
    assert main(argv) == 0
    verdict = json.loads(capsys.readouterr().out)["verdict"]
    assert verdict["beats_baseline"] is not shuffled
    low, high = verdict["interval"]
    assert 0 <= low < verdict["value"] < high <= 1


@pytest.mark.trains
def test_predict_runs_and_export_share_the_run(
    table_csv, tmp_path, capsys, prepared_downloads
):
    run_id = _train(table_csv, capsys)["run_id"]
    out = tmp_path / "scored.csv"
    assert main(["predict", run_id, str(table_csv), "-o", str(out)]) == 0
    assert "prediction" in pd.read_csv(out).columns
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [row["run_id"] for row in listed] == [run_id]
    bundle = tmp_path / "bundle.zip"
    assert main(["export", run_id, "-o", str(bundle)]) == 0
    said = capsys.readouterr().out
    assert "Using the bundle prepared after training" in said  # no second build
    assert "match the live model" in said
    bundle_out = tmp_path / "from_bundle.csv"
    assert main(["predict", str(bundle), str(table_csv), "-o", str(bundle_out)]) == 0
    assert pd.read_csv(bundle_out)["prediction"].equals(pd.read_csv(out)["prediction"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nowhere.csv", "--target", "y"], "There is no file or folder"),
        (["train", "{csv}", "--target", "nope"], "Invalid value for argument `target`"),
        (
            ["train", "{csv}", "--target", "label", "--template", "x"],
            "Unknown template",
        ),
        (["train", "{csv}", "--target", "label", "--epochs", "-3"], "`epochs`"),
        (["predict", "no-such-run", "{csv}", "-o", "out.csv"], "There is no run"),
        (["export", "../etc", "-o", "out.zip"], "Invalid value for argument `run_id`"),
    ],
)
def test_errors_print_one_line_and_exit_1(argv, message, table_csv, capsys):
    argv = [str(table_csv) if a == "{csv}" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not any("Traceback" in line for line in err)


@pytest.mark.trains
def test_train_takes_excel_and_keeps_the_table_of_its_parquet_and_json_lines(
    tiny_table, tmp_path, capsys
):
    table = tiny_table.round(6)  # Excel keeps 15 significant digits, no more
    workbook, parquet, csv = (
        tmp_path / f"tiny.{k}" for k in ("xlsx", "parquet", "csv")
    )
    table.to_excel(workbook, index=False)
    table.to_parquet(parquet, index=False)
    table.to_csv(csv, index=False)
    run_id = _train(workbook, capsys)["run_id"]
    dataset_id = runs.load_spec(run_id)["dataset_id"]
    same = datasets.store_upload("tiny.parquet", parquet.read_bytes())
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    lines = "\n".join(json.dumps(r) for r in records).encode()
    assert dataset_id == same == datasets.store_upload("tiny.jsonl", lines)
    csv_id = datasets.store_upload("tiny.csv", csv.read_bytes())
    pd.testing.assert_frame_equal(
        datasets.load_table(dataset_id), datasets.load_table(csv_id)
    )


def test_train_refuses_a_damaged_workbook_in_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook" * 10)
    assert main(["train", str(broken), "--target", "label"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "could not be read as a workbook" in err[-1]
    assert not any("Traceback" in line for line in err)


@pytest.mark.trains
def test_predict_with_a_missing_column_fails_clearly(table_csv, tmp_path, capsys):
    run_id = _train(table_csv, capsys)["run_id"]
    partial = tmp_path / "partial.csv"
    pd.read_csv(table_csv).drop(columns="color").to_csv(partial, index=False)
    assert main(["predict", run_id, str(partial), "-o", str(tmp_path / "o.csv")]) == 1
    assert "lacks the model's input columns ['color']" in capsys.readouterr().err


def test_train_names_the_sheets_when_the_sheet_is_wrong(tmp_path, capsys):
    workbook = tmp_path / "book.xlsx"
    with pd.ExcelWriter(workbook, engine="openpyxl") as writer:
        pd.DataFrame({"x": [1], "label": [0]}).to_excel(writer, sheet_name="patients")
    args = ["train", str(workbook), "--target", "label", "--sheet", "visits"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "has no sheet `visits`. Its sheets: `patients`." in err[-1]
