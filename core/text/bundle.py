"""Classify texts with a model exported by Predictive Studio.

Usage (inside an unzipped bundle):
    python predict.py texts.csv -o predictions.csv            # a CSV with a text column
    python predict.py FOLDER -o predictions.csv               # every .txt file in it
    python predict.py texts.csv -o predictions.csv --explain  # + the words that decided

Needs: keras>=3, tensorflow, pandas. This file is copied into every text bundle as
`predict.py`, and the app uses the same functions, so what you download is what ran.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MAX_CHARS = 20_000  # longer texts keep their first MAX_CHARS characters
EXPLAIN_MAX_WORDS = 200  # words weighed by "why this prediction" (the first ones)
CHUNK = 1024
TEXT_COLUMN_NAMES = ("text", "texts", "sentence", "review", "message", "content")


def clean_text(value: object) -> str:
    """The text as the model takes it: every run of whitespace one space, cut short.

    Line breaks of any kind must not reach the model's vocabulary: Keras saves it as
    lines, and a word holding a line break would make the saved model fail to load.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return " ".join(str(value)[:MAX_CHARS].split())


def predict_proba(model: Any, texts: list[str]) -> np.ndarray:
    """Class probabilities for raw texts, one row per text."""
    import tensorflow as tf

    chunks = []
    for start in range(0, len(texts), CHUNK):
        batch = np.array([clean_text(t) for t in texts[start : start + CHUNK]], object)
        tensor = tf.constant(batch.reshape(-1, 1), dtype=tf.string)
        # predict_on_batch runs Keras' compiled predict function: ~1 ms for one
        # text where an eager `model(tensor)` call takes ~60 ms (2 busy CPUs).
        chunks.append(np.asarray(model.predict_on_batch(tensor), dtype="float64"))
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def add_predictions(
    frame: pd.DataFrame, proba: np.ndarray, class_names: list[str]
) -> pd.DataFrame:
    """Returns `frame` with `prediction` and one `probability_<class>` per class."""
    result = frame.copy()
    result["prediction"] = [class_names[i] for i in proba.argmax(axis=1)]
    for index, name in enumerate(class_names):
        result[f"probability_{name}"] = proba[:, index].round(6)
    return result


def explain(model: Any, text: str, class_names: list[str]) -> dict[str, Any]:
    """Why this prediction: how much each word pushed toward the predicted class.

    Occlusion: each word is left out in turn, and its weight is how much the predicted
    class's probability drops without it (negative: the word pulled the other way).
    Only the first `EXPLAIN_MAX_WORDS` words are weighed.

    Returns:
        `prediction`, `probability` and `words`: a list of (word, weight).
    """
    words = clean_text(text).split(" ")[:EXPLAIN_MAX_WORDS]
    variants = [" ".join(words)] + [
        " ".join(words[:i] + words[i + 1 :]) for i in range(len(words))
    ]
    proba = predict_proba(model, variants)
    best = int(proba[0].argmax())
    weights = proba[0, best] - proba[1:, best]
    return {
        "prediction": class_names[best],
        "probability": float(proba[0, best]),
        "words": [(w, round(float(v), 4)) for w, v in zip(words, weights, strict=True)],
    }


def explanation_text(words: list[tuple[str, float]], top: int = 5) -> str:
    """The words that weighed most, strongest first: `great (+0.41); not (-0.12)`."""
    ranked = sorted(words, key=lambda pair: -abs(pair[1]))[:top]
    return "; ".join(f"{w} ({v:+.2f})" for w, v in ranked if v)


def find_text_column(frame: pd.DataFrame, preferred: str = "") -> str:
    """The column holding the texts: `preferred`, a column named like one, else the
    column with the longest values on average.

    Raises:
        ValueError: if the table has no columns.
    """
    if preferred in frame.columns:
        return preferred
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in TEXT_COLUMN_NAMES:
        if name in lower:
            return lower[name]
    if frame.columns.empty:
        raise ValueError("The table has no columns.")
    lengths = {c: frame[c].astype(str).str.len().mean() for c in frame.columns}
    return max(lengths, key=lengths.get)


def read_text_files(folder: Path) -> pd.DataFrame:
    """Every `.txt` file under `folder` (sorted): columns `file` and `text`."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".txt")
    rows = [(p.relative_to(folder).as_posix(), decode(p.read_bytes())) for p in paths]
    return pd.DataFrame(rows, columns=["file", "text"])


def decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 by its BOM; anything else as cp1252."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def read_input(path: Path, preferred: str = "") -> tuple[pd.DataFrame, str]:
    """Reads a CSV, one `.txt` file or a folder of them; returns the table and its
    text column."""
    if path.is_dir():
        return read_text_files(path), "text"
    if path.suffix.lower() == ".txt":
        return pd.DataFrame(
            {"file": [path.name], "text": [decode(path.read_bytes())]}
        ), "text"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame, find_text_column(frame, preferred)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns `frame` safe to open in a spreadsheet (no formula injection).

    Text cells and headers that start like a formula (`= + - @`, tab, CR) get a
    leading `'` (OWASP); numbers are kept. A copy of core.safe_csv.neutralise, so
    this script runs alone.
    """
    number = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

    def safe(value: object) -> object:
        if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
            return value
        return value if number.fullmatch(value) else "'" + value

    result = frame.rename(columns=lambda name: safe(str(name)))
    for column in range(result.shape[1]):
        values = result.iloc[:, column]
        if getattr(values.dtype, "kind", "") in "OSU" or isinstance(
            values.dtype, (pd.CategoricalDtype, pd.StringDtype)
        ):
            result.isetitem(column, values.astype(object).map(safe))
    return result


def score(
    model: Any, frame: pd.DataFrame, column: str, metadata: dict, with_why: bool
) -> pd.DataFrame:
    """The table with predictions (and, with `with_why`, the words that decided)."""
    names = list(metadata["class_names"])
    texts = frame[column].tolist()
    result = add_predictions(frame, predict_proba(model, texts), names)
    if with_why:
        result["why"] = [
            explanation_text(explain(model, t, names)["words"]) for t in texts
        ]
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: classifies texts and writes the predictions CSV."""
    parser = argparse.ArgumentParser(
        description="Classify texts with the bundled model."
    )
    parser.add_argument(
        "data", type=Path, help="a CSV with a text column, a .txt file or a folder"
    )
    parser.add_argument("-o", "--output", type=Path, default=Path("predictions.csv"))
    parser.add_argument(
        "--explain", action="store_true", help="add the words that decided"
    )
    parser.add_argument("--model", type=Path, default=HERE / "model.keras")
    parser.add_argument("--metadata", type=Path, default=HERE / "metadata.json")
    args = parser.parse_args(argv)

    import keras

    metadata = json.loads(args.metadata.read_text())
    try:
        frame, column = read_input(args.data, metadata.get("text_column", ""))
    except (OSError, ValueError, pd.errors.ParserError) as err:
        print(f"error: cannot read {args.data}: {err}", file=sys.stderr)
        return 2
    model = keras.saving.load_model(
        args.model
    )  # safe_mode=True: no code is run on load
    result = score(model, frame, column, metadata, args.explain)
    neutralise(result).to_csv(args.output, index=False)
    print(f"Wrote {len(result)} predictions to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
