"""Text classification: .txt class folders in, the template's choices, CLI train/predict/
explain/export, and the text pages (AppTest)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core import __main__ as cli
from core import datasets, export, runs
from core.catalog import get_template, suggest
from core.errors import DataError
from core.text import bundle as text_bundle
from core.text import choices, ingest
from core.text import template as text_template
from pages.ui import state
from tests.test_images import picture
from tests.test_pages import open_page, texts

SAMPLES = Path(__file__).parents[1] / "sample_data"
GOOD = ["great", "lovely", "excellent", "good", "wonderful", "nice"]
BAD = ["awful", "terrible", "bad", "poor", "horrible", "boring"]


def review_files(per_class: int = 6, root: str = "") -> list[tuple[str, bytes]]:
    """aclImdb-like `pos/` and `neg/` folders of short reviews."""
    return [
        (
            f"{root}{label}/{i}.txt",
            f"A {words[i % 6]} film, really {words[(i + 1) % 6]}.".encode(),
        )
        for label, words in (("pos", GOOD), ("neg", BAD))
        for i in range(per_class)
    ]


def make_zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


# --- data in -------------------------------------------------------------------------


def test_a_zip_of_txt_class_folders_becomes_a_text_dataset():
    files = review_files(root="aclImdb/") + [
        ("aclImdb/pos/old.txt", "café crème".encode("cp1252"))
    ]
    dataset_id = ingest.store_class_zip("reviews.zip", make_zip(files))
    assert datasets.dataset_kind(dataset_id) == "text"
    frame = ingest.load_texts(dataset_id)
    assert sorted(frame["label"].unique()) == ["neg", "pos"]
    assert len(frame) == 13
    assert "café crème" in frame["text"].tolist()  # not UTF-8: the encoding is detected
    assert any("not in UTF-8" in note for note in frame.attrs["notes"])


def test_picture_zips_stay_pictures_and_a_mix_is_refused():
    pictures = [(f"{c}/{i}.png", picture()) for c in ("cat", "dog") for i in range(3)]
    assert (
        datasets.dataset_kind(ingest.store_class_zip("p.zip", make_zip(pictures)))
        == "images"
    )
    with pytest.raises(DataError, match="mixes 12 text files and 6 pictures"):
        ingest.store_class_zip("mix.zip", make_zip(pictures + review_files()))


def test_an_unsafe_text_zip_is_refused_whole(workspace_root):
    with pytest.raises(DataError, match="unsafe path"):
        ingest.store_class_zip(
            "evil.zip", make_zip(review_files() + [("../evil.txt", b"x")])
        )
    assert not list(workspace_root.rglob("evil.txt"))


def test_a_folder_upload_and_long_texts_are_cut_by_the_stated_rule():
    files = review_files() + [("pos/long.txt", b"word " * ingest.MAX_CHARS)]
    frame = ingest.load_texts(ingest.store_class_files("folder", files))
    assert frame["text"].str.len().max() == ingest.MAX_CHARS
    assert any("cut to their first part" in n for n in frame.attrs["notes"])


# --- the template's choices ------------------------------------------------------------


def test_text_wins_over_tables_for_a_text_csv_and_loses_for_heart():
    for sample, target in (
        ("sentiment_sentences.csv", "label"),
        ("language_detection.csv", "Language"),
    ):
        frame = datasets.load_table(datasets.store_sample(sample))
        best, reason = suggest(frame, target, "table")
        assert best.name == "text_classification", reason
    heart = datasets.load_table(datasets.store_sample("heart.csv"))
    assert suggest(heart, "target", "table")[0].name == "tabular_classification"
    assert get_template("text_classification").suggest(heart, "target")[0] == 0.0


def test_the_network_is_chosen_by_the_data_and_says_why():
    languages = pd.read_csv(SAMPLES / "language_detection.csv")
    choice, why = choices.choose_architecture(
        languages["Text"], languages["Language"], "Language", {"architecture": "auto"}
    )
    assert choice == "characters" and "language" in why
    reviews = pd.read_csv(SAMPLES / "sentiment_sentences.csv")
    choice, why = choices.choose_architecture(
        reviews["sentence"], reviews["label"], "label", {"architecture": "auto"}
    )
    assert choice == "words" and "TF-IDF" in why
    assert choices.pick_text_column(reviews, "label") == "sentence"


def test_preflight_names_duplicates_across_classes_and_scripts():
    frame = pd.DataFrame(
        {
            "text": [
                "same words here",
                "same words here",
                "Привет мир друзья",
                "hello there",
            ]
            * 6,
            "label": ["a", "b", "a", "b"] * 6,
        }
    )
    messages = [f.message for f in text_template.preflight(frame, "text", "label")]
    assert any("appear with different labels" in m for m in messages)
    assert any("Latin" in m and "Cyrillic" in m for m in messages)


# --- end to end: CLI train, predict, explain, export -------------------------------------


@pytest.fixture
def text_run(trained_workspace, tmp_path_factory, monkeypatch) -> str:
    """One tiny text run trained through the CLI, shared by the CLI and page tests."""

    def train() -> str:
        frame, _ = get_template("text_classification").example_data()
        path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
        frame.to_csv(path, index=False)
        args = ["train", str(path), "--template", "text_classification"]
        args += ["--target", "sentiment", "--epochs", "40"]
        args += ["--param", "learning_rate=0.05", "--param", "patience=40", "--json"]
        assert cli.main(args) == 0
        return runs.list_runs()[0]

    return trained_workspace("texts", train).use(monkeypatch)


@pytest.mark.trains
def test_cli_train_reports_the_three_accuracies_and_the_verdict(text_run):
    report = runs.read_evaluation(text_run)
    for key in ("metrics", "baseline", "reference"):
        assert 0 <= report[key]["accuracy"] <= 1
    assert report["verdict"]["sentence"] and report["reference_comparison"]["sentence"]
    assert report["top_terms"]["pos"] or report["top_terms"]["neg"]
    assert runs.read_info(text_run)["text_column"] == "review"


@pytest.mark.trains
def test_cli_predict_and_explain(text_run, tmp_path, capsys):
    rows = tmp_path / "new.csv"
    pd.DataFrame(
        {"review": ["A wonderful, lovely film.", "An awful, boring film."]}
    ).to_csv(rows, index=False)
    out = tmp_path / "out.csv"
    assert cli.main(["predict", text_run, str(rows), "-o", str(out)]) == 0
    scored = pd.read_csv(out)
    assert list(scored["prediction"]) == ["pos", "neg"]
    assert {"probability_pos", "probability_neg"} <= set(scored)
    assert cli.main(["predict", text_run, str(rows), "-o", str(out), "--explain"]) == 0
    why = pd.read_csv(out)["why"]
    assert "wonderful" in why[0] or "lovely" in why[0]
    assert "pos:" in capsys.readouterr().out


@pytest.mark.trains
def test_explain_weighs_the_deciding_word_most(text_run):
    model = runs.load_model(text_run)
    result = text_bundle.explain(
        model, "The film was wonderful and the actors", ["neg", "pos"]
    )
    weights = dict(result["words"])
    assert result["prediction"] == "pos"
    assert weights["wonderful"] == max(weights.values())


@pytest.mark.trains
def test_export_verifies_in_a_fresh_process(text_run, tmp_path):
    check = export.build_bundle(text_run)
    assert check["ok"], check["message"]
    with zipfile.ZipFile(export.bundle_path(text_run)) as bundle:
        metadata = json.loads(bundle.read("metadata.json"))
    assert metadata["text_column"] == "review" and metadata["class_names"] == [
        "neg",
        "pos",
    ]


# --- pages -----------------------------------------------------------------------------


def test_data_page_text_zip_upload_shows_the_check():
    at = open_page("pages/data.py")
    at.file_uploader(key="_w_text_zip").set_value(
        ("reviews.zip", make_zip(review_files(per_class=4)), "application/zip")
    ).run()
    assert not at.exception
    assert datasets.dataset_kind(at.session_state[state.DATASET_ID]) == "text"
    assert "8 texts · 2 classes" in texts(at.caption)
    assert "Data check" in texts(at.subheader)


def test_train_page_preselects_the_longest_text_column():
    at = open_page()
    at.button(key="_w_sample_sentiment_sentences.csv").click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert "Classify texts" in texts(at.info)
    assert at.selectbox(key="_w_text_column_label").value == "sentence"


@pytest.mark.trains
def test_results_and_live_predict_pages(text_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: text_run})
    assert not at.exception
    assert "Mistakes" in texts(at.subheader) or "Scores on the test texts" in texts(
        at.subheader
    )
    at.switch_page("pages/predict.py").run()
    at.text_input(key="_w_live_text").input("A lovely, wonderful film").run()
    assert not at.exception
    assert "**pos**" in "\n".join(m.value for m in at.markdown)


@pytest.mark.trains
@pytest.mark.parametrize("architecture", ["characters", "sequence"])
def test_each_network_saves_and_reloads_with_raw_strings(architecture, tmp_path):
    import keras
    import numpy as np

    from core.templates.params import resolve_params

    template = get_template("text_classification")
    frame, target = template.example_data()
    params = resolve_params(template, {"architecture": architecture, "epochs": 1})
    prepared = template.prepare(frame, target, params, seed=0)
    assert prepared.info["architecture"] == architecture
    model = template.build_model(prepared, params)
    model.fit(prepared.train.inputs, prepared.train.targets, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # safe mode
    texts = ["Un film génial\u2028et beau", "", "Ужасный фильм"]
    np.testing.assert_allclose(
        text_bundle.predict_proba(loaded, texts),
        text_bundle.predict_proba(model, texts),
        rtol=1e-5,
    )
