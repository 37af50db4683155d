"""The data check's simple fixes (core.fixes) and the headline metric it recommends."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from streamlit.testing.v1 import AppTest

from core import datasets, evaluation, export, fixes, launch, runs
from core.__main__ import _param_overrides, main
from core.catalog import get_template
from core.columns import infer_column_types
from core.errors import DataError, UserError
from core.tables import report
from core.tables.bundle import predict_outputs
from core.tables.preflight import headline_metric, preflight
from core.templates.base import Prepared, Split
from core.templates.params import resolve_params
from pages.ui import state
from tests.conftest import FAST_PARAMS

APP = Path(__file__).parents[1] / "app.py"
ZEROS = {"fix": "zeros_as_missing", "column": "chol"}
DROP = {"fix": "drop", "column": "ecg"}


def heart_like(n: int = 60) -> pd.DataFrame:
    """`chol` with impossible zeros, a mostly empty `ecg`, and a yes/no `label`."""
    rng = np.random.default_rng(0)
    chol = rng.integers(150, 300, n).astype(float)
    chol[::6] = 0  # 'not measured'
    age = rng.integers(30, 75, n)
    ecg = np.where(np.arange(n) % 10 < 7, np.nan, rng.normal(size=n))
    label = np.where(age + rng.normal(scale=5, size=n) > 52, "yes", "no")
    return pd.DataFrame({"age": age, "chol": chol, "ecg": ecg, "label": label})


def _table_params(chosen: list[dict]) -> dict[str, Any]:
    template = get_template("tabular_classification")
    return resolve_params(template, {**FAST_PARAMS, "fixes": chosen})


# --- the fixes as data -----------------------------------------------------------------


def test_fixes_are_checked_and_kept_once_in_order():
    given = [ZEROS, DROP, dict(ZEROS)]
    assert fixes.check_fixes(given) == [ZEROS, DROP]
    for bad in ("chol", [{"fix": "drop"}], [{"fix": "scale", "column": "x"}], [{}]):
        with pytest.raises(DataError, match="Invalid value for argument `fixes`"):
            fixes.check_fixes(bad)


def test_apply_fixes_turns_zeros_missing_and_leaves_columns_out_of_a_copy():
    frame = heart_like()
    fixed = fixes.apply_fixes(frame, [ZEROS, DROP])
    assert list(fixed.columns) == ["age", "chol", "label"]
    assert fixed["chol"].isna().sum() == 10 and not (fixed["chol"] == 0).any()
    assert (frame["chol"] == 0).sum() == 10 and "ecg" in frame  # the upload is intact


def test_fixes_toggle_on_and_off_and_read_in_plain_words():
    chosen = fixes.toggled([], "drop", ["a", "b"], True)
    assert chosen == [{"fix": "drop", "column": "a"}, {"fix": "drop", "column": "b"}]
    assert fixes.toggled(chosen, "drop", ["a"], False) == [chosen[1]]
    assert fixes.asked_lines([ZEROS, DROP]) == [
        "You asked: treat 0 in `chol` as missing.",
        "You asked: leave `ecg` out.",
    ]


def test_the_data_check_offers_a_fix_for_zeros_and_mostly_empty_columns():
    frame = heart_like()
    found = preflight(frame, "label", infer_column_types(frame))
    offered = {f.column: fixes.offered_fix(f) for f in found if fixes.offered_fix(f)}
    assert offered == {"chol": "zeros_as_missing", "ecg": "drop"}


def test_table_templates_take_fixes_and_others_refuse_them():
    assert _table_params([ZEROS])["fixes"] == [ZEROS]
    anomaly = get_template("anomaly_detection")
    assert resolve_params(anomaly, {"fixes": [DROP]})["fixes"] == [DROP]
    series = get_template("timeseries_forecasting")
    assert resolve_params(series, {"fixes": []})["fixes"] == []  # none is fine
    with pytest.raises(DataError, match="does not apply the data check's fixes"):
        resolve_params(series, {"fixes": [DROP]})


@pytest.mark.parametrize(
    ("fix", "expected"),
    [
        ({"fix": "drop", "column": "nope"}, "names a column the data does not have"),
        ({"fix": "drop", "column": "label"}, "concerns the column to predict"),
        ({"fix": "zeros_as_missing", "column": "label"}, "column to predict"),
    ],
)
def test_a_fix_that_cannot_apply_blocks_training_with_a_sentence(fix, expected):
    template = get_template("tabular_classification")
    problems = template.check(heart_like(), "label", _table_params([fix]))
    assert len(problems) == 1 and expected in problems[0]


def test_zeros_fix_needs_numbers():
    frame = heart_like().assign(color="red")
    [problem] = fixes.fix_problems(
        frame, "label", [{"fix": "zeros_as_missing", "column": "color"}]
    )
    assert "needs a column of numbers" in problem


# --- applied in prepare, alike on every split ------------------------------------------


def test_prepare_applies_fixes_to_train_validation_and_test_rows():
    template = get_template("tabular_classification")
    params = _table_params([ZEROS, DROP])
    prepared = template.prepare(heart_like(), "label", params, seed=1)
    for split in (prepared.train, prepared.val, prepared.test):
        assert "ecg" not in split.raw.columns
        assert not (split.raw["chol"] == 0).any()
    assert sum(s.raw["chol"].isna().sum() for s in _splits(prepared)) == 10
    chol = next(f for f in prepared.info["schema"] if f["name"] == "chol")
    assert chol["zeros_missing"] is True and chol["min"] >= 150
    assert [f["name"] for f in prepared.info["schema"]] == ["age", "chol"]
    assert prepared.info["excluded"] == {"ecg": fixes.LEFT_OUT_REASON}


def _splits(prepared: Prepared) -> list[Split]:
    return [prepared.train, prepared.val, prepared.test]


def test_without_fixes_zeros_stay_numbers_and_every_column_is_used():
    template = get_template("tabular_classification")
    prepared = template.prepare(heart_like(), "label", _table_params([]), seed=1)
    assert [f["name"] for f in prepared.info["schema"]] == ["age", "chol", "ecg"]
    assert all("zeros_missing" not in f for f in prepared.info["schema"])
    assert sum((s.raw["chol"] == 0).sum() for s in _splits(prepared)) == 10


# --- applied inside the saved model, for prediction ------------------------------------


def test_the_saved_model_reads_zero_as_missing_when_predicting(tmp_path):
    """Zeros as missing live in the model's own preprocessing, so the downloaded .keras
    treats a raw 0 like an empty cell (no training needed: an untrained model maps
    equal inputs to equal outputs)."""
    import keras

    template = get_template("tabular_classification")
    params = _table_params([ZEROS])
    prepared = template.prepare(heart_like(), "label", params, seed=1)
    model = template.build_model(prepared, params)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode, as the app and bundles load
    rows = pd.DataFrame(
        {"age": [50, 50, 50], "chol": [0.0, np.nan, 240.0], "ecg": [0.1] * 3}
    )
    schema = prepared.info["schema"]
    for scored in (
        predict_outputs(model, rows, schema),
        predict_outputs(loaded, rows, schema),
    ):
        assert np.allclose(scored[0], scored[1])  # 0 is read as missing
        assert not np.allclose(scored[0], scored[2])  # a real value is not
    unfixed = template.prepare(heart_like(), "label", _table_params([]), seed=1)
    plain_model = template.build_model(unfixed, _table_params([]))
    outputs = predict_outputs(plain_model, rows, unfixed.info["schema"])
    assert not np.allclose(outputs[0], outputs[1])  # without the fix, 0 is a number


def test_anomaly_detection_applies_the_fixes_too():
    template = get_template("anomaly_detection")
    params = resolve_params(template, {"fixes": [ZEROS, DROP]})
    frame = heart_like().drop(columns="label")
    assert template.check(frame, None, params) == []
    prepared = template.prepare(frame, None, params, seed=1)
    assert [f["name"] for f in prepared.info["schema"]] == ["age", "chol"]
    assert prepared.info["schema"][1]["zeros_missing"] is True
    assert prepared.info["excluded"]["ecg"] == fixes.LEFT_OUT_REASON


# --- recorded in the run ---------------------------------------------------------------


def test_fixes_are_recorded_in_spec_json():
    dataset_id = datasets.store_upload(
        "heart.csv", heart_like().to_csv(index=False).encode()
    )
    run_id = launch.start_training(
        "tabular_classification",
        dataset_id,
        "label",
        {**FAST_PARAMS, "fixes": [ZEROS, DROP]},
        launch_worker=False,
    )
    spec = json.loads((runs.run_dir(run_id) / runs.SPEC_FILE).read_text())
    assert spec["params"]["fixes"] == [ZEROS, DROP]


def test_a_fix_on_the_target_is_refused_before_a_run_is_made():
    dataset_id = datasets.store_upload(
        "heart.csv", heart_like().to_csv(index=False).encode()
    )
    with pytest.raises(UserError, match="concerns the column to predict"):
        launch.start_training(
            "tabular_classification",
            dataset_id,
            "label",
            {"fixes": [{"fix": "drop", "column": "label"}]},
            launch_worker=False,
        )
    assert runs.list_runs() == []


def test_cli_flags_become_the_fixes_parameter():
    args = argparse.Namespace(
        epochs=2,
        time_budget_s=None,
        seed=None,
        time_column=None,
        horizon=None,
        lookback=None,
        param=['fixes=[{"fix": "drop", "column": "id"}]'],
        zeros_as_missing=["chol", "insulin"],
        drop=["ecg"],
    )
    assert _param_overrides(args)["fixes"] == [
        {"fix": "drop", "column": "id"},
        {"fix": "zeros_as_missing", "column": "chol"},
        {"fix": "zeros_as_missing", "column": "insulin"},
        {"fix": "drop", "column": "ecg"},
    ]


def test_model_card_lists_what_was_asked():
    metadata = {
        "template": "tabular_classification",
        "run_id": "r",
        "dataset": "heart.csv",
        "task": "classification",
        "target": "label",
        "params": {"fixes": [ZEROS, DROP]},
    }
    card = export.model_card(metadata)
    assert "You asked: treat 0 in \\`chol\\` as missing." in card
    assert "You asked: leave \\`ecg\\` out." in card
    assert "You asked" not in export.model_card({**metadata, "params": {}})


@pytest.mark.trains
def test_cli_trains_with_fixes_and_says_what_was_asked(tmp_path, capsys):
    path = tmp_path / "heart.csv"
    heart_like().to_csv(path, index=False)
    argv = ["train", str(path), "--target", "label", "--epochs", "1"]
    assert main([*argv, "--zeros-as-missing", "chol", "--drop", "ecg"]) == 0
    out = capsys.readouterr().out
    assert "You asked: treat 0 in `chol` as missing." in out
    assert "You asked: leave `ecg` out." in out
    [run_id] = runs.list_runs()
    assert runs.load_spec(run_id)["params"]["fixes"] == [ZEROS, DROP]
    info = runs.load_info(run_id)
    assert [f["name"] for f in info["schema"]] == ["age", "chol"]
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"age": [50, 50], "chol": [0, None]}).to_csv(rows, index=False)
    scored = tmp_path / "scored.csv"
    assert main(["predict", run_id, str(rows), "-o", str(scored)]) == 0
    result = pd.read_csv(scored)
    assert np.isclose(result["probability_yes"][0], result["probability_yes"][1])


# --- the headline metric the data check recommends -------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"a": 50, "b": 40}, "accuracy"),
        ({"a": 80, "b": 20}, "average_precision"),
        ({"a": 60, "b": 25, "c": 10}, "balanced_accuracy"),
        ({"a": 30, "b": 25, "c": 20}, "accuracy"),
    ],
)
def test_headline_metric_follows_the_balance_of_classes(counts, expected):
    labels = pd.Series([c for c, n in counts.items() for _ in range(n)])
    assert headline_metric(labels) == expected


def test_the_imbalance_advice_names_the_metric_results_lead_with():
    frame = pd.DataFrame({"x": range(95), "num": ["0"] * 60 + ["1"] * 25 + ["2"] * 10})
    [advice] = [
        f
        for f in preflight(frame, "num", infer_column_types(frame))
        if f.code == "imbalance"
    ]
    assert "judge the model by balanced accuracy" in advice.fix
    binary = frame.assign(num=["0"] * 80 + ["1"] * 15)
    [advice] = [
        f
        for f in preflight(binary, "num", infer_column_types(binary))
        if f.code == "imbalance"
    ]
    assert "by average precision" in advice.fix


def test_training_records_the_recommended_metric_in_info():
    template = get_template("tabular_classification")
    frame = pd.DataFrame(
        {"x": np.arange(90.0), "num": ["0"] * 60 + ["1"] * 20 + ["2"] * 10}
    )
    prepared = template.prepare(frame, "num", _table_params([]), seed=1)
    assert prepared.info["headline_metric"] == "balanced_accuracy"


def test_balanced_weights_turn_right_answers_into_balanced_accuracy():
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=200, p=[0.7, 0.2, 0.1])
    guess = np.where(rng.random(200) < 0.7, y, 0)
    right = (guess == y).astype(float)
    weighted = right * evaluation.balanced_weights(y)
    assert np.isclose(weighted.mean(), skm.balanced_accuracy_score(y, guess))


class _Stub:
    """Stands in for a Keras model: fixed class probabilities per row, by `x`."""

    def __call__(self, inputs: dict, training: bool = False) -> np.ndarray:
        x = np.asarray(next(iter(inputs.values()))).reshape(-1)
        proba = np.stack([x < 30, (x >= 30) & (x < 60), x >= 60], axis=1)
        return 0.1 + 0.7 * proba.astype(float)


def test_report_leads_with_balanced_accuracy_when_the_data_check_advised_it():
    template = get_template("tabular_classification")
    x = np.arange(150) + 0.5  # not whole numbers: not an ID
    frame = pd.DataFrame(
        {"x": x, "num": np.where(x < 100, "0", np.where(x < 130, "1", "2"))}
    )
    prepared = template.prepare(frame, "num", _table_params([]), seed=1)
    assert prepared.info["headline_metric"] == "balanced_accuracy"
    found = report.evaluate(_Stub(), prepared, seed=0)
    assert found["headline_metric"] == "balanced_accuracy"
    assert found["verdict"]["metric"] == "balanced_accuracy"
    assert found["verdict"]["value"] == pytest.approx(
        found["metrics"]["balanced_accuracy"]
    )
    assert found["verdict"]["baseline_value"] == pytest.approx(1 / 3)
    for key in ("metrics", "baseline", "reference"):
        assert next(iter(found[key])) == "balanced_accuracy"
    assert found["summary"][0].startswith("Balanced accuracy ")
    assert "as the data check advised" in found["summary"][-1]
    low, high = found["verdict"]["interval"]
    assert 0 <= low <= found["verdict"]["value"] <= high <= 1


def test_report_keeps_plain_accuracy_for_balanced_classes():
    template = get_template("tabular_classification")
    x = np.arange(90) + 0.5
    frame = pd.DataFrame(
        {"x": x, "num": np.where(x < 30, "0", np.where(x < 60, "1", "2"))}
    )
    prepared = template.prepare(frame, "num", _table_params([]), seed=1)
    found = report.evaluate(_Stub(), prepared, seed=0)
    assert found["headline_metric"] == found["verdict"]["metric"] == "accuracy"
    assert found["summary"][0].startswith("Right ")


def test_runs_list_and_cli_show_the_recorded_headline(tmp_path):
    run_id = runs.create_run(runs.RunSpec("tabular_classification", "d", "num", {}))
    folder = runs.run_dir(run_id)
    (folder / runs.EVALUATION_FILE).write_text(
        json.dumps(
            {
                "metrics": {"accuracy": 0.8, "balanced_accuracy": 0.5},
                "headline_metric": "balanced_accuracy",
            }
        )
    )
    assert runs.summarize_run(run_id)["metric"] == "balanced_accuracy"


# --- the Data and Train pages ----------------------------------------------------------


def _open(page: str, **values) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in values.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def _buttons(at: AppTest) -> dict[str, Any]:
    return {b.label: b for b in at.button}


def test_data_page_fix_buttons_apply_and_undo():
    dataset_id = datasets.store_upload(
        "heart.csv", heart_like().to_csv(index=False).encode()
    )
    at = _open("pages/data.py", **{state.DATASET_ID: dataset_id})
    assert at.selectbox(key="_w_target").value == "label"
    buttons = _buttons(at)
    assert {"Treat 0 in “chol” as missing", "Leave “ecg” out"} <= set(buttons)
    buttons["Treat 0 in “chol” as missing"].click().run()
    assert not at.exception
    assert at.session_state[state.FIXES] == [ZEROS]
    shown = "\n".join(str(m.value) for m in at.markdown)
    assert "Treat 0 in “chol” as missing" in shown and "Fixes you chose" in shown
    assert "Treat 0 in “chol” as missing" not in _buttons(at)  # the finding is fixed
    warnings = "\n".join(str(w.value) for w in at.warning)
    assert "Zeros that probably mean" not in warnings and "impossible" not in warnings
    _buttons(at)["Leave “ecg” out"].click().run()
    assert at.session_state[state.FIXES] == [ZEROS, DROP]
    at.button(key="_w_undo_fix_0").click().run()  # undo the zeros
    assert not at.exception
    assert at.session_state[state.FIXES] == [DROP]
    assert "Treat 0 in “chol” as missing" in _buttons(at)  # offered again


def test_train_page_lists_the_fixes_and_trains_with_them(monkeypatch):
    dataset_id = datasets.store_upload(
        "heart.csv", heart_like().to_csv(index=False).encode()
    )
    started = []
    monkeypatch.setattr(
        launch, "start_run", lambda spec: started.append(spec) or "run-1"
    )
    at = _open(
        "pages/train.py",
        **{
            state.DATASET_ID: dataset_id,
            state.TARGET_COLUMN: "label",
            state.FIXES: [ZEROS, DROP],
        },
    )
    listed = "\n".join(str(i.value) for i in at.info)
    assert "Fixes from the data check" in listed
    assert "treat 0 in “chol” as missing; leave “ecg” out" in listed
    at.form_submit_button[0].click().run()
    assert [spec.params["fixes"] for spec in started] == [[ZEROS, DROP]]
