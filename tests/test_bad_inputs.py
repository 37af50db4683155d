"""Bad inputs a real user brings: each one ends in a DataError or a check problem that says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import datasets, table_reading
from core.catalog import get_template
from core.columns import infer_column_types
from core.errors import DataError, TemplateError
from core.tables.preflight import preflight
from core.templates.params import resolve_params
from tests.conftest import FAST_PARAMS


def _load(raw: bytes, name: str = "upload.csv") -> pd.DataFrame:
    return datasets.load_table(datasets.store_upload(name, raw))


def _problems(frame: pd.DataFrame, target: str, template: str, **params) -> list[str]:
    chosen = get_template(template)
    return chosen.check(
        frame, target, resolve_params(chosen, {**FAST_PARAMS, **params})
    )


def _with_target(values, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "w": rng.normal(size=n), "t": values})


# --- files that are not usable tables ----------------------------------------------------


def test_empty_file():
    with pytest.raises(DataError, match="empty"):
        table_reading.read_csv_bytes(b"", "empty.csv")
    with pytest.raises(DataError, match="`empty.csv` is empty"):
        datasets.store_upload("empty.csv", b"")


def test_whitespace_only_file():
    with pytest.raises(DataError, match="`blank.csv` is empty"):
        _load(b"  \n\n \n", "blank.csv")


def test_header_only():
    with pytest.raises(DataError, match="has a header but no data rows"):
        _load(b"age,income,label\n", "header.csv")


def test_one_column():
    frame = _load(b"age\n1\n2\n3\n", "one.csv")  # valid, e.g. rows to score
    [finding] = preflight(frame, None, infer_column_types(frame))
    assert finding.level == "error" and "only one column ('age')" in finding.message
    assert "separator" in finding.fix


@pytest.mark.parametrize(
    "raw",
    [
        bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8)) + b"\0",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
    ],
    ids=["random-bytes", "png"],
)
def test_binary_file_named_csv(raw):
    with pytest.raises(DataError, match="`photo.csv` is not a text CSV file"):
        _load(raw, "photo.csv")


def test_ragged_rows_name_the_line():
    raw = b"a,b\n1,2\n3,4\n5,6,7\n8,9\n"
    with pytest.raises(DataError, match="line 4 has 3 values but the header has 2"):
        _load(raw, "ragged.csv")


# --- targets that cannot be learned -------------------------------------------------------


def test_target_with_one_class():
    problems = _problems(_with_target(["yes"] * 40), "t", "tabular_classification")
    assert len(problems) == 1
    assert "only one class ('yes')" in problems[0]


def test_regression_target_with_one_value():
    problems = _problems(_with_target([3.0] * 40), "t", "tabular_regression")
    assert problems == [
        "`t` has the same value in every row; there is nothing to predict."
    ]


@pytest.mark.parametrize("template", ["tabular_classification", "tabular_regression"])
def test_target_all_missing(template):
    problems = _problems(_with_target([np.nan] * 40), "t", template)
    assert problems == [
        "The target `t` is empty in every row; choose a column with values."
    ]


def test_target_all_missing_from_a_file():
    raw = b"x,w,t\n" + b"".join(f"{i},{i * 2},\n".encode() for i in range(30))
    frame = _load(raw)
    problems = _problems(frame, "t", "tabular_classification")
    assert any("empty in every row" in p for p in problems)


def test_target_with_thousands_of_classes_suggests_regression():
    values = np.random.default_rng(0).normal(size=3000)
    problems = _problems(_with_target(values, 3000), "t", "tabular_classification")
    assert len(problems) == 1
    assert "3000 different values, too many to be classes" in problems[0]
    assert "tabular_regression" in problems[0]


def test_target_with_single_row_classes():
    values = ["a", "b"] * 19 + ["c", "d"]
    problems = _problems(_with_target(values), "t", "tabular_classification")
    assert problems == [
        "Classes ['c', 'd'] of `t` have a single row; each class needs at least 2 "
        "examples. Add rows or remove those rows."
    ]


def test_target_that_is_free_text():
    values = [f"the customer wrote a long complaint about order {i}" for i in range(40)]
    problems = _problems(_with_target(values), "t", "tabular_classification")
    assert len(problems) == 1
    assert "holds free text" in problems[0]


def test_words_target_for_regression_points_to_classification():
    problems = _problems(_with_target(["a", "b"] * 20), "t", "tabular_regression")
    assert len(problems) == 1
    assert "holds words, not numbers" in problems[0]
    assert "tabular_classification" in problems[0]


def test_three_rows():
    frame = _with_target(["a", "b", "a"], 3)
    problems = _problems(frame, "t", "tabular_classification")
    assert any(
        "Only 3 rows have a `t` value; at least 20 are needed" in p for p in problems
    )


def test_unknown_target_column():
    problems = _problems(
        _with_target(["a", "b"] * 20), "nope", "tabular_classification"
    )
    assert len(problems) == 1 and "target='nope'" in problems[0]


def test_no_usable_input_column():
    frame = pd.DataFrame({"row_id": np.arange(40), "same": 1, "t": ["a", "b"] * 20})
    problems = _problems(frame, "t", "tabular_classification")
    assert any("No column besides `t` can be used as an input" in p for p in problems)


def test_mixed_numbers_and_words_train_as_category():
    frame = _with_target(["a", "b"] * 20)
    frame["dose"] = ["1", "2", "3", "unknown"] * 10
    template = get_template("tabular_classification")
    params = resolve_params(template, FAST_PARAMS)
    assert template.check(frame, "t", params) == []
    prepared = template.prepare(frame, "t", params, seed=0)
    dose = next(f for f in prepared.info["schema"] if f["name"] == "dose")
    assert dose["kind"] == "category"
    assert "unknown" in dose["choices"]


def test_mixed_numbers_and_words_from_a_file_stay_a_category():
    rows = "".join(
        f"{i},{['1', '2', '3', 'unknown'][i % 4]},{'ab'[i % 2]}\n" for i in range(40)
    )
    frame = _load(("x,dose,t\n" + rows).encode())
    assert frame["dose"].tolist()[:4] == ["1", "2", "3", "unknown"]
    assert infer_column_types(frame)["dose"] == "category"
    assert _problems(frame, "t", "tabular_classification") == []


# --- templates and parameters -------------------------------------------------------------


def test_unknown_template_name():
    with pytest.raises(TemplateError, match="Unknown template `forecast_magic`") as err:
        get_template("forecast_magic")
    assert "tabular_classification" in str(err.value)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"epochs": -1}, "`epochs`. Expected a value between 1 and 5000"),
        ({"epochs": "many"}, "`epochs`. Expected a whole number"),
        ({"learning_rate": 5.0}, "`learning_rate`. Expected a value between"),
        ({"batch_size": 7}, "`batch_size`. Expected one of [8, 16"),
        ({"colour": "red"}, "Unknown parameter `colour`"),
    ],
    ids=["negative-epochs", "words-epochs", "big-lr", "odd-batch", "unknown"],
)
def test_bad_params(params, words):
    with pytest.raises(DataError) as err:
        resolve_params(get_template("tabular_classification"), params)
    assert words in str(err.value)


@pytest.mark.parametrize("units", ["abc", "64,,x", "0", "99999", ""])
def test_bad_hidden_units(units):
    problems = _problems(
        _with_target(["a", "b"] * 20), "t", "tabular_classification", hidden_units=units
    )
    assert len(problems) == 1
    assert "Invalid value for argument `hidden_units`" in problems[0]
    assert "'64,32'" in problems[0]
