"""Real-world tables that broke or misled the loader and the data check (issue 7).

Each table copies the shape of a public data set: Pima diabetes, SMS spam, diamonds, a
European spreadsheet export and the bundled samples.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from core import datasets, table_reading
from core.columns import column_stats, infer_column_types, mask_infinite, suggest_target
from core.errors import DataError
from core.findings import Finding
from core.series import bundle as series_bundle
from core.tables import bundle as tables_bundle
from core.tables.preflight import find_infinite, preflight

APP = Path(__file__).parents[1] / "app.py"
# The first 80 rows of the Pima Indians diabetes table (UCI / Kaggle): 0 stands for
# "not measured" in Glucose, BloodPressure, SkinThickness, Insulin and BMI.
PIMA = b"""Pregnancies,Glucose,BloodPressure,SkinThickness,Insulin,BMI,\
DiabetesPedigreeFunction,Age,Outcome
6,148,72,35,0,33.6,0.627,50,1
1,85,66,29,0,26.6,0.351,31,0
8,183,64,0,0,23.3,0.672,32,1
1,89,66,23,94,28.1,0.167,21,0
0,137,40,35,168,43.1,2.288,33,1
5,116,74,0,0,25.6,0.201,30,0
3,78,50,32,88,31,0.248,26,1
10,115,0,0,0,35.3,0.134,29,0
2,197,70,45,543,30.5,0.158,53,1
8,125,96,0,0,0,0.232,54,1
4,110,92,0,0,37.6,0.191,30,0
10,168,74,0,0,38,0.537,34,1
10,139,80,0,0,27.1,1.441,57,0
1,189,60,23,846,30.1,0.398,59,1
5,166,72,19,175,25.8,0.587,51,1
7,100,0,0,0,30,0.484,32,1
0,118,84,47,230,45.8,0.551,31,1
7,107,74,0,0,29.6,0.254,31,1
1,103,30,38,83,43.3,0.183,33,0
1,115,70,30,96,34.6,0.529,32,1
3,126,88,41,235,39.3,0.704,27,0
8,99,84,0,0,35.4,0.388,50,0
7,196,90,0,0,39.8,0.451,41,1
9,119,80,35,0,29,0.263,29,1
11,143,94,33,146,36.6,0.254,51,1
10,125,70,26,115,31.1,0.205,41,1
7,147,76,0,0,39.4,0.257,43,1
1,97,66,15,140,23.2,0.487,22,0
13,145,82,19,110,22.2,0.245,57,0
5,117,92,0,0,34.1,0.337,38,0
5,109,75,26,0,36,0.546,60,0
3,88,58,11,54,24.8,0.267,22,0
6,92,92,0,0,19.9,0.188,28,0
10,122,78,31,0,27.6,0.512,45,0
4,103,60,33,192,24,0.966,33,0
11,138,76,0,0,33.2,0.42,35,0
9,102,76,37,0,32.9,0.665,46,1
2,90,68,42,0,38.2,0.503,27,1
4,111,72,47,207,37.1,1.39,56,1
3,180,64,25,70,34,0.271,26,0
7,133,84,0,0,40.2,0.696,37,0
7,106,92,18,0,22.7,0.235,48,0
9,171,110,24,240,45.4,0.721,54,1
7,159,64,0,0,27.4,0.294,40,0
0,180,66,39,0,42,1.893,25,1
1,146,56,0,0,29.7,0.564,29,0
2,71,70,27,0,28,0.586,22,0
7,103,66,32,0,39.1,0.344,31,1
7,105,0,0,0,0,0.305,24,0
1,103,80,11,82,19.4,0.491,22,0
1,101,50,15,36,24.2,0.526,26,0
5,88,66,21,23,24.4,0.342,30,0
8,176,90,34,300,33.7,0.467,58,1
7,150,66,42,342,34.7,0.718,42,0
1,73,50,10,0,23,0.248,21,0
7,187,68,39,304,37.7,0.254,41,1
0,100,88,60,110,46.8,0.962,31,0
0,146,82,0,0,40.5,1.781,44,0
0,105,64,41,142,41.5,0.173,22,0
2,84,0,0,0,0,0.304,21,0
8,133,72,0,0,32.9,0.27,39,1
5,44,62,0,0,25,0.587,36,0
2,141,58,34,128,25.4,0.699,24,0
7,114,66,0,0,32.8,0.258,42,1
5,99,74,27,0,29,0.203,32,0
0,109,88,30,0,32.5,0.855,38,1
2,109,92,0,0,42.7,0.845,54,0
1,95,66,13,38,19.6,0.334,25,0
4,146,85,27,100,28.9,0.189,27,0
2,100,66,20,90,32.9,0.867,28,1
5,139,64,35,140,28.6,0.411,26,0
13,126,90,0,0,43.4,0.583,42,1
4,129,86,20,270,35.1,0.231,23,0
1,79,75,30,0,32,0.396,22,0
1,0,48,20,0,24.7,0.14,22,0
7,62,78,0,0,32.6,0.391,41,0
5,95,72,33,0,37.7,0.37,27,0
0,131,0,0,0,43.2,0.27,26,1
2,112,66,22,0,25,0.307,24,0
3,113,44,13,0,22.4,0.14,22,0
"""

SMS = """label,message
ham,"Go until jurong point, crazy.. Available only in bugis n great world la e buffet..."
ham,Ok lar... Joking wif u oni...
spam,"Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005; text FA to 87121"
ham,U dun say so early hor... U c already then say...
ham,"Nah I don't think he goes to usf, he lives around here though"
spam,"WINNER!! As a valued network customer you have been selected to receive a £900 prize"
""".encode()


def _messages(findings: list[Finding]) -> str:
    return "\n".join(f.message for f in findings)


def _check(frame, target):
    return preflight(frame, target, infer_column_types(frame))


# --- item 1: one-column and two-column tables --------------------------------------


@pytest.mark.parametrize(
    "raw, columns",
    [
        (b"Glucose\n148\n85\n183\n", ["Glucose"]),
        (SMS.split(b"\n", 1)[1].replace(b"ham,", b"").replace(b"spam,", b""), None),
        (b"Glucose,Outcome\n148,1\n85,0\n183,1\n", ["Glucose", "Outcome"]),
        (SMS, ["label", "message"]),
    ],
    ids=["one-number-column", "one-text-column", "pima-two-columns", "sms-spam"],
)
def test_one_and_two_column_tables_load(raw, columns):
    frame = datasets.load_table(datasets.store_upload("rows.csv", raw))
    if columns is None:  # the messages alone: one column, commas and ; inside cells
        assert frame.shape[1] == 1 and len(frame) == 5
        assert "crazy.., Available" not in frame.iloc[:, 0].iloc[0]
    else:
        assert list(frame.columns) == columns
        assert len(frame) == len(raw.strip().splitlines()) - 1


def test_sms_message_keeps_its_commas_and_semicolons():
    frame = table_reading.read_csv_bytes(SMS, "spam.csv")
    assert frame["message"][0].startswith("Go until jurong point, crazy")
    assert "2005; text FA" in frame["message"][2]
    assert suggest_target(infer_column_types(frame)) == "label"


def test_one_column_table_is_refused_for_training_by_the_data_check():
    frame = table_reading.read_csv_bytes(
        b"age:income:label\n1:2:3\n4:5:6\n", "colon.csv"
    )
    findings = _check(frame, None)
    assert findings[0].level == "error"
    assert "only one column ('age:income:label')" in findings[0].message
    assert "separator" in findings[0].fix


# --- item 5: infinite and huge numbers ----------------------------------------------


def _with_cells(cells: dict[int, str], column: str = "x") -> bytes:
    rows = ["x,w,price"] + [
        f"{i % 7 + 0.5},{(i * 13) % 11},{100 + (37 * i) % 97 * 3.5}" for i in range(30)
    ]
    for row, cell in cells.items():
        values = rows[row].split(",")
        values[["x", "w", "price"].index(column)] = cell
        rows[row] = ",".join(values)
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "1e309", "-2e308", "5e38"])
def test_infinite_cell_is_named_with_its_row_and_counts_as_missing(cell):
    frame = table_reading.read_csv_bytes(_with_cells({3: cell, 20: cell}), "inf.csv")
    column_types = infer_column_types(frame)
    assert column_types["x"] == "number"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no sklearn "Input contains infinity" either
        findings = preflight(frame, "price", column_types)
        stats = column_stats(frame, column_types).set_index("column")
    message = _messages(findings)
    assert "`x` holds 2 infinite or too large values (row 3, 20)" in message
    assert "`x` has 2 missing values" in message
    assert np.isfinite(stats.loc["x", ["mean", "min", "max"]].astype(float)).all()
    assert stats.loc["x", "missing"] == 2


def test_infinite_target_rows_count_as_missing_targets():
    frame = table_reading.read_csv_bytes(_with_cells({5: "inf"}, "price"), "inf.csv")
    message = _messages(_check(frame, "price"))
    assert "`price` holds 1 infinite or too large value (row 5)" in message
    assert "The target `price` is missing in 1 rows." in message


def test_find_infinite_and_mask_infinite_for_rows_to_score():
    frame = table_reading.read_csv_bytes(b"Glucose\n148\ninf\n85\n1e400\n", "score.csv")
    [finding] = find_infinite(frame)
    assert (
        finding.message == "`Glucose` holds 2 infinite or too large values (row 2, 4)."
    )
    masked = mask_infinite(frame)
    assert masked["Glucose"].isna().tolist() == [False, True, False, True]
    assert np.isinf(frame["Glucose"]).sum() == 2  # the input is left as it was
    assert find_infinite(masked) == []


# --- item 6: European numbers ---------------------------------------------------------

EUROPEAN = """Ort;Preis;Fläche;Zimmer;Baujahr
Berlin;50.088,83;45,5;2;1998
München;1.234.500,00;120,25;4;2004
Köln;999,90;78;3;1975
Hamburg;312.000,00;88,75;3;2011
Leipzig;87.450,10;52;2;1990
""".encode("cp1252")


def test_european_numbers_in_a_semicolon_file_are_numbers():
    frame = table_reading.read_csv_bytes(EUROPEAN, "wohnungen.csv")
    assert frame["Preis"].tolist() == [50088.83, 1234500.0, 999.9, 312000.0, 87450.1]
    assert frame["Fläche"].tolist() == [45.5, 120.25, 78.0, 88.75, 52.0]
    column_types = infer_column_types(frame)
    assert column_types["Preis"] == column_types["Fläche"] == "number"
    assert "Preis" not in _messages(_check(frame, "Zimmer"))


def test_thousands_dots_in_a_decimal_comma_file_are_thousands():
    raw = b"Stadt;Einwohner;Fl\xe4che\nA;1.234;12,5\nB;56.789;3,25\nC;123.456;7\n"
    frame = table_reading.read_csv_bytes(raw, "staedte.csv")
    assert frame["Einwohner"].tolist() == [1234, 56789, 123456]
    assert frame["Fläche"].tolist() == [12.5, 3.25, 7.0]


def test_semicolon_file_with_decimal_points_stays_numeric():
    frame = table_reading.read_csv_bytes(
        b"a;b;y;n\n1.5;2,000.25;0;1.234\n3.5;4.75;1;5.678\n"
    )
    assert frame["a"].tolist() == [1.5, 3.5]
    assert frame["n"].tolist() == [1.234, 5.678]  # no decimal comma: points are points
    assert frame["b"].tolist() == [2000.25, 4.75]


def test_many_european_prices_are_not_taken_for_an_id():
    euros = [1000 + i * 37 for i in range(40)]  # all different, as an ID's values are
    rows = [f"{e // 1000}.{e % 1000:03d},{i:02d};{i % 4}" for i, e in enumerate(euros)]
    frame = table_reading.read_csv_bytes(("Preis;Klasse\n" + "\n".join(rows)).encode())
    assert infer_column_types(frame)["Preis"] == "number"
    assert frame["Preis"][1] == pytest.approx(1037.01)
    assert "ID" not in _messages(_check(frame, "Klasse"))


def test_numbers_in_an_unreadable_format_are_not_dropped_silently():
    rows = [f"{i};{i * 1.5:.2f} €;{i % 3}" for i in range(40)]
    rows[7] = "7;10,50 €;1"  # mixed point and comma decimals
    frame = table_reading.read_csv_bytes(("n;Betrag;y\n" + "\n".join(rows)).encode())
    findings = _check(frame, "y")
    [warning] = [f for f in findings if "`Betrag`" in f.message]  # and no "ID" note
    assert warning.level == "warning"
    assert "looks like numbers (e.g. '0.00 €')" in warning.message
    assert "left out as an ID" in warning.message


# --- item 9: zeros that mean missing ------------------------------------------------


def test_pima_impossible_zeros_are_flagged_in_plain_words():
    frame = table_reading.read_csv_bytes(PIMA, "diabetes.csv")
    message = _messages(_check(frame, "Outcome"))
    assert (
        "`Insulin`: 47 rows are 0, far below every other value (the smallest is 23). "
        "For a measurement like this, 0 is impossible; they probably mean 'missing'."
    ) in message
    for column, zeros in [
        ("Glucose", "1 row is"),
        ("BloodPressure", "5 rows are"),
        ("SkinThickness", "28 rows are"),
        ("BMI", "3 rows are"),
    ]:
        assert f"`{column}`: {zeros} 0, far below" in message
    for column in ("Pregnancies", "Age", "DiabetesPedigreeFunction", "Outcome"):
        assert f"`{column}`: " not in message


@pytest.mark.parametrize("sample", sorted(datasets.SAMPLES))
def test_samples_have_no_impossible_zeros(sample):
    # Real zeros: heart `oldpeak`, Seattle `precipitation`.
    frame = datasets.load_table(datasets.store_sample(sample))
    assert "0, far below" not in _messages(_check(frame, datasets.SAMPLES[sample][1]))


def test_counts_with_zeros_are_not_flagged():
    counts = np.arange(60) % 12  # 0, 1, 2, ... like children or pregnancies
    frame = table_reading.read_csv_bytes(
        ("children,amount\n" + "\n".join(f"{c},{c * 3.5}" for c in counts)).encode()
    )
    assert "0, far below" not in _messages(_check(frame, None))


# --- item 10: the default target --------------------------------------------------------


def test_default_target_for_diamonds_is_price():
    header = "carat,cut,color,clarity,depth,table,price,x,y,z"
    rows = [
        "0.23,Ideal,E,SI2,61.5,55,326,3.95,3.98,2.43",
        "0.21,Premium,E,SI1,59.8,61,326,3.89,3.84,2.31",
        "0.23,Good,E,VS1,56.9,65,327,4.05,4.07,2.31",
        "0.29,Premium,I,VS2,62.4,58,334,4.2,4.23,2.63",
        "0.31,Good,J,SI2,63.3,58,335,4.34,4.35,2.75",
    ]
    frame = table_reading.read_csv_bytes("\n".join([header, *rows]).encode())
    assert suggest_target(infer_column_types(frame)) == "price"


@pytest.mark.parametrize(
    "column_types, expected",
    [
        (
            {"Pregnancies": "number", "Glucose": "number", "Outcome": "boolean"},
            "Outcome",
        ),
        ({"Class": "boolean", "V1": "number", "Amount": "number"}, "Class"),
        ({"survived": "boolean", "pclass": "number", "class": "category"}, "survived"),
        (
            {
                "age": "number",
                "default": "boolean",
                "balance": "number",
                "y": "boolean",
            },
            "y",
        ),
        ({"Sale Price": "number", "rooms": "number", "city": "category"}, "Sale Price"),
        ({"label": "text", "a": "number", "b": "category"}, "b"),  # text: no target
        ({"a": "number", "c": "category", "id": "identifier", "when": "date"}, "c"),
        ({"id": "identifier", "note": "text"}, "note"),
    ],
)
def test_suggest_target_prefers_target_names_then_the_last_usable_column(
    column_types, expected
):
    assert suggest_target(column_types) == expected


@pytest.mark.parametrize("sample", sorted(datasets.SAMPLES))
def test_suggest_target_on_samples(sample):
    frame = datasets.load_table(datasets.store_sample(sample))
    column_types = infer_column_types(frame)
    suggested = suggest_target(column_types)
    assert column_types[suggested] in ("number", "category", "boolean")
    if sample == "heart.csv":
        assert suggested == "target"


# --- the Data page on these files ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw, target, shown",
    [
        (_with_cells({3: "1e309", 20: "inf"}), "price", "infinite or too large"),
        (b"Glucose\n148\n85\n183\n", "Glucose", "only one column"),
    ],
    ids=["huge-values", "one-column"],
)
def test_data_page_shows_the_findings_without_crashing(raw, target, shown):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page("pages/data.py").run()
    at.file_uploader[0].set_value(("upload.csv", raw, "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key="_w_target").value == target
    boxes = [*at.error, *at.warning]
    assert any(shown in str(box.value) for box in boxes)


def test_data_page_shows_zeros_in_five_columns_as_one_box_naming_them():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page("pages/data.py").run()
    at.file_uploader[0].set_value(("diabetes.csv", PIMA, "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key="_w_target").value == "Outcome"
    assert not at.error
    [box] = at.warning  # one box for the kind, not one per column
    assert str(box.value).startswith(
        "**Zeros that probably mean 'not measured' in 5 columns: “Glucose”, "
        "“BloodPressure”, “SkinThickness”, “Insulin”, “BMI”.**  \n"
    )
    assert str(box.value).count("leave those cells empty") == 1  # the fix, once
    [details] = [e for e in at.expander if e.label == "What was found in each column"]
    listed = details.markdown[0].value.splitlines()
    assert listed[3] == (
        "- “Insulin”: 47 rows are 0, far below every other value (the smallest is 23)."
    )
    for line, (column, zeros) in zip(
        listed,
        [
            ("Glucose", "1 row is"),
            ("BloodPressure", "5 rows are"),
            ("SkinThickness", "28 rows are"),
            ("Insulin", "47 rows are"),
            ("BMI", "3 rows are"),
        ],
        strict=True,  # no count, age or pedigree column flagged
    ):
        assert line.startswith(f"- “{column}”: {zeros} 0, far below")


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (b"Text\nBonjour, tout le monde\nHello\n", "row 1 has 2 values for 1 columns"),
        (b"a,b\n1,2,3\n4,5,6\n", "row 1 has 3 values for 2 columns"),
        (b"a,b\n1,2\n3,4,5\n", "line 3 has 3 values but the header has 2"),
    ],
)
def test_rows_longer_than_the_header_are_refused_not_shifted(text, detail):
    """pandas would silently make the first values an index (and shift every column)."""
    with pytest.raises(DataError, match=detail):
        table_reading.read_csv_bytes(text, "texts.csv")


@pytest.mark.parametrize("module", [tables_bundle, series_bundle])
def test_bundle_scripts_refuse_rows_longer_than_the_header(module, tmp_path, capsys):
    (tmp_path / "metadata.json").write_text('{"schema": []}')
    rows = tmp_path / "rows.csv"
    rows.write_text("Text\nBonjour, tout le monde\n")
    code = module.main(
        [str(rows), "--metadata", str(tmp_path / "metadata.json"), "-o", "out.csv"]
    )
    assert code == 2
    assert "more values than its header" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
