"""AppTest for next-word suggestion: sample, upload, results and the search-box page."""

from __future__ import annotations

import pytest

from core import datasets, runs
from core.corpus import ingest
from pages.ui import state
from pages.ui.views import corpus as corpus_view
from tests.conftest import train_here
from tests.test_corpus import small_text
from tests.test_pages import open_page, texts


def _train_story() -> str:
    dataset_id = ingest.store_upload("story.txt", small_text(120).encode())
    params = {"epochs": 3, "batch_size": 8, "context_words": 8}
    return train_here(runs.RunSpec("next_word", dataset_id, None, params))


@pytest.fixture
def corpus_run(trained_workspace, monkeypatch) -> str:
    return trained_workspace("corpus_pages", _train_story).use(monkeypatch)


def buttons(at) -> list[str]:
    return [b.label for b in at.button if b.key and "next_word_pick" in b.key]


def test_home_alice_sample_opens_the_text_check():
    at = open_page()
    at.button(key="_w_sample_alice").click().run()
    assert not at.exception
    dataset_id = at.session_state[state.DATASET_ID]
    assert datasets.dataset_kind(dataset_id) == "corpus"
    assert "Text check" in texts(at.subheader)
    assert "distinct" in texts(at.info)


def test_data_page_txt_upload_then_train_offers_next_word():
    at = open_page("pages/data.py")
    at.file_uploader(key="_w_corpus_file").set_value(
        ("story.txt", small_text(60).encode(), "text/plain")
    ).run()
    assert not at.exception
    assert "Text check" in texts(at.subheader)
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.radio(key="_w_template_corpus").value == "next_word"
    assert "Words it reads back" in [n.label for n in at.number_input]


@pytest.mark.trains
def test_results_page_shows_the_model_beside_both_baselines(corpus_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: corpus_run})
    beats = runs.read_evaluation(corpus_run)["verdict"]["beats_baseline"]
    assert "n-gram" in texts(at.success if beats else at.warning)
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "this model",
        "n-gram with backoff",
        "most frequent words",
    ]
    assert "Examples from the held-out text" in texts(at.subheader)


@pytest.mark.trains
def test_search_box_suggestions_follow_each_keystroke(corpus_run):
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: corpus_run})
    box = at.text_input(key=f"{corpus_view.BOX_KEY}_{corpus_run}")
    box.set_value("the ca").run()
    assert not at.exception
    completing = buttons(at)
    assert [b.split(" ·")[0] for b in completing] == ["cat"]  # completes the word
    at.text_input(key=f"{corpus_view.BOX_KEY}_{corpus_run}").set_value("the cat ").run()
    after_space = buttons(at)  # after a space: the next word
    assert len(after_space) == 5 and after_space != completing
    at.button(key=f"_w_next_word_pick_{after_space[0].split(' ·')[0]}").click().run()
    assert not at.exception
    typed = at.text_input(key=f"{corpus_view.BOX_KEY}_{corpus_run}").value
    assert typed == f"the cat {after_space[0].split(' ·')[0]} "
    at.button(key="_w_next_word_continue").click().run()
    assert not at.exception
    assert any(typed.strip() in str(m.value) for m in at.markdown)
