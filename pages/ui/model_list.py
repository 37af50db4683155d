"""The Models page's list of runs in people's words; run ids kept for a details table."""

from __future__ import annotations

import pandas as pd

from core import runs
from core.catalog import get_template
from pages.ui.glossary import LABELS
from pages.ui.runs import verdict_label
from pages.ui.text import format_value

COLUMNS = ["Trained", "Model", "Data", "Score", "Verdict", "State"]


def models_table(run_ids: list[str]) -> pd.DataFrame:
    """One row per run: when, which kind of model, on which data, its headline score."""
    return pd.DataFrame([_row(run_id) for run_id in run_ids], columns=COLUMNS)


def ids_table(run_ids: list[str]) -> pd.DataFrame:
    """Each run's id (its folder and the command line's name for it), by date."""
    rows = [runs.summarize_run(r) for r in run_ids]
    return pd.DataFrame(
        {
            "Trained": [r["created"] for r in rows],
            "Model": [_title(r["template"]) for r in rows],
            "Run id": [r["run_id"] for r in rows],
            "Template id": [r["template"] for r in rows],
        }
    )


def _row(run_id: str) -> dict[str, str]:
    row = runs.summarize_run(run_id)
    target = f" → {row['target']}" if row["target"] else ""
    score = ""
    if row["value"] is not None:
        label = LABELS.get(row["metric"], row["metric"].replace("_", " "))
        score = f"{label} {format_value(row['value'], 3)}"
    return {
        "Trained": row["created"],
        "Model": _title(row["template"]),
        "Data": f"{row['dataset']}{target}",
        "Score": score,
        "Verdict": verdict_label(runs.read_evaluation(run_id)),
        "State": row["state"],
    }


def _title(template: str) -> str:
    try:
        return get_template(template).title
    except KeyError:  # a template this version no longer has
        return template
