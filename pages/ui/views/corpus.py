"""Views for text corpora: upload, corpus check, held-out report, and the search box."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core import datasets, runs
from core.corpus import bundle as corpus_bundle
from core.corpus import ingest
from core.corpus.model import FastModel
from core.errors import DataError, UserError
from core.findings import Finding
from pages.ui import charts
from pages.ui.cache import load_model_cached
from pages.ui.glossary import LABELS, show_meanings
from pages.ui.live_input import live_text
from pages.ui.text import people_table, percent, plain
from pages.ui.views import generic
from pages.ui.widgets import show_findings, show_summary

BOX_KEY = "_w_next_word_box"
PUSHED = "next_word_text"  # text pushed into the box (a clicked suggestion appended)
PREVIEW_CHARS = 1500
METRIC_ROWS = ("top5_accuracy", "top1_accuracy", "perplexity")

load_corpus_cached = st.cache_data(
    ingest.load_corpus, max_entries=4, show_spinner=False
)


@st.cache_data(max_entries=4, show_spinner="Reading the text…")
def corpus_findings(dataset_id: str) -> list[Finding]:
    """The corpus check with the template's default vocabulary settings."""
    corpus = ingest.load_corpus(dataset_id)
    return ingest.preflight(corpus, ingest.MAX_VOCABULARY, ingest.MIN_COUNT)


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def fast_model_cached(run_id: str) -> FastModel:
    """The run's model with compiled calls, so each keystroke answers quickly."""
    return FastModel(load_model_cached(run_id))


# --- Data page -------------------------------------------------------------------------


def upload() -> str | None:
    """A .txt file, or a zip of .txt files all in one folder; or the Alice sample."""
    with st.expander("…or text to learn from: a .txt file, or a zip of .txt files"):
        st.caption(
            "A book, articles or notes as plain text (UTF-8). For a search log, upload a "
            "CSV above and pick its text column."
        )
        file = st.file_uploader(
            "A .txt, or a zip of .txt files", type=["txt", "zip"], key="_w_corpus_file"
        )
        sample = st.button("Use the Alice in Wonderland text", key="_w_corpus_sample")
    try:
        if file is not None:
            return _store(file.name, file.getvalue())
        if sample:
            return ingest.store_sample()
    except UserError as err:
        st.error(plain(err))
        st.stop()
    return None


def _store(name: str, content: bytes) -> str:
    if not ingest.is_corpus_upload(name, content):
        raise DataError(
            f"`{name}` is not plain text: upload a .txt file, or a zip whose .txt files "
            "sit side by side in one folder."
        )
    return ingest.store_upload(name, content)


def data_view(dataset_id: str) -> None:
    """Counts, the corpus check in plain words, and the start of the text."""
    try:
        corpus = load_corpus_cached(dataset_id)
    except UserError as err:
        st.error(plain(err))
        st.stop()
    st.subheader(plain(datasets.dataset_name(dataset_id)))
    st.subheader("Text check")
    show_findings(corpus_findings(dataset_id))
    with st.expander("The start of the text"):
        st.text(corpus.documents[0][:PREVIEW_CHARS])
    st.page_link(
        "pages/train.py", label="Next: train a model", icon=":material/arrow_forward:"
    )


# --- Results page ----------------------------------------------------------------------


def results_view(run_id: str, evaluation: dict[str, Any]) -> None:
    """Verdict, the scores beside both baselines, held-out examples, learning curves."""
    show_summary(evaluation, icon=":material/info:")
    st.subheader("Scores on the held-out end of the text")
    st.dataframe(people_table(scores_table(evaluation)))
    show_meanings(METRIC_ROWS)
    examples = evaluation.get("examples", [])
    if examples:
        st.subheader("Examples from the held-out text")
        st.dataframe(people_table(examples_table(examples)), hide_index=True)
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def scores_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """The model, the n-gram and the frequent words side by side."""
    columns = {
        "this model": evaluation.get("metrics", {}),
        "n-gram with backoff": evaluation.get("baseline", {}),
        **evaluation.get("baselines", {}),
    }
    table = pd.DataFrame(columns).reindex(list(METRIC_ROWS))
    table.index = [LABELS[key] for key in METRIC_ROWS]
    return table


def examples_table(examples: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per held-out place: the words before, the actual word, both top 5."""
    return pd.DataFrame(
        {
            "text so far": [f"… {e['text']}" for e in examples],
            "actual next word": [e["actual"] for e in examples],
            "model suggests": [", ".join(e["model"]) for e in examples],
            "n-gram suggests": [", ".join(e["ngram"]) for e in examples],
        }
    )


# --- Predict page ----------------------------------------------------------------------


def predict_view(run_id: str, info: dict[str, Any]) -> None:
    """A search box whose suggestions follow each keystroke; continue the sentence."""
    model = fast_model_cached(run_id)
    st.subheader("Type as in a search box")
    text = live_text(
        "Your text",
        key=f"{BOX_KEY}_{run_id}",
        value=st.session_state.get(PUSHED),
        placeholder="Start typing…",
    )
    found = corpus_bundle.suggest(model, text)
    st.caption(
        "Completing the word you type"
        if text and not text[-1].isspace()
        else "The next word"
    )
    columns = st.columns(max(len(found), 1))
    for column, (word, proba) in zip(columns, found, strict=False):
        column.button(
            f"{word} · {percent(proba)}",
            key=f"_w_next_word_pick_{word}",
            on_click=_push,
            args=(corpus_bundle.accept(text, word),),
            width="stretch",
        )
    _continue_section(model, text)
    generic.predict_view(run_id, info)


def _push(text: str) -> None:
    st.session_state[PUSHED] = text


def _continue_section(model: FastModel, text: str) -> None:
    with st.container(border=True):
        st.markdown("**Continue the sentence**")
        left, right = st.columns(2)
        n_words = left.number_input(
            "Words to write", 1, 100, 12, key="_w_next_word_count"
        )
        temperature = right.slider(
            "Creativity (temperature)",
            0.0,
            1.5,
            0.7,
            0.1,
            key="_w_next_word_temperature",
            help="0 always takes the most likely word; higher picks rarer words.",
        )
        if st.button("Continue the sentence", key="_w_next_word_continue"):
            written = corpus_bundle.continue_text(
                model, text, int(n_words), float(temperature), seed=len(text)
            )
            st.markdown(f"{plain(text)} **{plain(' '.join(written))}**")
