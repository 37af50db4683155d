"""Grouping data-check findings: one group per kind of problem, naming its columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.columns import infer_column_types
from core.findings import TITLES, Finding, group_findings
from core.tables.preflight import preflight

FIX = "If 0 means 'not measured', leave those cells empty."


def _zeros(column: str, rows: int) -> Finding:
    found = f"`{column}`: {rows} rows are 0."
    return Finding(
        "warning",
        f"{found} Probably 'missing'.",
        FIX,
        "zeros_as_missing",
        column,
        found,
    )


def test_one_kind_in_several_columns_is_one_group_naming_every_column():
    findings = [_zeros("glucose", 1), _zeros("insulin", 47), _zeros("skin", 28)]
    [group] = group_findings(findings)
    assert group.level == "warning"
    assert group.headline == (
        "Zeros that probably mean 'not measured' in 3 columns: "
        "`glucose`, `insulin`, `skin`."
    )
    assert group.fix == FIX  # said once
    assert group.columns == ["glucose", "insulin", "skin"]
    assert group.details == [
        "`glucose`: 1 rows are 0.",
        "`insulin`: 47 rows are 0.",
        "`skin`: 28 rows are 0.",
    ]  # the rows of each column stay reachable
    assert group.findings == tuple(findings)


def test_different_kinds_stay_apart_and_a_single_finding_reads_as_before():
    missing = Finding(
        "info", "`a` has 3 missing values (5%).", "Filled.", "missing", "a"
    )
    findings = [_zeros("glucose", 1), missing, _zeros("insulin", 2)]
    zeros, alone = group_findings(findings)
    assert zeros.columns == ["glucose", "insulin"]
    assert (alone.level, alone.headline, alone.fix) == (
        "info",
        missing.message,
        "Filled.",
    )
    assert alone.findings == (missing,) and alone.details == [missing.message]


def test_groups_are_ordered_by_their_worst_level_and_take_it():
    notes = [
        Finding("info", "`b` has 6 missing values (10%).", "Filled.", "missing", "b"),
        Finding(
            "warning", "`a` has 30 missing values (50%).", "Filled.", "missing", "a"
        ),
    ]
    duplicates = Finding("warning", "4 rows are copies.", "Kept.", "duplicates")
    error = Finding("error", "The table has only one column.", "Save it again.")
    info = Finding("info", "A note.", "")
    groups = group_findings([info, *notes, duplicates, error])
    assert [g.level for g in groups] == ["error", "warning", "warning", "info"]
    assert [g.headline for g in groups[1:3]] == [
        "Missing values in 2 columns: `a`, `b`.",  # the worse column first
        "4 rows are copies.",
    ]
    assert groups[3].findings == (info,)


def test_findings_without_a_column_or_a_known_kind_are_never_merged():
    same = [Finding("warning", "Copies.", "Kept.", "duplicates")] * 2
    unknown = [Finding("info", f"`{c}` is odd.", "", "odd", c) for c in "xy"]
    assert [len(g.findings) for g in group_findings(same + unknown)] == [1, 1, 1, 1]


def test_preflight_names_the_kind_and_column_of_each_column_finding():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: rng.normal(size=60) for c in "abc"})
    frame["label"] = rng.choice(["p", "q"], 60)
    for start, column in zip((0, 10, 20), "abc", strict=True):
        frame.loc[start : start + 9, column] = np.nan
    frame = frame.assign(country="FR", region="EU")
    findings = preflight(frame, "label", infer_column_types(frame))
    assert all(f.code in TITLES and f.column for f in findings)
    missing, constant = group_findings(findings)
    assert missing.level == constant.level == "info"
    assert missing.headline == "Missing values in 3 columns: `a`, `b`, `c`."
    assert missing.details == [f"`{c}` has 10 missing values (17%)." for c in "abc"]
    assert constant.headline == (
        "The same value in every row in 2 columns: `country`, `region`."
    )
    assert constant.fix == "It carries no information, so the app leaves it out."
