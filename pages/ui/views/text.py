"""Text views: .txt class folders in, the text column to read, results with the
misclassified texts and top words, and a box that classifies as the person types."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core import datasets, runs
from core.catalog import get_template
from core.errors import UserError
from core.text import bundle as text_bundle
from core.text import choices, ingest
from core.text import template as text_template
from pages.ui import charts
from pages.ui.cache import dataset_or_stop, load_model_cached
from pages.ui.live_input import live_text
from pages.ui.text import percent, plain
from pages.ui.widgets import (
    csv_download,
    metrics_table,
    pick_mistakes,
    show_classification_results,
    show_findings,
)

TEMPLATE = "text_classification"
REFERENCE_COLUMN = "TF-IDF + logistic regression reference"
SHOWN_PER_CLASS = 3


def upload() -> str | None:
    """Text uploads: a zip or a folder with one folder of `.txt` files per class."""
    with st.expander(
        "…or texts: a zip or a folder with one folder of .txt files per class"
    ):
        st.caption(
            "E.g. `pos/review1.txt`, `neg/review2.txt`. A CSV with a text column and a "
            "label column works too: upload it as a table above."
        )
        zipped = st.file_uploader(
            "A zip of class folders", type=["zip"], key="_w_text_zip"
        )
        folder = st.file_uploader(
            "A folder of class folders",
            accept_multiple_files="directory",
            key="_w_text_folder",
        )
    try:
        if zipped is not None:
            return ingest.store_class_zip(zipped.name, zipped.getvalue())
        if folder:
            return ingest.store_class_files(
                "folder", [(f.name, f.getvalue()) for f in folder]
            )
    except UserError as err:
        st.error(plain(err))
        st.stop()
    return None


def data_view(dataset_id: str) -> None:
    """Texts per class, the preflight in plain words, a few texts of each class."""
    frame = dataset_or_stop(dataset_id)
    st.subheader(plain(datasets.dataset_name(dataset_id)))
    st.caption(f"{len(frame):,} texts · {frame['label'].nunique()} classes")
    st.plotly_chart(
        charts.target_distribution(frame["label"].rename("class"), "category")
    )
    st.subheader("Data check")
    problems = get_template(TEMPLATE).check(frame, None, {})
    for problem in problems:
        st.error(plain(problem), icon=":material/error:")
    show_findings(text_template.preflight(frame, "text", "label"))
    st.subheader("Examples")
    shown = frame.groupby("label", sort=True).head(SHOWN_PER_CLASS)
    st.dataframe(shown[["label", "file", "text"]], hide_index=True)
    st.page_link(
        "pages/train.py", label="Next: train a model", icon=":material/arrow_forward:"
    )


def train_extra(
    dataset_id: str, target: str | None, template: Any
) -> dict[str, Callable[[Any], Any]]:
    """A table's text column, preselected as the longest free-text column."""
    if target is None:
        return {"text_column": lambda param: ""}  # a text data set: its texts
    frame = dataset_or_stop(dataset_id)
    options = choices.text_columns(frame, target) or [
        c for c in frame.columns if c != target
    ]

    def column(param: Any) -> str:
        return st.selectbox(
            "Text column (the longest free-text column is preselected)",
            options,
            format_func=plain,
            help=param.help,
            key=f"_w_text_column_{target}",
        )

    return {"text_column": column}


def results_view(run_id: str, evaluation: dict[str, Any]) -> None:
    """Verdict, scores beside the baseline and reference, mistakes, top words."""
    scores = metrics_table(evaluation).rename(
        columns={"gradient boosting reference": REFERENCE_COLUMN}
    )
    show_classification_results(evaluation, "Scores on the test texts", scores)
    _mistakes(evaluation)
    _top_terms(evaluation)
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def _mistakes(evaluation: dict[str, Any]) -> None:
    shown = pick_mistakes(evaluation, "texts", "_w_text_cell")
    if not shown:
        return
    st.dataframe(
        pd.DataFrame([{"text": e["text"], **e["probabilities"]} for e in shown]),
        hide_index=True,
    )


def _top_terms(evaluation: dict[str, Any]) -> None:
    terms = evaluation.get("top_terms", {})
    if not any(terms.values()):
        return
    st.subheader("Words the model ties to each class")
    st.caption(
        "Each word given alone to the model, and how sure it then is of the class."
    )
    columns = st.columns(min(len(terms), 4))
    for index, (name, listed) in enumerate(terms.items()):
        with columns[index % len(columns)]:
            st.markdown(f"**{plain(name)}**")
            st.dataframe(pd.DataFrame(listed), hide_index=True)


def predict_view(run_id: str, info: dict[str, Any]) -> None:
    """A box that classifies as the person types, and batch scoring of files."""
    st.caption(f"Classes: {plain(', '.join(info['class_names']))}.")
    typed_tab, file_tab = st.tabs(["Type a text", "Score a file"])
    with typed_tab:
        _typed(run_id, info)
    with file_tab:
        _files(run_id)


def _typed(run_id: str, info: dict[str, Any]) -> None:
    text = live_text(
        "Text to classify (it is classified as you type)",
        key="_w_live_text",
        placeholder="Type or paste a text…",
    )
    if not text.strip():
        return
    why = text_bundle.explain(
        load_model_cached(run_id), text, list(info["class_names"])
    )
    st.markdown(f"**{plain(why['prediction'])}** · {percent(why['probability'])} sure")
    st.html(highlighted(why["words"]))
    st.caption(
        "Why this prediction: green words pushed toward it, red words against it (each "
        "word left out in turn, and how much surer or less sure the model then is)."
    )


def highlighted(words: list[tuple[str, float]]) -> str:
    """The words as HTML, each shaded by its weight (escaped: user text is never markup)."""
    strongest = max((abs(w) for _, w in words), default=0.0) or 1.0
    spans = []
    for word, weight in words:
        alpha = min(1.0, abs(weight) / strongest) * 0.6
        color = "22,163,74" if weight > 0 else "220,38,38"
        spans.append(
            f'<span title="{weight:+.3f}" style="background: rgba({color},{alpha:.2f}); '
            f'padding: 0 2px; border-radius: 3px">{html.escape(word)}</span>'
        )
    return f'<p style="line-height: 2">{" ".join(spans)}</p>'


def _files(run_id: str) -> None:
    uploads = st.file_uploader(
        "A CSV with a text column, or .txt files",
        type=["csv", "txt"],
        accept_multiple_files=True,
        key="_w_text_predict",
    )
    if not uploads:
        return
    try:
        scored, warnings = _score_uploads(run_id, uploads)
    except UserError as err:
        st.error(plain(err))
        return
    for warning in warnings:
        st.warning(plain(warning))
    st.dataframe(scored.head(200), hide_index=True)
    csv_download(
        scored, "predictions.csv", "Download predictions (CSV)", "_w_text_download"
    )


def _score_uploads(run_id: str, uploads: list) -> tuple[pd.DataFrame, list[str]]:
    """Scores one CSV, or every uploaded .txt file as one text each."""
    from core import prediction

    model = load_model_cached(run_id)
    with tempfile.TemporaryDirectory() as folder:
        csvs = [f for f in uploads if f.name.lower().endswith(".csv")]
        if csvs:
            path = Path(folder) / "texts.csv"
            path.write_bytes(csvs[0].getvalue())
        else:
            path = Path(folder) / "texts"
            path.mkdir()
            for index, upload in enumerate(uploads):
                (path / f"{index:05d}.txt").write_bytes(upload.getvalue())
        scored, warnings = prediction.predict_path(run_id, path, model=model)
    if not csvs:
        scored["file"] = [u.name for u in uploads]
    return scored, warnings
