"""Views for tables: table upload, column check, target picker, results and predictions."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core import datasets, fixes, prediction, runs, table_files
from core.columns import COLUMN_TYPES, resolve_column_types, suggest_target
from core.errors import UserError
from core.findings import FindingGroup
from core.tables.preflight import preflight
from core.tables.template import fixed_table
from pages.ui import charts
from pages.ui.cache import (
    column_stats_cached,
    inferred_column_types,
    load_model_cached,
    load_table_cached,
    sheet_names_cached,
    table_or_stop,
)
from pages.ui.forms import row_form
from pages.ui.glossary import NOTES
from pages.ui.state import (
    COLUMN_TYPE_OVERRIDES,
    FIXES,
    TARGET_COLUMN,
    forget_dataset,
    get,
    index_of,
    remember,
)
from pages.ui.text import format_value, people_table, plain, sentence
from pages.ui.widgets import (
    csv_download,
    score_csv_upload,
    show_findings,
    show_fixes_asked,
    show_metrics,
    show_summary,
)

# --- Data page -------------------------------------------------------------------------


def upload() -> str | None:
    """A table upload, stored and checked readable; stops the page if it is not.

    Every file is let through the picker, so a file of another type gets a sentence
    here rather than the browser's silent refusal; a refused file also stops the
    data set it was meant to replace from being current.
    """
    file = st.file_uploader(
        "Upload a table: CSV, Excel (.xlsx, .xls), OpenDocument (.ods), Parquet, "
        "JSON lines or TSV",
        key="_w_upload",
        help="Workbooks: pick the sheet below. JSON lines: one JSON object per line.",
    )
    if file is None:
        return None
    try:
        table_files.check_upload_name(file.name)
        sheet = _pick_sheet(file.name, file.getvalue())
        dataset_id = datasets.store_upload(file.name, file.getvalue(), sheet)
        load_table_cached(dataset_id)  # refuse unusable files before using them
    except UserError as err:
        forget_dataset()
        st.error(plain(err))
        st.stop()
    return dataset_id


def _pick_sheet(name: str, data: bytes) -> str | None:
    """The sheet a person picks from a workbook of several; None for other files."""
    sheets = sheet_names_cached(name, data)
    if len(sheets) < 2:
        return None
    return st.selectbox(
        "Sheet",
        sheets,
        key="_w_sheet",
        help="The workbook's sheet that holds the table.",
    )


def data_view(dataset_id: str) -> None:
    """Preview, editable column types, the target and the data check in plain words."""
    frame = table_or_stop(dataset_id)
    st.subheader(plain(datasets.dataset_name(dataset_id)))
    st.caption(f"{len(frame):,} rows · {frame.shape[1]} columns")
    for note in datasets.dataset_notes(dataset_id):
        st.info(plain(note), icon=":material/info:")
    st.dataframe(people_table(frame.head(20)), hide_index=True)
    column_types = _column_types(dataset_id, frame)
    columns = list(frame.columns)
    target = st.selectbox(
        "Column to predict (target)",
        columns,
        index=index_of(
            columns, get(TARGET_COLUMN), columns.index(suggest_target(column_types))
        ),
        key="_w_target",
    )
    remember(TARGET_COLUMN, target)
    st.plotly_chart(charts.target_distribution(frame[target], column_types[target]))
    st.subheader("Data check")
    chosen = _applied_fixes(frame, target)
    overrides = get(COLUMN_TYPE_OVERRIDES, {})
    fixed, column_types = fixed_table(
        frame, {"fixes": chosen, "column_kinds": overrides}
    )
    findings = preflight(fixed, target, column_types)
    if findings:
        show_findings(findings, actions=_fix_buttons)
    else:
        st.success("No data-quality problems found.", icon=":material/check_circle:")
    st.page_link(
        "pages/train.py", label="Next: train a model", icon=":material/arrow_forward:"
    )


FIX_BUTTONS = {
    fixes.ZEROS_AS_MISSING: ("Treat 0 in {names} as missing", ":material/healing:"),
    fixes.DROP: ("Leave {names} out", ":material/remove_circle:"),
}


def _fix_buttons(group: FindingGroup, position: int) -> None:
    """A button per fix the data check offers for a group's columns (`core.fixes`)."""
    offered: dict[str, list[str]] = {}
    for finding in group.findings:
        fix = fixes.offered_fix(finding)
        if fix:
            offered.setdefault(fix, []).append(finding.column)
    for fix, columns in offered.items():
        label, icon = FIX_BUTTONS[fix]
        st.button(
            plain(label.format(names=", ".join(f"“{c}”" for c in columns))),
            key=f"_w_fix_{position}_{fix}",
            icon=icon,
            on_click=_set_fixes,
            args=(fix, columns, True),
            help="Applies to the training that follows; the file itself stays as it "
            "is. You can undo it here.",
        )


def _set_fixes(fix: str, columns: list[str], on: bool) -> None:
    st.session_state[FIXES] = fixes.toggled(get(FIXES, []), fix, columns, on)


def _applied_fixes(frame: pd.DataFrame, target: str) -> list[dict[str, str]]:
    """The fixes chosen for this table, each with an Undo; those that apply now.

    A fix that cannot apply (its column is now the target) is listed with why.
    """
    chosen = get(FIXES, [])
    if not chosen:
        return []
    usable = []
    with st.container(border=True):
        st.markdown(
            "**Fixes you chose**: the training that follows uses them; the file you "
            "uploaded stays as it is."
        )
        for index, fix in enumerate(chosen):
            text, undo = st.columns([4, 1], vertical_alignment="center")
            problems = fixes.fix_problems(frame, target, [fix])
            what = sentence(fixes.describe(fix))
            what = what[:1].upper() + what[1:]
            icon = ":material/check:" if not problems else ":material/warning:"
            text.markdown(f"{icon} {what}")
            for problem in problems:
                text.caption(sentence(problem))
            undo.button(
                "Undo",
                key=f"_w_undo_fix_{index}",
                icon=":material/undo:",
                on_click=_set_fixes,
                args=(fix["fix"], [fix["column"]], False),
            )
            if not problems:
                usable.append(fix)
    return usable


def _column_types(dataset_id: str, frame: pd.DataFrame) -> dict[str, str]:
    """Column types: guessed, editable in the stats table; overrides are remembered."""
    st.subheader("Columns")
    st.caption(
        "The type of each column was guessed from its values. If a guess is wrong, "
        "change it in the **type** column; identifiers and dates are left out of the "
        "model."
    )
    inferred = inferred_column_types(dataset_id)
    overrides = {
        c: t for c, t in get(COLUMN_TYPE_OVERRIDES, {}).items() if c in inferred
    }
    stats = column_stats_cached(dataset_id, overrides)
    edited = st.data_editor(
        stats,
        column_config={
            "type": st.column_config.SelectboxColumn(
                "type", options=list(COLUMN_TYPES), required=True
            ),
            **{
                c: st.column_config.NumberColumn(format="localized")  # 14,250
                for c in ("mean", "min", "max")
            },
        },
        disabled=[c for c in stats.columns if c != "type"],
        hide_index=True,
        num_rows="fixed",
        key=f"_w_types_{dataset_id}",
    )
    overrides = {
        column: column_type
        for column, column_type in zip(edited["column"], edited["type"], strict=True)
        if column_type != inferred[column]
    }
    remember(COLUMN_TYPE_OVERRIDES, overrides)
    return resolve_column_types(frame, overrides)


# --- Train page ------------------------------------------------------------------------


NO_TARGET = "(none: find unusual rows)"


def target_picker(dataset_id: str) -> str | None:
    """The column to predict, defaulting to the Data page's choice; or none."""
    columns = list(table_or_stop(dataset_id).columns)
    default = suggest_target(inferred_column_types(dataset_id))
    target = st.selectbox(
        f"Column to predict in {plain(datasets.dataset_name(dataset_id))}",
        [*columns, NO_TARGET],
        index=index_of(columns, get(TARGET_COLUMN), columns.index(default)),
        key="_w_train_target",
    )
    return None if target == NO_TARGET else remember(TARGET_COLUMN, target)


# --- Results page ----------------------------------------------------------------------


def results_view(run_id: str, evaluation: dict[str, Any]) -> None:
    """Verdict, scores beside the baselines, task charts, importance, learning curves."""
    show_summary(evaluation)
    show_fixes_asked(run_id)
    st.subheader("Scores on the test rows")
    st.caption(
        f"{evaluation.get('n_test', 0):,} rows held out from training. The baseline "
        "always gives the most common answer (or the average); the gradient-boosting "
        f"reference took {evaluation.get('reference_fit_seconds', 0):.1f} s to train "
        "on the same rows."
    )
    show_metrics(evaluation)
    if "decision" in evaluation:
        st.page_link(
            "pages/threshold.py",
            label="Choose the threshold that flags a row, with your costs",
            icon=":material/tune:",
        )
    if "confusion_matrix" in evaluation:
        _classification_charts(evaluation)
    elif "actual" in evaluation:
        left, right = st.columns(2)
        left.plotly_chart(charts.predicted_vs_actual(evaluation))
        right.plotly_chart(charts.residuals(evaluation))
    if evaluation.get("importance"):
        st.plotly_chart(charts.importance(evaluation))
        st.caption(NOTES["importance"])
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def _classification_charts(evaluation: dict[str, Any]) -> None:
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion_matrix(evaluation))
    right.plotly_chart(charts.roc_curves(evaluation))
    left.plotly_chart(charts.pr_curves(evaluation))
    left.caption(NOTES["curves"])
    with right:
        st.markdown("**Per class**")
        three = st.column_config.NumberColumn(format="%.3f")
        st.dataframe(
            evaluation.get("per_class", []),
            column_config={"precision": three, "recall": three, "f1": three},
            hide_index=True,
        )


# --- Predict page ----------------------------------------------------------------------


def predict_view(run_id: str, info: dict[str, Any]) -> None:
    """One row typed into a form generated from the schema, or a whole CSV scored."""
    st.subheader("One row")
    row = row_form(info.get("schema", []), "_w_predict_form", "Predict")
    if row is not None:
        _predict_row(run_id, row, info.get("target", "target"))
    if info.get("decision"):
        found = info["decision"]
        st.caption(
            f"A row is predicted `{plain(found['positive_label'])}` when its "
            f"{plain(found['score_name'])} is at least {format_value(found['threshold'])} "
            "(the threshold saved on the Threshold page)."
        )
    st.subheader("Score a CSV file")
    st.caption(
        "The file needs the columns "
        + ", ".join(plain(f["name"]) for f in info.get("schema", []))
        + "."
    )
    scored = score_csv_upload(run_id, info, "_w_score_upload")
    if scored is None:
        return
    st.caption(f"{len(scored):,} rows scored. First rows:")
    st.dataframe(people_table(scored.head(20)), hide_index=True)
    csv_download(scored, "predictions.csv", "Download predictions (CSV)")


def _predict_row(run_id: str, row: dict[str, Any], target: str) -> None:
    try:
        model = load_model_cached(run_id)
        result, warnings = prediction.predict_frame(
            run_id, pd.DataFrame([row]), model=model
        )
    except UserError as err:
        st.error(plain(err))
        return
    for warning in warnings:
        st.warning(plain(warning))
    value = result["prediction"].iloc[0]
    st.metric(f"Predicted {plain(target)}", plain(format_value(value)))
    probabilities = {
        column.removeprefix("probability_"): float(result[column].iloc[0])
        for column in result.columns
        if column.startswith("probability_")
    }
    if probabilities:
        st.plotly_chart(charts.class_probabilities(probabilities))
