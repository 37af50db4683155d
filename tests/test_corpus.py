"""Next-word suggestion: corpus ingest, baselines, the model's signature, CLI and bundle."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import bundle_import, datasets, export, runs
from core.__main__ import main
from core.corpus import bundle, ingest, mixture, ngram
from core.corpus import model as corpus_model
from core.corpus.ingest import Corpus
from core.corpus.template import split_by_position
from core.errors import DataError

ALICE = Path(__file__).parents[1] / "sample_data" / "alice_in_wonderland.txt"
SENTENCES = [
    "the cat sat on the mat.",
    "the dog sat on the rug.",
    "a cat and a dog played in the garden.",
    "the bird sang in the tree.",
]
FAST = ["--epochs", "2", "--param", "batch_size=8", "--param", "context_words=8"]


def small_text(n: int = 80) -> str:
    return " ".join(SENTENCES[i % 4] for i in range(n))


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_tokenize_matches_the_models_own_tokenizer():
    from keras import layers

    text = ALICE.read_text(encoding="utf-8-sig")[:4000]
    words = bundle.tokenize(text)
    layer = layers.TextVectorization(vocabulary=sorted(set(words)))
    vocabulary = layer.get_vocabulary()
    ids = np.asarray(layer([bundle.normalize(text)]))[0]
    assert [vocabulary[i] for i in ids] == words
    assert "alice’s" not in words and "alices" in words  # curly quotes read as ASCII


def test_gutenberg_header_and_footer_are_dropped_with_a_note():
    text = (
        "The Project Gutenberg eBook of X\nlicence\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nOnce upon a time.\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nmore licence\n"
    )
    body, note = ingest.strip_gutenberg(text, "x.txt")
    assert body.strip() == "Once upon a time."
    assert "3 lines" in note and "2 lines" in note
    assert ingest.strip_gutenberg("plain", "y.txt") == ("plain", "")


def test_gutenberg_credit_paragraph_is_dropped_so_suggestions_start_with_the_book():
    text = (
        "The Project Gutenberg eBook of X\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n"
        "Produced by Jane Doe, John Roe and the Online\n"
        "Distributed Proofreading Team at https://www.pgdp.net\n\n"
        "CHAPTER I.\n\nOnce upon a time the king was produced by nobody.\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***\n"
    )
    body, note = ingest.strip_gutenberg(text, "x.txt")
    assert "Produced by" not in body and "pgdp" not in body
    assert body.split()[:2] == ["CHAPTER", "I."]
    assert "produced by nobody" in body  # a sentence of the book is kept
    assert "credit line (2 lines" in note
    # Without the markers, a credit at the very top is dropped as well.
    body, note = ingest.strip_gutenberg("Produced by A. B.\n\nIt was dark.", "y.txt")
    assert body.strip() == "It was dark." and "credit" in note


def test_zip_of_txt_files_is_one_corpus_of_documents():
    content = zip_of({"a.txt": small_text(30).encode(), "b.txt": b"second file text"})
    assert ingest.is_corpus_upload("texts.zip", content)
    dataset_id = ingest.store_upload("texts.zip", content)
    assert datasets.dataset_kind(dataset_id) == "corpus"
    corpus = ingest.load_corpus(dataset_id)
    assert len(corpus.documents) == 2 and corpus.documents[1] == "second file text"


def test_zip_of_class_folders_or_unsafe_paths_is_not_a_corpus():
    folders = zip_of({"pos/a.txt": b"good", "neg/b.txt": b"bad"})
    assert not ingest.is_corpus_upload("classes.zip", folders)
    with pytest.raises(DataError, match="unsafe path"):
        ingest.store_upload("evil.zip", zip_of({"../a.txt": b"x y z"}))
    with pytest.raises(DataError, match="no words"):
        ingest.store_upload("empty.txt", b"... !!!")


def test_preflight_counts_words_coverage_rare_words_and_scripts():
    corpus = Corpus("", "t", [small_text(40) + " zebra привет"])
    messages = " ".join(f.message for f in ingest.preflight(corpus, 100, 2))
    assert "distinct" in messages and "cover" in messages
    assert "appear only once" in messages and "`zebra`" in messages
    assert "Latin" in messages and "Cyrillic" in messages
    tiny = ingest.preflight(Corpus("", "t", ["a few words"]), 100, 2)
    assert any(f.level == "error" for f in tiny)


def test_held_out_is_the_last_tenth_by_position():
    words = [f"w{i}" for i in range(1000)]
    parts = split_by_position(Corpus("", "t", [" ".join(words)]), 0.1, 0.1)
    assert parts[2] == [words[900:]] and parts[1] == [words[800:900]]
    rows = Corpus("", "q", [f"query {i}" for i in range(20)], rows=True)
    assert split_by_position(rows, 0.1, 0.1)[2] == [["query", "18"], ["query", "19"]]


def test_windows_never_cross_a_row():
    documents = [np.arange(3, 8), np.arange(10, 13)]  # two rows of a search log
    flat, starts, ends = corpus_model.window_starts(documents, context=4)
    covered = set()
    for start, end in zip(starts, ends, strict=True):
        window = set(flat[start:end])
        assert window <= set(documents[0]) or window <= set(documents[1])
        covered |= window
    assert covered == set(np.concatenate(documents))  # every word is a target


def test_ngram_backs_off_and_its_probabilities_sum_to_one():
    words = corpus_model.build_vocabulary([bundle.tokenize(small_text())], 100, 1)
    docs = corpus_model.encode([bundle.tokenize(small_text())], words)
    size = len(words) + bundle.RESERVED
    model = ngram.NGram(docs, size)
    the, cat = (words.index(w) + bundle.RESERVED for w in ("the", "cat"))
    suggested, _ = model.suggest(the, cat)
    assert words[suggested[0] - bundle.RESERVED] == "sat"
    everything = np.arange(size)
    for context in ((the, cat), (cat, the), (0, 2)):
        assert model._proba(*context, everything).sum() == pytest.approx(1.0)
    scores = model.score(docs).summary()
    frequent = ngram.FrequentWords(docs, size).score(docs).summary()
    assert scores["top5_accuracy"] > frequent["top5_accuracy"]
    assert scores["perplexity"] < frequent["perplexity"]


def test_model_takes_raw_text_and_returns_top_words(tmp_path):
    import keras

    words = ["the", "cat", "sat", "on", "mat"]
    counts = ngram.NGram(
        corpus_model.encode([["the", "cat", "sat", "on", "the", "mat"]], words), 8
    )
    model = corpus_model.compile_model(
        corpus_model.build_model(words, 8, 4, 0.0, counts), 0.01
    )
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    out = loaded.predict(
        np.array(["xxbos the cat", "xxbos zebra"], dtype=object), verbose=0
    )
    assert out["next_words"].shape == (2, 5) and out["distribution"].shape == (2, 8)
    assert {w.decode() for w in out["next_words"][0]} == set(words)
    short = loaded.predict(np.array(["xxbos the cat"], dtype=object), verbose=0)[
        "distribution"
    ]
    np.testing.assert_allclose(short[0], out["distribution"][0], atol=1e-6)
    np.testing.assert_allclose(out["distribution"].sum(axis=1), 1.0, atol=1e-5)
    fast = corpus_model.FastModel(loaded)
    completions = bundle.suggest(fast, "the ca")
    assert [w for w, _ in completions] == ["cat"]
    assert bundle.accept("the ca", "cat") == "the cat "
    assert len(bundle.continue_text(fast, "the", 3, 0.7)) == 3


def test_the_mixture_holds_the_ngram_and_fits_its_weight_on_validation():
    words = corpus_model.build_vocabulary([bundle.tokenize(small_text())], 100, 1)
    docs = corpus_model.encode([bundle.tokenize(small_text())], words)
    size = len(words) + bundle.RESERVED
    counts = ngram.NGram(docs, size)
    model = corpus_model.build_model(words, 8, 4, 0.0, counts)
    model.get_layer(mixture.WEIGHT_LAYER).set_weights([np.eye(3, dtype="f")[1:2]])
    ranks, probas = corpus_model.score_model(model, docs, words, context=6)
    expected = counts.score(docs)
    np.testing.assert_allclose(probas, expected.proba, rtol=1e-4)
    np.testing.assert_array_equal(np.minimum(ranks, 5), np.minimum(expected.rank, 5))
    shares = corpus_model.fit_mixture(model, docs, words, context=6)
    assert tuple(shares) in mixture.SHARES
    held = model.get_layer(mixture.WEIGHT_LAYER).get_weights()[0]
    np.testing.assert_allclose(held[0], shares, atol=1e-6)
    model.get_layer(mixture.WEIGHT_LAYER).set_weights([np.eye(3, dtype="f")[2:3]])
    cache = model.predict_on_batch(np.array(["xxbos the cat the"], dtype=object))
    the, cat = (words.index(w) + bundle.RESERVED for w in ("the", "cat"))
    assert cache["distribution"][0, the] == pytest.approx(2 / 3, abs=1e-6)
    assert cache["distribution"][0, cat] == pytest.approx(1 / 3, abs=1e-6)


@pytest.fixture
def corpus_run(trained_workspace, tmp_path_factory, monkeypatch) -> dict:
    """One tiny next-word run through the CLI (its `--json` answer), shared below."""

    def train() -> dict:
        text = tmp_path_factory.mktemp("text") / "story.txt"
        text.write_text(small_text(120))
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdout", out)
            argv = ["train", str(text), "--template", "next_word", "--json", *FAST]
            assert main(argv) == 0
        return json.loads(out.getvalue())

    return trained_workspace("corpus", train).use(monkeypatch)


@pytest.mark.trains
def test_cli_train_reports_top_k_accuracy_and_perplexity(corpus_run):
    result = corpus_run
    keys = {"top1_accuracy", "top5_accuracy", "perplexity"}
    assert set(result["metrics"]) == keys and set(result["baseline"]) == keys
    assert "most frequent words" in result["baselines"]
    assert isinstance(result["verdict"]["beats_baseline"], bool)
    assert "n-gram" in result["summary"][0]


@pytest.mark.trains
def test_cli_predict_and_the_bundle_give_the_same_top_words(corpus_run, tmp_path):
    result = corpus_run
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat sat on\n\n=cmd a dog\n")
    out = tmp_path / "out.csv"
    assert main(["predict", result["run_id"], str(prompts), "-o", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 3
    assert {f"suggestion_{i}" for i in range(1, 6)} <= set(table.columns)
    assert set(table["suggestion_1"]) <= set(runs.read_info(result["run_id"])["words"])
    assert table["prompt"][2].startswith("'=")
    probabilities = table[[f"probability_{i}" for i in range(1, 6)]].to_numpy()
    assert (np.diff(probabilities, axis=1) <= 0).all()
    check = export.build_bundle(result["run_id"])
    assert check["ok"], check["message"]
    with zipfile.ZipFile(export.bundle_path(result["run_id"])) as archive:
        archive.extractall(tmp_path / "bundle")
    fresh = tmp_path / "fresh.csv"
    script = [sys.executable, "predict.py", str(prompts), "-o", str(fresh)]
    subprocess.run(script, cwd=tmp_path / "bundle", check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_csv(fresh, keep_default_na=False), table)
    imported = bundle_import.import_bundle(
        export.bundle_path(result["run_id"]).read_bytes(), "b.zip"
    )
    assert (
        runs.read_info(imported)["words"] == runs.read_info(result["run_id"])["words"]
    )


@pytest.mark.trains
def test_csv_column_of_queries_trains_without_crossing_rows(tmp_path, capsys):
    queries = [s.rstrip(".") for s in SENTENCES] * 30
    path = tmp_path / "log.csv"
    pd.DataFrame({"id": range(len(queries)), "query": queries}).to_csv(
        path, index=False
    )
    argv = ["train", str(path), "--template", "next_word", "--target", "query"]
    assert main([*argv, "--json", *FAST]) == 0
    result = json.loads(capsys.readouterr().out)
    assert runs.read_info(result["run_id"])["rows"] is True
    assert main([*argv[:-2], "--target", "id", *FAST]) == 1
    assert "Expected a column of free text" in capsys.readouterr().err
