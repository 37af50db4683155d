"""Text classification's choices from the data: which column holds the texts, which network.

pandas only. A table's text column is its longest free-text column unless one is
chosen; the "auto" network reads letter groups for languages and scripts, word
sequences for many long texts, and weighted words otherwise, and says why in words.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from core.columns import infer_column_types

MIN_TEXT_CHARS = 15  # a column whose values are shorter on average is not free text
SCRIPT_SHARE = 0.01  # a script counts as present above this share of the letters
MANY_TEXTS, LONG_WORDS = 10_000, 100  # "many long texts": the sequence network
LANGUAGE_NAMES = {
    *"english french spanish german italian portuguese portugeese dutch russian "
    "swedish sweedish danish norwegian finnish polish czech turkish greek arabic "
    "hebrew hindi urdu bengali tamil telugu kannada malayalam marathi chinese "
    "japanese korean thai vietnamese indonesian malay persian ukrainian romanian "
    "hungarian latin".split(),
    *"en fr es de it pt nl ru sv da no fi pl cs tr el ar he hi ur bn ta te kn ml "
    "zh ja ko th vi id ms fa uk ro hu la".split(),
}


def text_and_label(
    frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
) -> tuple[str, str]:
    """The text column and the label column: `text`/`label` for a text dataset."""
    if target is None:
        return ("text", "label") if "text" in frame else ("", "label")
    chosen = str(params.get("text_column") or "")
    if chosen and chosen in frame and chosen != target:
        return chosen, target
    return ("" if chosen else pick_text_column(frame, target)), target


def text_columns(frame: pd.DataFrame, target: str | None) -> list[str]:
    """Columns that hold words (not numbers or dates), longest texts first."""
    column_types = infer_column_types(frame)
    words = [
        c
        for c in frame.columns
        if c != target
        and column_types[c] in ("text", "identifier", "category")
        and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    return sorted(words, key=lambda c: -_mean_length(frame[c]))


def pick_text_column(frame: pd.DataFrame, target: str | None) -> str:
    """The longest free-text column ("" when none holds real text)."""
    columns = text_columns(frame, target)
    if not columns or _mean_length(frame[columns[0]]) < MIN_TEXT_CHARS:
        return ""
    return columns[0]


def _mean_length(column: pd.Series) -> float:
    values = column.dropna().astype(str)
    return float(values.str.len().mean()) if len(values) else 0.0


def choose_architecture(
    texts: pd.Series, labels: pd.Series, label: str, params: Mapping[str, Any]
) -> tuple[str, str]:
    """Picks the network from the data (unless chosen) and says why, in words."""
    chosen = str(params.get("architecture", "auto"))
    if chosen != "auto":
        return chosen, f"The '{chosen}' network was used, as chosen."
    scripts = scripts_present(texts)
    names = {str(n).strip().lower() for n in labels.unique()}
    languages = len(names & LANGUAGE_NAMES) >= max(2, len(names) // 2)
    if languages or "lang" in label.lower() or len(scripts) >= 3:
        why = (
            "the labels are language names"
            if languages or "lang" in label.lower()
            else f"the texts use {len(scripts)} scripts ({', '.join(scripts)})"
        )
        return "characters", (
            f"Reads groups of 1 to 3 characters, because {why}: letter patterns tell "
            "languages and scripts apart better than whole words."
        )
    words = texts.str.count(" ") + 1
    if len(texts) >= MANY_TEXTS and words.median() >= LONG_WORDS:
        return "sequence", (
            f"Reads word sequences (embedding + convolution), because there are many "
            f"long texts ({len(texts):,}, typically {int(words.median())} words)."
        )
    return "words", (
        "Reads words, word pairs and groups of 1 to 3 characters weighted by TF-IDF "
        "into a small network: the best choice for short or few texts (typically "
        f"{int(words.median())} words)."
    )


def scripts_present(texts: pd.Series, sample: int = 2000) -> list[str]:
    """The writing systems of the letters (Latin, Cyrillic, ...), most used first."""
    counts: Counter[str] = Counter()
    for text in texts.head(sample):
        for char in text:
            if char.isalpha():
                counts[unicodedata.name(char, "OTHER ?").split(" ")[0]] += 1
    total = sum(counts.values()) or 1
    return [s.title() for s, n in counts.most_common() if n / total >= SCRIPT_SHARE]
