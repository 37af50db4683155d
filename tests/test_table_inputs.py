"""Real-world table shapes: one input column, odd headers, gappy categories, inf, long text."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pandas as pd
import pytest

from core import datasets, prediction, runs, table_reading, training
from core.__main__ import main
from core.catalog import get_template
from core.tables import bundle as tables_bundle
from core.tables.template import input_names
from core.templates.params import resolve_params
from tests.conftest import FAST_PARAMS

ODD_NAMES = [
    "od280/od315_of_diluted_wines",
    "speed km/h",
    "# visits",
    "BMI (kg/m²)",
    "1st reading",
    "температура",
    "価格",
    "a/b",
    "a b",
]


def _train_csv(frame: pd.DataFrame, target: str, tmp_path, capsys) -> dict:
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    argv = ["train", str(path), "--target", target, "--epochs", "2", "--json"]
    assert main([*argv, "--param", "batch_size=8"]) == 0
    return json.loads(capsys.readouterr().out)


def _export(run_id: str, tmp_path, capsys) -> zipfile.ZipFile:
    bundle = tmp_path / "bundle.zip"
    assert main(["export", run_id, "-o", str(bundle)]) == 0
    assert "match the live model" in capsys.readouterr().out
    return zipfile.ZipFile(bundle)


def _run_bundle_script(archive: zipfile.ZipFile, rows: pd.DataFrame, tmp_path):
    """Runs the bundle's own predict.py in a fresh process; returns its CSV and stderr."""
    folder = tmp_path / "unzipped"
    archive.extractall(folder)
    rows.to_csv(folder / "rows.csv", index=False)
    out = folder / "out.csv"
    script = [sys.executable, str(folder / "predict.py"), str(folder / "rows.csv")]
    done = subprocess.run(
        [*script, "-o", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out), done.stderr


def _pima_glucose(n: int = 60) -> pd.DataFrame:
    glucose = np.random.default_rng(0).normal(120, 30, n).round()
    return pd.DataFrame({"Glucose": glucose, "Outcome": (glucose > 125).astype(int)})


@pytest.mark.trains
def test_one_number_column_trains_exports_and_scores(tmp_path, capsys):
    run_id = _train_csv(_pima_glucose(), "Outcome", tmp_path, capsys)["run_id"]
    archive = _export(run_id, tmp_path, capsys)  # verified on a one-column rows.csv
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"Glucose": [90.0, 180.0, np.nan]}).to_csv(rows, index=False)
    out = tmp_path / "scored.csv"
    assert main(["predict", run_id, str(rows), "-o", str(out)]) == 0
    scored = pd.read_csv(out)
    assert len(scored) == 3 and np.isfinite(scored["probability_1"]).all()
    bundled, _ = _run_bundle_script(archive, pd.read_csv(rows), tmp_path)
    np.testing.assert_allclose(bundled["probability_1"], scored["probability_1"])


@pytest.mark.trains
def test_one_text_column_trains_exports_and_scores(tmp_path, capsys):
    rng = np.random.default_rng(1)
    spam = ["WIN a FREE prize, call now", "Urgent! claim your cash reward txt"]
    ham = ["see you at lunch tomorrow", "ok, I'll call mum tonight"]
    label = rng.choice(["ham", "spam"], 60)
    message = [rng.choice(spam if y == "spam" else ham) for y in label]
    frame = pd.DataFrame({"label": label, "message": message})
    run_id = _train_csv(frame, "label", tmp_path, capsys)["run_id"]
    _export(run_id, tmp_path, capsys)
    rows = tmp_path / "messages.csv"
    rows.write_text('message\n"FREE cash prize, call"\nlunch tomorrow?\n')
    result, warnings = prediction.predict_path(run_id, rows)
    assert warnings == [] and len(result) == 2
    assert np.isfinite(result[["probability_ham", "probability_spam"]]).all(None)


def _odd_table(n: int = 80) -> pd.DataFrame:
    """Wine/penguins-shaped: odd headers, a category with blanks, two inf cells."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({name: rng.normal(size=n) for name in ODD_NAMES})
    frame["species"] = np.where(frame["BMI (kg/m²)"] > 0, "Adelie", "Gentoo")
    frame["sex"] = rng.choice(["male", "female", None], n, p=[0.45, 0.45, 0.1])
    frame.loc[[i for i in (3, 7) if i < n], "speed km/h"] = np.inf
    return frame


@pytest.mark.trains
def test_odd_headers_blank_categories_and_inf_train_and_export(tmp_path, capsys):
    result = _train_csv(_odd_table(), "species", tmp_path, capsys)
    run_id = result["run_id"]
    assert np.isfinite(result["metrics"]["accuracy"])
    info = runs.read_info(run_id)
    assert [f["name"] for f in info["schema"]] == [*ODD_NAMES, "sex"]
    assert len({f["input"] for f in info["schema"]}) == len(ODD_NAMES) + 1
    report = runs.read_evaluation(run_id)
    assert {row["feature"] for row in report["importance"]} == {*ODD_NAMES, "sex"}

    archive = _export(run_id, tmp_path, capsys)  # reloads in a fresh process
    card = archive.read("README.md").decode()
    assert "od280/od315_of_diluted_wines (number, model input `c0_od280_od315" in card
    assert "価格 (number, model input `c6`)" in card
    rows = _odd_table(4).drop(columns="species")
    rows.loc[1, "sex"] = "unknown"  # a category never seen in training
    bundled, stderr = _run_bundle_script(archive, rows, tmp_path)
    assert list(bundled.columns[: len(ODD_NAMES)]) == ODD_NAMES
    assert "`speed km/h` holds an infinite or too large number in row(s) 4" in stderr
    scored, warnings = prediction.predict_frame(run_id, rows)
    assert any("`speed km/h`" in w and "row(s) 4" in w for w in warnings)
    probabilities = scored[["probability_Adelie", "probability_Gentoo"]]
    assert np.isfinite(probabilities).all(None)
    np.testing.assert_allclose(
        bundled["probability_Adelie"], scored["probability_Adelie"]
    )


def test_infinite_target_is_refused_naming_column_and_rows():
    frame = _odd_table().drop(columns="species")
    frame["price"] = frame["a b"] * 3
    frame.loc[[4, 9, 12], "price"] = [np.inf, -np.inf, 1e39]
    template = get_template("tabular_regression")
    problems = template.check(frame, "price", resolve_params(template, {}))
    assert problems == [
        "`price` holds an infinite or too large number in row(s) 5, 10, 13; a model "
        "cannot learn from it. Fix those values or remove the rows."
    ]


AWKWARD_CATEGORIES = ["", "nan", "None", None, np.nan, 1, 2.0, "x\ny", "[UNK]", "Dream"]


# Real reviews hold U+0085 ("worth seeing\x85 it's ..."); Keras reads words back as lines.
NOTES = ["Definitely worth seeing\x85 it's moving", "dull\u2028plot", "seeing it twice"]


def test_models_with_awkward_categories_reload_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame(
        {
            "island": [AWKWARD_CATEGORIES[i % 9] for i in range(n)],
            "bill": rng.normal(size=n),
            "note": [NOTES[i % 3] for i in range(n)],
        }
    )
    frame["species"] = np.where(frame["bill"] > 0, "Adelie", "Chinstrap")
    template = get_template("tabular_classification")
    column_types = {"island": "category", "note": "text"}
    params = resolve_params(template, {**FAST_PARAMS, "column_kinds": column_types})
    prepared = template.prepare(frame, "species", params, seed=0)
    model = template.build_model(prepared, params)
    path = tmp_path / "model.keras"
    model.save(path)
    rows = pd.DataFrame({"island": AWKWARD_CATEGORIES, "bill": 0.5, "note": "seeing"})
    expected = tables_bundle.predict_outputs(model, rows, prepared.info["schema"])
    (tmp_path / "schema.json").write_text(json.dumps(prepared.info["schema"]))
    rows.to_pickle(tmp_path / "rows.pkl")
    code = (
        "import json, sys, keras, numpy as np, pandas as pd\n"
        "from core.tables.bundle import predict_outputs\n"
        "d = sys.argv[1]\n"
        "model = keras.saving.load_model(d + '/model.keras')\n"
        "schema = json.load(open(d + '/schema.json'))\n"
        "out = predict_outputs(model, pd.read_pickle(d + '/rows.pkl'), schema)\n"
        "np.save(d + '/out.npy', out)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


def test_long_text_cells_cost_memory_by_size_not_rows_times_longest():
    rows, long_cell = 200, "word " * 80_000  # one 400 kB cell
    text = ["a short review"] * rows
    text[17] = long_cell
    frame = pd.DataFrame({"review": text, "stars": np.arange(rows) % 2})
    schema = [{"name": "review", "kind": "text"}]
    tracemalloc.start()
    inputs = tables_bundle.frame_to_inputs(frame, schema)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert inputs["review"].shape == (rows, 1)
    assert peak < 20 * 2**20  # fixed-width strings took rows x 400 kB x 4 = 320 MB


def test_training_a_long_text_column_stays_small():
    rows = 200
    text = [f"review number {i} was {'good' if i % 2 else 'bad'}" for i in range(rows)]
    text[5] = "word " * 80_000
    frame = pd.DataFrame({"review": text, "stars": np.arange(rows) % 2})
    template = get_template("tabular_classification")
    params = resolve_params(
        template, {**FAST_PARAMS, "column_kinds": {"review": "text"}}
    )
    tracemalloc.start()
    prepared = template.prepare(frame, "stars", params, seed=0)
    template.build_model(prepared, params)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20  # rows x longest cell as fixed-width text: 320 MB


def test_an_empty_cell_of_a_one_column_file_is_a_row_to_score():
    frame = table_reading.read_csv_bytes(b'Glucose\n85\n""\n140\n', "rows.csv")
    assert frame["Glucose"].isna().tolist() == [False, True, False]


@pytest.mark.trains
def test_training_with_inf_in_an_input_finishes(tmp_path):
    frame = _pima_glucose()
    frame.loc[[2, 11], "Glucose"] = [np.inf, -np.inf]
    dataset_id = datasets.store_upload("pima.csv", frame.to_csv(index=False).encode())
    spec = runs.RunSpec("tabular_classification", dataset_id, "Outcome", FAST_PARAMS)
    run_id = runs.create_run(spec)
    assert training.train_run(run_id) == "completed", runs.read_status(run_id)
    assert np.isfinite(runs.read_evaluation(run_id)["metrics"]["accuracy"])


def test_models_saved_before_input_names_still_get_their_columns_by_name():
    schema = [{"name": "Glucose", "kind": "number"}]  # an older bundle's schema
    inputs = tables_bundle.frame_to_inputs(pd.DataFrame({"Glucose": [85.0]}), schema)
    assert list(inputs) == ["Glucose"]


def test_input_names_are_safe_unique_and_readable():
    names = input_names(["a/b", "a b", "価格", "BMI (kg/m²)", "1st"])
    assert names == ["c0_a_b", "c1_a_b", "c2", "c3_BMI_kg_m", "c4_1st"]
