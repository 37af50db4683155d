"""Suggest the next word as someone types (a search box), learned from their own text."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import datasets
from core.corpus import bundle as corpus_bundle
from core.corpus import ingest
from core.corpus import model as corpus_model
from core.corpus.ingest import Corpus
from core.corpus.ngram import NGram
from core.errors import DataError
from core.templates import checks
from core.templates.base import Prepared, Split, Template
from core.templates.params import Param, dropout_param, training_params
from core.templates.registry import register

CHECK_PROMPTS = 8
# Trains until the validation text stops improving, within 9 minutes (then evaluates).
_DEFAULTS = {
    "epochs": 100,
    "patience": 4,
    "time_budget_s": 540,
    "batch_size": 64,
    "learning_rate": 0.004,
    "val_fraction": 0.1,
    "test_fraction": 0.1,
}
CORPUS_PARAMS = training_params(**_DEFAULTS) + (
    Param(
        "context_words",
        "Words it reads back",
        32,
        min_value=4,
        max_value=256,
        help="How many words before the cursor the model learns from at a time.",
        advanced=True,
    ),
    Param(
        "max_vocabulary",
        "Largest vocabulary",
        ingest.MAX_VOCABULARY,
        min_value=100,
        max_value=100_000,
        help="At most this many different words can be suggested (the most frequent).",
        advanced=True,
    ),
    Param(
        "min_count",
        "Least times a word is seen",
        ingest.MIN_COUNT,
        min_value=1,
        max_value=100,
        help="Rarer words are read as 'unknown' and never suggested.",
        advanced=True,
    ),
    Param(
        "embedding_size",
        "Word vector size",
        128,
        choices=(32, 64, 128, 256),
        help="How many numbers describe each word.",
        advanced=True,
    ),
    dropout_param(0.5),
)


@register
class NextWord(Template):
    """A word-level language model: raw text in, the likely next words out."""

    name = "next_word"
    title = "Suggest the next word"
    description = (
        "Learns your own text (a book, documents, or a column of search queries) and "
        "suggests the next word as someone types, like a search box; it also completes "
        "the word being typed and can continue a sentence."
    )
    task = "next_word"
    data_kind = "corpus"
    params = CORPUS_PARAMS
    bundle_script = "core.corpus.bundle"
    predict_input = "prompts.txt"
    metadata_checks = {
        "context": (checks.is_count, "the number of words the model reads back"),
        "words": (checks.are_names, "the list of words the model can suggest"),
    }
    limitations = (
        "It only suggests words it saw at least a few times in its training text; other "
        "words are read as 'unknown'.",
        "It repeats the phrasing of its training text, including its biases.",
    )
    usage = (
        "`python predict.py prompts.txt -o suggestions.csv` writes the 5 likely next words "
        "after each line. In Python: `keras.saving.load_model('model.keras', "
        "compile=False)` takes raw text, an object array of strings shaped (n,), each "
        "starting with 'xxbos ', and returns `next_words`, `probabilities` and `distribution`; "
        "`suggest`, `continue_text` and `suggestions_table` in predict.py do the rest."
    )

    @property
    def sources(self) -> tuple[str, ...]:
        """A .txt corpus, or a CSV table with a text column (one text per row)."""
        return ("corpus", "table")

    def store_input(self, path: Path) -> str:
        """Stores a CSV as a table; a .txt, zip of .txt or folder as a corpus."""
        if path.suffix.lower() in (".csv", ".tsv"):
            return datasets.store_upload(path.name, path.read_bytes())
        return ingest.store_path(path)

    def load_data(self, dataset_id: str) -> Corpus | pd.DataFrame:
        """A stored corpus, or the stored table (its text column is the target)."""
        if datasets.dataset_kind(dataset_id) == ingest.KIND:
            return ingest.load_corpus(dataset_id)
        return datasets.load_table(dataset_id)

    def suggest(self, data_: Any, target: str | None) -> tuple[float, str]:
        """Text: learn what comes next. A table only if its target is free text."""
        if isinstance(data_, Corpus):
            return (
                0.9,
                "The data is plain text, so the app learns to suggest next words.",
            )
        if target in data_.columns and ingest.is_text_column(data_[target]):
            return 0.6, (
                f"`{target}` holds free text of several words per row (queries or "
                "sentences), so the app can learn to suggest the next word as people type."
            )
        return 0.0, ""

    def example_data(self) -> tuple[Corpus, None]:
        """A few hundred words of simple repeated sentences."""
        sentences = [
            "the cat sat on the mat.",
            "the dog sat on the rug.",
            "a cat and a dog played in the garden.",
            "the bird sang in the tree.",
        ]
        text = " ".join(sentences[i % 4] for i in range(60))
        return Corpus("", "example", [text]), None

    def _corpus(self, data_: Any, target: str | None) -> Corpus:
        if isinstance(data_, Corpus):
            return data_
        return ingest.from_column(data_, target or "")

    def preflight(
        self, data_: Any, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """The corpus check in plain sentences (size, vocabulary, rare words, scripts)."""
        corpus = self._corpus(data_, target)
        found = ingest.preflight(
            corpus, int(params["max_vocabulary"]), int(params["min_count"])
        )
        return [f.message for f in found if f.level != "error"]

    def check(
        self, data_: Any, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Needs a text column (for a table) and at least a few hundred words."""
        if isinstance(data_, pd.DataFrame) and target not in ingest.text_columns(data_):
            return [
                f"Invalid value for argument `target`. Expected a column of free text, "
                f"one of {ingest.text_columns(data_)}. Received: target={target!r}"
            ]
        corpus = self._corpus(data_, target)
        found = ingest.preflight(
            corpus, int(params["max_vocabulary"]), int(params["min_count"])
        )
        return [f"{f.message} {f.fix}" for f in found if f.level == "error"]

    def prepare(
        self, data_: Any, target: str | None, params: Mapping[str, Any], seed: int
    ) -> Prepared:
        """Splits by position (held-out = the end), builds the vocabulary, streams windows."""
        corpus = self._corpus(data_, target)
        parts = split_by_position(
            corpus, float(params["val_fraction"]), float(params["test_fraction"])
        )
        words = corpus_model.build_vocabulary(
            parts[0], int(params["max_vocabulary"]), int(params["min_count"])
        )
        encoded = [corpus_model.encode(part, words) for part in parts]
        context, batch = int(params["context_words"]), int(params["batch_size"])
        n_train = sum(len(d) for d in encoded[0])
        units, note = corpus_model.choose_network(n_train)
        train = corpus_model.make_dataset(encoded[0], words, context, batch, seed)
        val = corpus_model.make_dataset(encoded[1], words, context, batch, None)
        info = {
            "task": self.task,
            "target": target,
            "schema": [{"name": "text", "kind": "text"}],
            "dataset_id": corpus.dataset_id,
            "rows": corpus.rows,
            "words": words,
            "context": context,
            "units": units,
            "model_note": note,
            "n_train": n_train,
            "n_val": sum(len(d) for d in encoded[1]),
            "n_test": sum(len(d) for d in encoded[2]),
        }
        return Prepared(
            Split(train, None, encoded[0]),
            Split(val, None, encoded[1]),
            Split(encoded[2], None, parts[2]),
            info=info,
        )

    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns the compiled model: raw text in, next-word probabilities out."""
        info = prepared.info
        model = corpus_model.build_model(
            list(info["words"]),
            int(info["units"]),
            int(params["embedding_size"]),
            float(params["dropout"]),
            NGram(prepared.train.raw, len(info["words"]) + corpus_bundle.RESERVED),
        )
        return corpus_model.compile_model(model, float(params["learning_rate"]))

    def calibrate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> None:
        """Fits the shares of the network, n-gram and cache on the validation text."""
        info = prepared.info
        info["mixture_shares"] = corpus_model.fit_mixture(
            model, prepared.val.raw, list(info["words"]), int(info["context"])
        )

    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> dict:
        """Top-1/top-5 accuracy and perplexity on the held-out end, beside the baselines."""
        from core.corpus.report import corpus_report

        return corpus_report(model, prepared, int(params["seed"]))

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Writes prompts from the held-out text (and an empty one) to prompts.txt."""
        words = [w for doc in prepared.test.raw for w in doc]
        spots = np.linspace(0, max(len(words) - 6, 0), CHECK_PROMPTS - 1).astype(int)
        prompts = ["", *(" ".join(words[s : s + 6]) for s in spots)]
        path = folder / "prompts.txt"
        path.write_text("\n".join(prompts) + "\n")
        return path

    def model_mismatch(self, model: Any, metadata: Mapping[str, Any]) -> str:
        """The model must give next words and hold as many words as its metadata."""
        try:
            size = len(model.get_layer("vectorize").get_vocabulary())
        except ValueError:
            return "it has no `vectorize` layer (the tokenizer)."
        expected = len(metadata["words"]) + corpus_bundle.RESERVED
        if size != expected:
            return f"its vocabulary holds {size} entries, the metadata {expected}."
        return ""

    def predict_file(
        self, model: Any, path: Path, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """The 5 likely next words after each line of a text file.

        Raises:
            DataError: if the file holds no lines.
        """
        prompts = corpus_bundle.read_prompts(path) if path.is_file() else []
        if not prompts:
            raise DataError(
                f"`{path.name}` holds no prompts. Give a text file with one prompt per line."
            )
        return corpus_bundle.suggestions_table(model, prompts), []


def split_by_position(
    corpus: Corpus, val_fraction: float, test_fraction: float
) -> list[list[list[str]]]:
    """Train, validation and held-out documents: the held-out text is the corpus's end.

    Rows (a search log) are split on row boundaries; plain text at the word, so the
    held-out part is exactly the last share of the words.
    """
    documents = corpus.tokens()
    if corpus.rows:
        cuts = _cuts(len(documents), val_fraction, test_fraction)
        return [documents[a:b] for a, b in itertools.pairwise(cuts)]
    flat = [(d, w) for d, doc in enumerate(documents) for w in doc]
    cuts = _cuts(len(flat), val_fraction, test_fraction)
    return [_regroup(flat[a:b]) for a, b in itertools.pairwise(cuts)]


def _cuts(n: int, val_fraction: float, test_fraction: float) -> list[int]:
    train_end = round(n * (1 - val_fraction - test_fraction))
    return [0, train_end, round(n * (1 - test_fraction)), n]


def _regroup(flat: list[tuple[int, str]]) -> list[list[str]]:
    """Words tagged with their document, back into one list per document."""
    groups: dict[int, list[str]] = {}
    for document, word in flat:
        groups.setdefault(document, []).append(word)
    return list(groups.values())
