"""Text corpora in: a .txt, a zip of .txt files, or a CSV column of queries; preflight.

A corpus is stored under its content hash in the workspace as `documents.json` (one
entry per file) with `meta.json` (kind "corpus"). A Project Gutenberg header and footer
are dropped with a note. Suggestions never run from one document (file, or CSV row)
into the next.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from core import archive, datasets
from core.corpus.bundle import tokenize
from core.errors import DataError
from core.findings import Finding

KIND = "corpus"
DOCUMENTS_FILE = "documents.json"
TEXT_SUFFIXES = (".txt",)
MAX_FILES = 20_000
MAX_TEXT_BYTES = datasets.MAX_TABLE_BYTES
ZIP_LIMITS = archive.Limits(MAX_FILES, MAX_TEXT_BYTES, archive.MAX_COMPRESSION_RATIO)
MIN_WORDS = 200
MAX_VOCABULARY = 10_000  # the template's defaults, also used to preview a corpus
MIN_COUNT = 2
SMALL_WORDS = 50_000
LARGE_WORDS = 1_000_000
IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini", ".DS_Store"}
SAMPLE_FILE = datasets.SAMPLE_DIR / "alice_in_wonderland.txt"
SAMPLE_NAME = "Alice's Adventures in Wonderland (text)"
_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG", re.I)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG", re.I)
# Who digitised the book ("Produced by ...", "E-text prepared by ..."): a credit
# paragraph at the top of the text, not part of the book.
_CREDIT = re.compile(
    r"^\s*(produced by|e-?text prepared by|this e-?book was (produced|prepared) by|"
    r"transcribed (from .* )?by|html version by|updated editions will replace)\b",
    re.I,
)
_CREDIT_LINES = 60  # credits sit within this many lines of the text's start


@dataclass(frozen=True)
class Corpus:
    """Texts to learn from: one document per file (or per CSV row), in order."""

    dataset_id: str
    name: str
    documents: list[str]
    notes: list[str] = field(default_factory=list)
    rows: bool = False  # documents are rows of a CSV column (queries, sentences)

    def tokens(self) -> list[list[str]]:
        """Each document's words, as the model reads them."""
        return [tokenize(document) for document in self.documents]


# --- storing uploads -------------------------------------------------------------------


def is_corpus_upload(name: str, content: bytes) -> bool:
    """A single .txt, or a zip whose files are .txt files all in one folder."""
    if name.lower().endswith(TEXT_SUFFIXES):
        return True
    if not name.lower().endswith(".zip"):
        return False
    try:
        names = [n for n, _ in _zip_entries(content, name, read=False)]
    except DataError:
        return False
    folders = {PurePosixPath(n).parent for n in names}
    return bool(names) and len(folders) == 1 and all(_is_text(n) for n in names)


def store_path(path: Path) -> str:
    """Stores a .txt file, a zip of .txt files or a folder of them; returns the id.

    Raises:
        DataError: if there is no such file, or it holds no usable text.
    """
    if path.is_dir():
        files = [
            (p.name, p.read_bytes()) for p in sorted(path.iterdir()) if p.is_file()
        ]
        return store_files(path.name, files)
    if not path.is_file():
        raise DataError(f"There is no file or folder `{path}`.")
    return store_upload(path.name, path.read_bytes())


def store_upload(name: str, content: bytes) -> str:
    """Stores an uploaded .txt or zip of .txt files; returns its dataset id.

    Raises:
        DataError: if it is empty, too large, an unsafe or damaged zip, or has no text.
    """
    if not content:
        raise DataError(
            f"The file `{name}` is empty (0 bytes). Choose a file with text."
        )
    if name.lower().endswith(".zip"):
        return store_files(name, _zip_entries(content, name, read=True))
    return store_files(name, [(name, content)])


def store_sample() -> str:
    """Stores the bundled Alice in Wonderland text and returns its dataset id."""
    return store_files(SAMPLE_FILE.name, [(SAMPLE_FILE.name, SAMPLE_FILE.read_bytes())])


def store_files(name: str, files: Iterable[tuple[str, bytes]]) -> str:
    """Stores (file name, bytes) pairs of text files as one corpus; returns its id.

    Raises:
        DataError: if the files are too many or too large, or none holds text.
    """
    documents, notes, total, digest = [], [], 0, hashlib.sha256()
    for file_name, content in sorted(files):
        if not _is_text(file_name):
            continue
        total += len(content)
        if len(documents) >= MAX_FILES or total > MAX_TEXT_BYTES:
            raise DataError(
                f"`{name}` holds more text than this app takes (at most {MAX_FILES:,} "
                f"files and {MAX_TEXT_BYTES / 1e6:.0f} MB). Use a part of it."
            )
        digest.update(f"{file_name}:{len(content)}:".encode())
        digest.update(hashlib.sha256(content).digest())
        text, note = _decode(content, file_name)
        text, dropped = strip_gutenberg(text, file_name)
        documents.append({"name": file_name, "text": text})
        notes += [n for n in (note, dropped) if n]
    if not any(tokenize(d["text"]) for d in documents):
        raise DataError(
            f"`{name}` holds no words to learn from. Upload a .txt file (UTF-8) or a "
            "zip of .txt files."
        )
    return _write(digest.hexdigest()[:16], name, documents, notes)


def _write(dataset_id: str, name: str, documents: list[dict], notes: list[str]) -> str:
    folder = datasets.datasets_root() / dataset_id
    if (folder / datasets.META_FILE).is_file():
        return dataset_id
    folder.mkdir(exist_ok=True)
    (folder / DOCUMENTS_FILE).write_text(json.dumps(documents))
    meta = {
        "name": Path(name).name[:200],
        "kind": KIND,
        "size": sum(len(d["text"]) for d in documents),
        "notes": notes,
        "stored_at": time.time(),
    }
    # Written last: it marks the dataset complete.
    (folder / datasets.META_FILE).write_text(json.dumps(meta))
    return dataset_id


def _is_text(file_name: str) -> bool:
    parts = PurePosixPath(file_name).parts
    hidden = any(p.startswith(".") or p in IGNORED_NAMES for p in parts)
    return not hidden and file_name.lower().endswith(TEXT_SUFFIXES)


def _zip_entries(content: bytes, name: str, read: bool) -> list[tuple[str, bytes]]:
    """The .txt entries of a zip, after the safety check of every entry (`core.archive`)."""
    with archive.open_zip(content, name) as zipped:
        kept = archive.check_zip_entries(zipped.infolist(), name, ZIP_LIMITS)
        texts = [entry for entry, _ in kept if _is_text(entry.filename)]
        return [
            (e.filename, archive.read_entry(zipped, e, name) if read else b"")
            for e in texts
        ]


def _decode(content: bytes, file_name: str) -> tuple[str, str]:
    """Text from bytes: UTF-8 (with or without BOM), else Windows-1252 with a note."""
    try:
        return content.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        note = f"`{file_name}` is not UTF-8; it was read as Windows-1252 (Western)."
        return content.decode("cp1252", errors="replace"), note


def strip_gutenberg(text: str, file_name: str) -> tuple[str, str]:
    """Drops a Project Gutenberg header and footer; returns the text and a note ("")."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if _GUTENBERG_START.match(ln)), None)
    end = next((i for i, ln in enumerate(lines) if _GUTENBERG_END.match(ln)), None)
    first = 0 if start is None else start + 1
    last = len(lines) if end is None or end < first else end
    body, credits = drop_credits(lines[first:last])
    if start is None and end is None and not credits:
        return text, ""
    note = (
        f"`{file_name}` is a Project Gutenberg book: its licence header ({first} lines) "
        f"and footer ({len(lines) - last} lines) were dropped, so the model learns the "
        "book itself."
        if start is not None or end is not None
        else f"`{file_name}` starts with who digitised it; that credit was dropped."
    )
    if credits and start is not None:
        note += f" So was its credit line ({credits} lines, e.g. “Produced by …”)."
    return "\n".join(body), note


def drop_credits(lines: list[str]) -> tuple[list[str], int]:
    """Drops "Produced by …" credit paragraphs near the start; returns lines and count.

    A credit paragraph runs from its first line to the next blank line.
    """
    kept, dropped, skipping = [], 0, False
    for index, line in enumerate(lines):
        if index < _CREDIT_LINES and _CREDIT.match(line):
            skipping = True
        elif skipping and not line.strip():
            skipping = False
        if skipping:
            dropped += 1
        else:
            kept.append(line)
    return kept, dropped


# --- loading and preflight -------------------------------------------------------------


def load_corpus(dataset_id: str) -> Corpus:
    """Loads a stored corpus.

    Raises:
        DataError: if there is no such corpus.
    """
    folder = datasets.datasets_root() / str(dataset_id)
    path = folder / DOCUMENTS_FILE
    if not re.fullmatch(r"[0-9a-f]{16}", str(dataset_id)) or not path.is_file():
        raise DataError(f"There is no stored text `{dataset_id}`. Upload it again.")
    documents = json.loads(path.read_text())
    meta = json.loads((folder / datasets.META_FILE).read_text())
    texts = [d["text"] for d in documents]
    return Corpus(dataset_id, meta.get("name", ""), texts, list(meta.get("notes", [])))


def from_column(frame: pd.DataFrame, column: str, dataset_id: str = "") -> Corpus:
    """A corpus of one document per non-empty cell of a text column (e.g. a search log).

    Raises:
        DataError: if the table has no such column.
    """
    if column not in frame.columns:
        raise DataError(
            f"Invalid value for argument `target`. Expected a text column of the table, "
            f"one of {list(frame.columns)}. Received: target={column!r}"
        )
    cells = frame[column].dropna().astype(str)
    cells = cells[cells.str.strip() != ""]
    note = (
        f"Each of the {len(cells):,} rows of `{column}` is its own text: suggestions "
        "never run from one row into the next."
    )
    return Corpus(dataset_id, column, cells.tolist(), [note], rows=True)


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that hold free text (several words per row on average)."""
    return [c for c in frame.columns if is_text_column(frame[c])]


def is_text_column(column: pd.Series, sample: int = 2000) -> bool:
    """True if the cells are text of two or more words on average (a sample is read)."""
    if column.dtype.kind not in "OSU" and not isinstance(column.dtype, pd.StringDtype):
        return False
    cells = column.dropna().astype(str).head(sample)
    return bool(len(cells)) and cells.str.split().str.len().mean() >= 2


@dataclass(frozen=True)
class Profile:
    """What a corpus holds, counted as the model will read it."""

    n_words: int
    n_distinct: int
    n_documents: int
    vocabulary_size: int
    coverage: float  # share of the words the vocabulary holds
    rare: list[str]  # words seen once
    n_rare: int
    scripts: dict[str, float]  # writing system -> share of letters


def profile(corpus: Corpus, max_vocabulary: int, min_count: int) -> Profile:
    """Counts words, distinct words, vocabulary coverage, rare words and scripts."""
    counts = Counter(w for doc in corpus.tokens() for w in doc)
    kept = [w for w, c in counts.most_common(max_vocabulary) if c >= min_count]
    total = sum(counts.values())
    covered = sum(counts[w] for w in kept)
    rare = [w for w, c in counts.items() if c == 1]
    return Profile(
        n_words=total,
        n_distinct=len(counts),
        n_documents=len(corpus.documents),
        vocabulary_size=len(kept),
        coverage=covered / total if total else 0.0,
        rare=rare[:10],
        n_rare=len(rare),
        scripts=scripts(corpus.documents),
    )


def scripts(documents: list[str], sample_chars: int = 200_000) -> dict[str, float]:
    """Writing systems of the letters (Latin, Cyrillic, CJK, ...), as shares, largest first."""
    counts: Counter[str] = Counter()
    seen = 0
    for document in documents:
        for char in document[: sample_chars - seen]:
            if char.isalpha():
                counts[unicodedata.name(char, "OTHER ?").split()[0]] += 1
        seen += min(len(document), sample_chars - seen)
        if seen >= sample_chars:
            break
    letters = sum(counts.values()) or 1
    return {name.title(): n / letters for name, n in counts.most_common()}


def preflight(corpus: Corpus, max_vocabulary: int, min_count: int) -> list[Finding]:
    """The corpus check in plain words: size, vocabulary, rare words, scripts, notes."""
    found = profile(corpus, max_vocabulary, min_count)
    findings = [Finding("info", note, "") for note in corpus.notes]
    findings.append(_size_finding(found))
    findings.append(
        Finding(
            "info",
            f"{found.n_words:,} words, {found.n_distinct:,} distinct, in "
            f"{found.n_documents:,} {'rows' if corpus.rows else 'documents'}. The "
            f"vocabulary keeps the {found.vocabulary_size:,} words seen at least "
            f"{min_count} times, which cover {found.coverage:.1%} of the text.",
            "Other words are read as 'unknown' and never suggested.",
        )
    )
    if found.n_rare:
        examples = ", ".join(f"`{w}`" for w in found.rare[:5])
        findings.append(
            Finding(
                "info",
                f"{found.n_rare:,} words appear only once (e.g. {examples}).",
                "A word seen once cannot be learned as a suggestion.",
            )
        )
    findings += _script_findings(found.scripts)
    return findings


def _size_finding(found: Profile) -> Finding:
    if found.n_words < MIN_WORDS:
        return Finding(
            "error",
            f"Only {found.n_words:,} words: a next-word model needs at least "
            f"{MIN_WORDS:,}.",
            "Upload more text.",
        )
    if found.n_words < SMALL_WORDS:
        return Finding(
            "warning",
            f"A small corpus ({found.n_words:,} words): expect the model to learn common "
            "phrases of this text, with the right word among 5 suggestions roughly a "
            "third of the time.",
            f"{SMALL_WORDS:,} words or more give better suggestions.",
        )
    size = "A large" if found.n_words >= LARGE_WORDS else "A good-sized"
    return Finding(
        "info", f"{size} corpus ({found.n_words:,} words).", "Training takes longer."
    )


def _script_findings(shares: dict[str, float]) -> list[Finding]:
    if not shares:
        return []
    named = ", ".join(f"{name} {share:.0%}" for name, share in list(shares.items())[:3])
    level = "warning" if len(shares) > 1 and list(shares.values())[1] > 0.05 else "info"
    return [
        Finding(
            level,
            f"Writing systems in the text: {named}.",
            "Several languages in one corpus each get fewer examples to learn from."
            if level == "warning"
            else "",
        )
    ]
