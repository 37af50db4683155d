"""Data in: CSV loading, column types, stored uploads, splits and preflight findings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import datasets, table_files, table_reading
from core.catalog import suggest
from core.columns import (
    infer_column_types,
    mixed_columns,
    resolve_column_types,
    split_indices,
)
from core.errors import DataError
from core.tables.preflight import preflight


def test_text_values_are_kept():
    frame = table_reading.read_csv_bytes(b"n,word\n1,apple\n2,pear\n3,fig\n")
    assert frame["word"].tolist() == ["apple", "pear", "fig"]


def test_utf8_bom_is_not_part_of_the_first_header():
    frame = table_reading.read_csv_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,4\n")
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 3]


@pytest.mark.parametrize(
    "raw",
    [
        "\ufeffcity,n\nJosé,1\nZoë,2\n".encode(),
        "city,n\nJosé,1\nZoë,2\n".encode("latin-1"),
        "city,n\nJosé,1\nZoë,2\n".encode("utf-16"),
    ],
    ids=["utf8-bom", "latin-1", "utf-16"],
)
def test_text_encodings_are_decoded(raw):
    frame = table_reading.read_csv_bytes(raw)
    assert list(frame.columns) == ["city", "n"]
    assert frame["city"].tolist() == ["José", "Zoë"]
    assert frame["n"].tolist() == [1, 2]


def test_utf16_numbers_are_decoded():
    frame = table_reading.read_csv_bytes("a,b\n1,2.5\n3,4.5\n".encode("utf-16"))
    assert list(frame.columns) == ["a", "b"]
    assert frame["b"].tolist() == [2.5, 4.5]


def test_semicolon_file_with_decimal_commas():
    frame = table_reading.read_csv_bytes(b"price;qty;weight\n1,5;2;0,25\n3,25;4;10,5\n")
    assert list(frame.columns) == ["price", "qty", "weight"]
    assert pd.api.types.is_float_dtype(frame["price"])
    assert frame["price"].tolist() == [1.5, 3.25]
    assert frame["weight"].tolist() == [0.25, 10.5]


def test_tab_delimited_file():
    frame = table_reading.read_csv_bytes(b"a\tb\tc\n1\t2\t3\n4\t5\t6\n")
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame.shape == (2, 3)
    assert frame["c"].tolist() == [3, 6]


def test_thousands_separators_become_numbers():
    frame = table_reading.read_csv_bytes(b'amount,n\n"1,234",1\n"12,345.5",2\n7,3\n')
    assert pd.api.types.is_numeric_dtype(frame["amount"])
    assert frame["amount"].tolist() == [1234, 12345.5, 7]


def test_missing_markers_in_a_number_column():
    frame = table_reading.read_csv_bytes(b"a,b\n1,10\nN/A,20\n?,30\n-,40\n5,50\n")
    assert pd.api.types.is_numeric_dtype(frame["a"])
    assert frame["a"].isna().tolist() == [False, True, True, True, False]


def test_missing_markers_in_a_text_column():
    frame = table_reading.read_csv_bytes(b"a,b\n1,red\n2,N/A\n3,?\n4,-\n5,blue\n")
    assert frame["b"].isna().tolist() == [False, True, True, True, False]
    assert frame["b"].dropna().tolist() == ["red", "blue"]


def test_quoted_newline_stays_inside_its_field():
    frame = table_reading.read_csv_bytes(b'a,b\n1,"line one\nline two"\n2,z\n')
    assert frame.shape == (2, 2)
    assert frame["b"].tolist() == ["line one\nline two", "z"]


def test_empty_rows_are_dropped():
    frame = table_reading.read_csv_bytes(b"a,b\n1,2\n,\n3,4\n")
    assert frame["a"].tolist() == [1, 3]


def test_blank_header_gets_a_plain_name():
    frame = table_reading.read_csv_bytes(b"a, \n1,2\n3,4\n")
    assert list(frame.columns) == ["a", "column_2"]


# --- column types ---------------------------------------------------------------------


def _types_frame(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue"], n),
            "smoker": rng.choice(["yes", "no"], n),
            "flag": rng.choice([0, 1], n),
            "day": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
            "review": [
                f"this is a rather long sentence number {i} about the product"
                for i in range(n)
            ],
            "customer_id": np.arange(1000, 1000 + n)[::-1],
            "code": [f"ID{i:05d}x" for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    ("column", "column_type"),
    [
        ("size", "number"),
        ("color", "category"),
        ("smoker", "boolean"),
        ("flag", "boolean"),
        ("day", "date"),
        ("review", "text"),
        ("customer_id", "identifier"),
        ("code", "identifier"),
    ],
)
def test_infer_column_types(column, column_type):
    assert infer_column_types(_types_frame())[column] == column_type


def test_whole_numbers_that_repeat_are_numbers_not_ids():
    frame = pd.DataFrame({"age": [20, 30, 40, 50] * 10, "row": range(40)})
    column_types = infer_column_types(frame)
    assert column_types["age"] == "number"
    assert column_types["row"] == "identifier"  # unique and increasing


def test_resolve_column_types_applies_overrides():
    column_types = resolve_column_types(
        _types_frame(), {"flag": "category", "code": "text"}
    )
    assert column_types["flag"] == "category"
    assert column_types["code"] == "text"
    assert column_types["size"] == "number"


def test_resolve_column_types_rejects_unknown_column():
    with pytest.raises(DataError, match="Invalid column.*'nope'"):
        resolve_column_types(_types_frame(), {"nope": "number"})


def test_resolve_column_types_rejects_unknown_type():
    with pytest.raises(DataError, match="Invalid type for column `size`.*'decimal'"):
        resolve_column_types(_types_frame(), {"size": "decimal"})


# --- stored uploads -------------------------------------------------------------------


def test_store_upload_uses_the_content_hash(workspace_root):
    first = datasets.store_upload("a.csv", b"x,y\n1,2\n")
    again = datasets.store_upload("renamed.csv", b"x,y\n1,2\n")
    other = datasets.store_upload("a.csv", b"x,y\n1,3\n")
    assert first == again != other
    assert len(first) == 16 and int(first, 16) >= 0
    assert datasets.dataset_path(first).read_bytes() == b"x,y\n1,2\n"
    assert datasets.dataset_name(first) == "a.csv"  # the first name is kept
    assert sorted(p.name for p in datasets.datasets_root().iterdir()) == sorted(
        [first, other]
    )


def test_store_upload_name_never_becomes_a_path(workspace_root):
    datasets.datasets_root()
    before = set(workspace_root.parent.rglob("*"))
    dataset_id = datasets.store_upload("../../evil.csv", b"x,y\n1,2\n")
    created = set(workspace_root.parent.rglob("*")) - before

    root = datasets.datasets_root().resolve()
    assert created
    for path in created:
        resolved = path.resolve()
        assert resolved == root or root in resolved.parents, path
    assert not any("evil" in p.name for p in created)
    meta = json.loads((root / dataset_id / datasets.META_FILE).read_text())
    assert meta["name"] == "evil.csv"
    assert datasets.load_table(dataset_id)["y"].tolist() == [2]


def test_dataset_path_rejects_traversal_ids():
    with pytest.raises(DataError, match="no stored dataset"):
        datasets.dataset_path("../../etc")


def test_store_upload_size_limit(monkeypatch):
    monkeypatch.setattr(datasets, "MAX_TABLE_BYTES", 10)
    with pytest.raises(DataError, match="the limit is"):
        datasets.store_upload("big.csv", b"a,b\n1,2\n3,4\n")
    assert list(datasets.datasets_root().iterdir()) == []


def test_store_upload_refuses_empty_bytes():
    with pytest.raises(DataError, match="empty"):
        datasets.store_upload("empty.csv", b"")


# --- other table formats: Excel, Parquet, JSON lines, TSV ---------------------------

SMALL_TABLE = pd.DataFrame(
    {
        "age": [52, 61, 47, 38],
        "weight": [70.5, None, 82.25, 64.0],
        "city": ["Oslo", "Lima", None, "Pune, West"],
        "label": ["yes", "no", "no", "yes"],
    }
)


def _as_bytes(frame: pd.DataFrame, kind: str) -> bytes:
    """`frame` written as a file of `kind`, the way a person's tools would write it."""
    buffer = io.BytesIO()
    if kind == "csv":
        frame.to_csv(buffer, index=False)
    elif kind == "tsv":
        frame.to_csv(buffer, index=False, sep="\t")
    elif kind == "xlsx":
        frame.to_excel(buffer, index=False, engine="openpyxl")
    elif kind == "parquet":
        frame.to_parquet(buffer, index=False)
    else:
        frame.to_json(buffer, orient="records", lines=True)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["tsv", "xlsx", "parquet", "jsonl", "ndjson"])
def test_each_table_format_gives_the_frame_of_its_csv(kind):
    csv_id = datasets.store_upload("small.csv", _as_bytes(SMALL_TABLE, "csv"))
    other_id = datasets.store_upload(f"small.{kind}", _as_bytes(SMALL_TABLE, kind))
    frame = datasets.load_table(other_id)
    pd.testing.assert_frame_equal(frame, datasets.load_table(csv_id))
    assert frame["weight"].isna().sum() == 1 and frame["city"].isna().sum() == 1


def test_excel_parquet_and_json_lines_store_one_identical_table():
    """One table in three formats is one stored dataset: the same model follows."""
    ids = {
        kind: datasets.store_upload(f"heart.{kind}", _as_bytes(SMALL_TABLE, kind))
        for kind in ("xlsx", "parquet", "jsonl")
    }
    assert len(set(ids.values())) == 1
    stored = datasets.dataset_path(ids["xlsx"]).read_bytes()
    assert stored.startswith(b"age,weight,city,label\n")


def test_a_workbook_uses_its_first_sheet_and_names_the_others():
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        SMALL_TABLE.to_excel(writer, sheet_name="patients", index=False)
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
    dataset_id = datasets.store_upload("book.xlsx", buffer.getvalue())
    assert list(datasets.load_table(dataset_id).columns) == list(SMALL_TABLE.columns)
    (note,) = datasets.dataset_notes(dataset_id)
    assert "2 sheets" in note and "`patients` is used" in note and "`notes`" in note


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("xlsx", "could not be read as a workbook"),
        ("parquet", "could not be read as a Parquet file"),
        ("jsonl", "could not be read as JSON lines"),
        ("ndjson", "could not be read as JSON lines"),
    ],
)
def test_a_corrupt_file_of_each_format_is_one_sentence(kind, expected):
    good = _as_bytes(SMALL_TABLE, kind)
    for corrupt in (b"\x00\x01garbage{\xff" * 20, good[: len(good) // 2]):
        with pytest.raises(DataError, match=expected) as caught:
            datasets.store_upload(f"broken.{kind}", corrupt)
        assert str(caught.value).count(". ") <= 2 and "Traceback" not in str(
            caught.value
        )
    assert list(datasets.datasets_root().iterdir()) == []


def test_a_workbook_that_unpacks_too_large_is_refused(monkeypatch):
    workbook = _as_bytes(SMALL_TABLE, "xlsx")  # a zip: its parts unpack larger
    monkeypatch.setattr(datasets, "MAX_TABLE_BYTES", len(workbook))
    monkeypatch.setattr(table_files, "MAX_UNPACK_RATIO", 1)
    with pytest.raises(DataError, match="unpacks to"):
        datasets.store_upload("big.xlsx", workbook)


WORKBOOKS = Path(__file__).parent / "data" / "workbooks"


@pytest.mark.parametrize("name", ["any_sheets.xls", "base.ods"])
def test_old_excel_and_opendocument_workbooks_are_read_sheet_by_sheet(name):
    data = (WORKBOOKS / name).read_bytes()
    sheets = table_files.sheet_names(name, data)
    assert len(sheets) == 3
    first = datasets.store_upload(name, data)
    assert datasets.load_table(first).shape[0] >= 1
    assert f"`{sheets[0]}` is used" in datasets.dataset_notes(first)[0]
    assert datasets.store_upload(name, data, sheets[0]) == first
    with pytest.raises(
        DataError, match=f"The sheet `{sheets[1]}` of `{name}` is empty"
    ):
        datasets.store_upload(name, data, sheets[1])


def test_a_workbook_sheet_is_picked_by_name_and_a_wrong_name_is_refused():
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
        SMALL_TABLE.to_excel(writer, sheet_name="patients", index=False)
    data = buffer.getvalue()
    picked = datasets.store_upload("book.xlsx", data, "patients")
    assert picked == datasets.store_upload("small.csv", _as_bytes(SMALL_TABLE, "csv"))
    with pytest.raises(DataError, match="has no sheet `Patients`.*`notes`, `patients`"):
        datasets.store_upload("book.xlsx", data, "Patients")


def test_a_password_protected_workbook_is_one_sentence():
    data = (WORKBOOKS / "password.xls").read_bytes()
    with pytest.raises(DataError, match="protected by a password"):
        datasets.store_upload("secret.xls", data)
    assert list(datasets.datasets_root().iterdir()) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.docx", "not a table file this app reads"),
        ("no_ending", "not a table file this app reads"),
    ],
)
def test_upload_names_of_other_types_are_refused_in_words(name, expected):
    with pytest.raises(DataError, match=expected):
        table_files.check_upload_name(name)
    for ok in ("a.CSV", "a.tsv", "a.xlsx", "a.xls", "a.ods", "a.parquet", "a.jsonl"):
        table_files.check_upload_name(ok)


# --- template suggestion ----------------------------------------------------------------


def test_suggest_regression_for_many_numbers():
    frame = pd.DataFrame({"y": np.linspace(0, 1, 50), "a": 1})
    template, reason = suggest(frame, "y", "table")
    assert template.name == "tabular_regression"
    assert "50 different values" in reason


@pytest.mark.parametrize(
    "values", [[0, 1, 2] * 17, ["yes", "no"] * 25], ids=["numbers", "words"]
)
def test_suggest_classification_for_few_classes(values):
    frame = pd.DataFrame({"y": values, "a": 1})
    template, reason = suggest(frame, "y", "table")
    assert template.name == "tabular_classification"
    assert "distinct values" in reason


def test_suggest_refuses_an_unknown_target():
    with pytest.raises(DataError, match="target='nope'"):
        suggest(pd.DataFrame({"y": [1, 2]}), "nope", "table")


# --- splits ---------------------------------------------------------------------------


def test_split_indices_is_seeded_disjoint_and_complete():
    labels = np.array(["a"] * 30 + ["b"] * 10)
    train, val, test = split_indices(labels, 0.2, 0.2, seed=7)
    again = split_indices(labels, 0.2, 0.2, seed=7)
    other = split_indices(labels, 0.2, 0.2, seed=8)

    for part, same in zip((train, val, test), again, strict=True):
        np.testing.assert_array_equal(part, same)
    assert not np.array_equal(test, other[2])
    assert set(train).isdisjoint(val) and set(train).isdisjoint(test)
    assert set(val).isdisjoint(test)
    assert sorted([*train, *val, *test]) == list(range(40))
    assert (len(train), len(val), len(test)) == (24, 8, 8)
    assert list(test) == sorted(test)


def test_split_indices_is_stratified():
    labels = np.array(["a"] * 30 + ["b"] * 10)
    for part in split_indices(labels, 0.2, 0.2, seed=3):
        share_b = np.mean(labels[part] == "b")
        assert share_b == pytest.approx(0.25, abs=0.01)


def test_split_indices_numeric_targets_are_not_stratified():
    values = np.linspace(0, 1, 40)
    train, val, test = split_indices(values, 0.25, 0.25, seed=0)
    assert (len(train), len(val), len(test)) == (20, 10, 10)


# --- preflight ------------------------------------------------------------------------


def _noisy_table(n: int = 60) -> pd.DataFrame:
    """Features that only weakly predict the target: nothing to flag by default."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "label": rng.choice(["p", "q"], n),
        }
    )


def _messages(frame: pd.DataFrame, target: str = "label") -> list[str]:
    findings = preflight(frame, target, infer_column_types(frame))
    return [f.message for f in findings]


def test_preflight_clean_table_has_no_warnings():
    frame = _noisy_table()
    findings = preflight(frame, "label", infer_column_types(frame))
    assert [f for f in findings if f.level != "info"] == []


def test_preflight_missing_values():
    frame = _noisy_table()
    frame.loc[::2, "a"] = np.nan
    frame.loc[:5, "b"] = np.nan
    findings = preflight(frame, "label", infer_column_types(frame))
    by_message = {f.message: f.level for f in findings}
    assert by_message["`a` has 30 missing values (50%)."] == "warning"
    assert by_message["`b` has 6 missing values (10%)."] == "info"


def test_preflight_missing_target_values():
    frame = _noisy_table()
    frame["label"] = frame["label"].astype(object)
    frame.loc[:2, "label"] = None
    assert "The target `label` is missing in 3 rows." in _messages(frame)


def test_preflight_constant_column():
    frame = _noisy_table().assign(country="FR")
    assert "`country` has the same value in every row." in _messages(frame)


def test_preflight_id_like_column():
    frame = _noisy_table().assign(customer_id=np.arange(5000, 5060)[::-1])
    assert any("`customer_id` looks like an ID" in m for m in _messages(frame))


def test_preflight_duplicate_rows():
    frame = _noisy_table()
    frame = pd.concat([frame, frame.iloc[[1, 2]]], ignore_index=True)
    assert "2 rows are exact copies of other rows." in _messages(frame)


def test_preflight_leaking_feature():
    frame = _noisy_table()
    frame["copy"] = frame["label"].map({"p": 10.0, "q": 20.0})
    messages = _messages(frame)
    assert any("`copy` alone predicts `label` almost perfectly" in m for m in messages)
    assert not any("`a` alone predicts" in m for m in messages)


def test_preflight_leaking_feature_in_regression():
    frame = _noisy_table().drop(columns="label")
    frame["y"] = np.linspace(0, 100, len(frame))[::-1] + frame["a"]
    frame["y_again"] = frame["y"] * 2
    messages = _messages(frame, "y")
    assert any("`y_again` alone predicts `y`" in m for m in messages)


def test_preflight_class_imbalance():
    frame = _noisy_table()
    frame["label"] = ["rare"] * 6 + ["common"] * 54
    assert "Classes are imbalanced: `rare` has 6 rows, `common` has 54." in _messages(
        frame
    )


def test_preflight_too_few_rows():
    frame = _noisy_table(12)
    assert "12 rows for 2 input columns is few." in _messages(frame)


def test_preflight_mixed_numbers_and_words():
    frame = _noisy_table()
    frame["dose"] = (["1", "2", "3", "none given", "5", "6"] * 10)[: len(frame)]
    assert infer_column_types(frame)["dose"] == "category"
    assert mixed_columns(frame) == {"dose": ["none given"]}
    assert any(
        "`dose` mixes numbers and words (e.g. 'none given')" in m
        for m in _messages(frame)
    )


def test_preflight_orders_warnings_before_info():
    frame = _noisy_table().assign(country="FR")
    frame.loc[::2, "a"] = np.nan
    levels = [f.level for f in preflight(frame, "label", {})]
    order = {"error": 0, "warning": 1, "info": 2}
    assert "warning" in levels and "info" in levels
    assert levels == sorted(levels, key=order.get)
