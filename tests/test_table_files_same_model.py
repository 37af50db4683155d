"""One real table, five file formats, one model (issue 21: "the Excel, Parquet and
JSON-lines versions of one table give the same model as its CSV").

The heart sample is written as a person's tools would write it (pandas with openpyxl
and pyarrow) as .xlsx, .parquet, .jsonl and .tsv. Each must load as the very table
of the CSV, and trained with the same seed give the same scores.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from core import datasets, runs
from core.columns import infer_column_types
from tests.conftest import train_here

HEART = Path(__file__).resolve().parents[1] / "sample_data" / "heart.csv"
FORMATS = ("xlsx", "parquet", "jsonl", "tsv")


def _written_as(kind: str) -> bytes:
    frame, buffer = pd.read_csv(HEART), io.BytesIO()
    if kind == "xlsx":
        frame.to_excel(buffer, index=False, engine="openpyxl")
    elif kind == "parquet":
        frame.to_parquet(buffer, index=False)
    elif kind == "jsonl":
        frame.to_json(buffer, orient="records", lines=True)
    else:
        frame.to_csv(buffer, index=False, sep="\t")
    return buffer.getvalue()


def _stored() -> dict[str, str]:
    """The dataset id of heart.csv and of each of its other formats."""
    ids = {"csv": datasets.store_upload("heart.csv", HEART.read_bytes())}
    for kind in FORMATS:
        ids[kind] = datasets.store_upload(f"heart.{kind}", _written_as(kind))
    return ids


def test_each_format_of_the_heart_table_loads_as_its_csv():
    ids = _stored()
    csv = datasets.load_table(ids["csv"])
    assert csv.shape == (303, 14)
    for kind in FORMATS:
        frame = datasets.load_table(ids[kind])
        pd.testing.assert_frame_equal(frame, csv, obj=f"heart.{kind}")
        assert infer_column_types(frame) == infer_column_types(csv), kind
    # The three converted formats are written back as one CSV: one stored data set.
    assert ids["xlsx"] == ids["parquet"] == ids["jsonl"]


@pytest.mark.trains
def test_each_format_of_the_heart_table_trains_the_same_model():
    ids = _stored()
    params = {"epochs": 2, "batch_size": 32, "patience": 2}
    reports = {}
    for kind in ("csv", "xlsx", "tsv"):  # parquet and jsonl are the xlsx's data set
        spec = runs.RunSpec(
            "tabular_classification", ids[kind], "target", params, seed=7
        )
        reports[kind] = runs.read_evaluation(train_here(spec))
    for kind in ("xlsx", "tsv"):
        for part in ("metrics", "baseline", "reference"):
            assert reports[kind][part] == reports["csv"][part], (kind, part)
        assert reports[kind]["verdict"] == reports["csv"]["verdict"], kind
