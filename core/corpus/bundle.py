"""Suggest the next words with a model exported by Predictive Studio.

Usage (inside an unzipped bundle):
    python predict.py prompts.txt -o suggestions.csv

Each line of prompts.txt is a text prefix; the output has one row per line with
`suggestion_1..5` and `probability_1..5` (the words the model expects next).

Needs: keras>=3, tensorflow, pandas. This file is copied into every next-word bundle as
`predict.py`, and the app suggests, completes and continues text with these same
functions, so what you download is what ran.

In Python:
    model = keras.saving.load_model("model.keras", compile=False)
    out = model.predict(np.array(["xxbos alice was"], dtype=object), verbose=0)
    out["next_words"], out["probabilities"]   # top words (bytes) and their probabilities
    out["distribution"]                       # probabilities of every vocabulary entry
Start each text with "xxbos " (the marker the model learned texts start with), as
`distribution` below does; without it the suggestions are a little less sure.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TOP_K = 5
START = "xxbos"  # the model reads every text after this marker ("a text starts here")
# Vocabulary entries 0 (padding), 1 (an unknown word) and 2 (START) are never suggested.
RESERVED = 3
# Characters Keras' TextVectorization does not strip, but that join or split words.
_SPACED = dict.fromkeys(map(ord, "\u2013\u2014\u2015-_\u00a0\u2026/"), " ")
_QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u02bc\u00b4`"), "'")
_QUOTES.update(dict.fromkeys(map(ord, "\u201c\u201d\u201e\u00ab\u00bb"), '"'))
_QUOTES.pop(ord("`"))
_STRIPPED = re.compile(r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']")


def normalize(text: str) -> str:
    """Writes curly quotes, dashes and similar the way the model's tokenizer reads them."""
    return text.translate(_SPACED).translate(_QUOTES).lstrip("\ufeff")


def tokenize(text: str) -> list[str]:
    """The words the model sees: lower case, punctuation dropped (as TextVectorization)."""
    return _STRIPPED.sub("", normalize(text).lower()).split()


def vocabulary(model: Any) -> list[str]:
    """The model's words: 0 is padding, 1 an unknown word, 2 START, then by frequency."""
    cached = getattr(model, "words", None)  # the app's compiled wrapper reads them once
    if cached is not None:
        return cached
    return list(model.get_layer("vectorize").get_vocabulary())


def distribution(model: Any, text: str) -> np.ndarray:
    """Probabilities of every vocabulary entry being the next word after `text`."""
    out = model.predict_on_batch(np.array([f"{START} {normalize(text)}"], dtype=object))
    return np.asarray(out["distribution"][0], dtype="float64")


def ranked(
    words: list[str], proba: np.ndarray, prefix: str = "", k: int = TOP_K
) -> list[tuple[str, float]]:
    """The `k` most likely words (starting with `prefix`), with their probabilities."""
    order = np.argsort(-proba[RESERVED:], kind="stable") + RESERVED
    chosen = []
    for index in order:
        if words[index].startswith(prefix):
            chosen.append((words[index], float(proba[index])))
            if len(chosen) == k:
                break
    return chosen


def suggest(model: Any, text: str, k: int = TOP_K) -> list[tuple[str, float]]:
    """Search-box suggestions: completes the word being typed, or the next word.

    After a space (or nothing typed) it suggests the next words; in the middle of a
    word (`jus`) it suggests the vocabulary words that start with it (`justice`),
    ranked by how likely the model finds them there.
    """
    words = tokenize(text)
    if not words or text[-1:].isspace():
        return ranked(vocabulary(model), distribution(model, text), "", k)
    context = text[: len(text.rstrip()) - len(text.split()[-1])]
    partial = words[-1] if tokenize(text.split()[-1]) else ""
    return ranked(vocabulary(model), distribution(model, context), partial, k)


def accept(text: str, word: str) -> str:
    """The text with a chosen suggestion: it replaces the word being typed, then a space."""
    if text and not text[-1].isspace() and tokenize(text.split()[-1]):
        text = text[: len(text) - len(text.split()[-1])]
    elif text and not text[-1].isspace():
        text += " "
    return f"{text}{word} "


def continue_text(
    model: Any, text: str, n_words: int, temperature: float, seed: int = 0
) -> list[str]:
    """Writes `n_words` more words, sampling each at `temperature` (0 = most likely)."""
    words, rng = vocabulary(model), np.random.default_rng(seed)
    written: list[str] = []
    for _ in range(n_words):
        proba = distribution(model, " ".join([text, *written]))[RESERVED:]
        if temperature <= 0:
            index = int(np.argmax(proba))
        else:
            logits = np.log(np.maximum(proba, 1e-12)) / temperature
            weights = np.exp(logits - logits.max())
            index = int(rng.choice(len(proba), p=weights / weights.sum()))
        written.append(words[index + RESERVED])
    return written


def suggestions_table(model: Any, prompts: list[str], k: int = TOP_K) -> pd.DataFrame:
    """One row per prompt: the next `k` words the model expects, with probabilities."""
    rows = []
    for prompt in prompts:
        found = ranked(vocabulary(model), distribution(model, prompt), "", k)
        row: dict[str, Any] = {"prompt": prompt}
        for index in range(k):
            word, proba = found[index] if index < len(found) else ("", 0.0)
            row[f"suggestion_{index + 1}"] = word
            row[f"probability_{index + 1}"] = round(proba, 6)
        rows.append(row)
    return pd.DataFrame(rows)


def read_prompts(path: Path) -> list[str]:
    """The lines of a text file (UTF-8, a BOM allowed), blank lines kept as empty prompts."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    return text.splitlines()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula get a leading `'` (OWASP)."""

    def safe(value: object) -> object:
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            return "'" + value
        return value

    return frame.map(safe)


def main(argv: list[str] | None = None) -> int:
    """Writes the suggestions for every line of a text file to a CSV."""
    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prompts", type=Path, help="a text file, one prompt per line")
    parser.add_argument("-o", "--output", type=Path, default=Path("suggestions.csv"))
    args = parser.parse_args(argv)
    model = keras.saving.load_model(HERE / "model.keras", compile=False)
    table = suggestions_table(model, read_prompts(args.prompts))
    neutralise(table).to_csv(args.output, index=False)
    print(f"Wrote {len(table)} rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
