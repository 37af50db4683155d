"""Classify texts (sentiment, spam, language, topic) from a CSV or folders of .txt files.

It stays one module at about 510 lines: the checks, the preflight and `prepare` share
how texts and labels are read (`_labelled`) and the class limits, so a preflight module
would have to import back from the template.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import datasets, table_reading
from core.columns import FEATURE_TYPES, infer_column_types, split_indices, target_task
from core.errors import DataError
from core.findings import Finding
from core.tables.bundle import format_value
from core.templates import checks
from core.templates.base import Prepared, Split, Template
from core.templates.params import Param, dropout_param, training_params
from core.templates.registry import register
from core.text import bundle as text_bundle
from core.text import choices, ingest

MIN_TEXTS = 20
MIN_PER_CLASS = 3
MAX_CLASSES = 100
IMBALANCE_RATIO = 0.5
SHORT_CHARS = 10
_DEFAULTS = {"epochs": 100, "patience": 4, "learning_rate": 0.01}
TEXT_PARAMS = training_params(**_DEFAULTS) + (
    Param(
        "text_column",
        "Text column",
        "",
        help="The column that holds the texts (tables only); empty: the longest "
        "free-text column.",
    ),
    Param(
        "architecture",
        "Network",
        "auto",
        choices=("auto", "words", "characters", "sequence"),
        help="'words': word and word-pair TF-IDF into a small network; 'characters': "
        "letter groups (for languages and scripts); 'sequence': word embeddings and a "
        "convolution (many long texts); 'auto' chooses from the data.",
        advanced=True,
    ),
    Param(
        "vocabulary_size",
        "Vocabulary size",
        60000,
        min_value=100,
        max_value=200_000,
        help="How many different words (or letter groups) the model keeps, the most "
        "frequent first.",
        advanced=True,
    ),
    Param(
        "sequence_length",
        "Sequence length (words)",
        300,
        min_value=10,
        max_value=5000,
        help="'sequence' network only: words read per text; longer texts are cut.",
        advanced=True,
    ),
    dataclasses.replace(
        dropout_param(0.5),
        help="'sequence' network only: share of features switched "
        "off while learning, against overfitting.",
    ),
)


@register
class TextClassification(Template):
    """Tell texts apart: TF-IDF or character n-grams into a small network, in the model."""

    name = "text_classification"
    title = "Classify texts"
    description = (
        "Learns which class a text belongs to from labelled examples, e.g. positive or "
        "negative reviews, spam, or the language a sentence is written in."
    )
    task = "classification"
    data_kind = "text"
    noun = "texts"
    params = TEXT_PARAMS
    bundle_script = "core.text.bundle"
    predict_input = "your_texts.csv"
    metadata_checks = {
        "class_names": (checks.are_classes, "a list of 2 or more distinct class names"),
        "text_column": (checks.is_text, "the name of the text column"),
    }
    limitations = (
        "It knows only the classes it was trained on: any other text still gets one "
        "of them, often with high confidence.",
        "Texts unlike the training ones (another topic, style or language) lower its "
        f"accuracy; texts longer than {ingest.MAX_CHARS:,} characters are cut.",
    )
    usage = (
        "`python predict.py texts.csv -o predictions.csv [--explain]` classifies the text "
        "column of a CSV (or every .txt file of a folder). In Python: "
        "`keras.saving.load_model('model.keras')` takes raw strings shaped (n, 1); see "
        "`predict_proba` in predict.py."
    )

    @property
    def sources(self) -> tuple[str, ...]:
        """A CSV with a text column, or a zip/folder of `.txt` class folders."""
        return ("table", ingest.KIND)

    def store_input(self, path: Path) -> str:
        """Stores a CSV, or a zip or folder of `.txt` class folders."""
        return ingest.store_path(path)

    def load_data(self, dataset_id: str) -> pd.DataFrame:
        """A table as is; a text dataset as the columns `file`, `label`, `text`."""
        if datasets.dataset_kind(dataset_id) == ingest.KIND:
            return ingest.load_texts(dataset_id)
        return datasets.load_table(dataset_id)

    def suggest(self, frame: pd.DataFrame, target: str | None) -> tuple[float, str]:
        """Wins when free text is the only real input; loses on ordinary tables."""
        if (
            target is None
        ):  # a text dataset has no target; a table without one is not ours
            if not {"file", "label", "text"} <= set(frame.columns):
                return 0.0, ""
            counts = frame["label"].value_counts()
            return 0.9, (
                f"{len(frame):,} texts in {len(counts)} classes, so the app learns which "
                "class a text belongs to."
            )
        if target not in frame or target_task(frame, target) != "classification":
            return 0.0, ""
        column = choices.pick_text_column(frame, target)
        if not column:
            return 0.0, ""
        others = _other_features(frame, target, column)
        reason = (
            f"`{column}` holds free text and `{target}` has "
            f"{frame[target].nunique()} classes, so the app learns which class a text "
            "belongs to."
        )
        return (0.8 if len(others) <= 2 else 0.3), reason

    def example_data(self) -> tuple[pd.DataFrame, str]:
        """48 short reviews, good or bad by their words."""
        good = ["great", "lovely", "excellent", "good", "wonderful", "nice"]
        bad = ["awful", "terrible", "bad", "poor", "horrible", "boring"]
        rows = [
            (f"The film was {word} and the actors were {other}.", label)
            for label, words in (("pos", good), ("neg", bad))
            for word in words
            for other in words[:4]
        ]
        return pd.DataFrame(rows, columns=["review", "sentiment"]), "sentiment"

    def notes(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Which column is read and why, the network chosen, then the preflight."""
        column, label = choices.text_and_label(frame, target, params)
        lines = []
        if target is not None and column:
            lines.append(_column_note(frame, target, column, params))
        if column and not self.check(frame, target, params):
            texts, labels = _labelled(frame, column, label)
            lines.append(choices.choose_architecture(texts, labels, label, params)[1])
        return lines + self.preflight(frame, target, params)

    def preflight(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Data-quality findings as plain sentences."""
        column, label = choices.text_and_label(frame, target, params)
        if not column or label not in frame:
            return []
        return [f.message for f in preflight(frame, column, label)]

    def check(
        self, frame: pd.DataFrame, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Needs a text column, 2 to 100 classes with 3+ texts each, 20+ texts."""
        if target is not None and target not in frame:
            return [
                f"Invalid value for argument `target`. Expected one of "
                f"{list(frame.columns)}. Received: target={target!r}"
            ]
        column, label = choices.text_and_label(frame, target, params)
        if not column:
            return [_no_text_message(frame, target, params)]
        texts, labels = _labelled(frame, column, label)
        return _class_problems(labels, label) + _count_problems(texts, column)

    def prepare(
        self,
        frame: pd.DataFrame,
        target: str | None,
        params: Mapping[str, Any],
        seed: int,
    ) -> Prepared:
        """Cleans the texts, splits them (stratified, seeded) and picks the network."""
        column, label = choices.text_and_label(frame, target, params)
        texts, labels = _labelled(frame, column, label)
        class_names = sorted(labels.unique(), key=_natural_key)
        y = labels.map({c: i for i, c in enumerate(class_names)}).to_numpy("int32")
        parts = split_indices(y, params["val_fraction"], params["test_fraction"], seed)
        architecture, why = choices.choose_architecture(texts, labels, label, params)
        raw = pd.DataFrame({"text": texts.to_numpy(), "y": y})
        splits = [
            Split(_string_tensor(raw["text"].iloc[p]), y[p], raw.iloc[p]) for p in parts
        ]
        info = {
            "task": self.task,
            "target": target,
            "text_column": column if target is not None else "text",
            "schema": [
                {"name": column if target is not None else "text", "kind": "text"}
            ],
            "class_names": class_names,
            "architecture": architecture,
            "model_note": why,
            "vocabulary_size": int(params["vocabulary_size"]),
            "sequence_length": int(params["sequence_length"]),
            "n_rows": len(texts),
            "n_train": len(parts[0]),
            "n_val": len(parts[1]),
            "n_test": len(parts[2]),
        }
        return Prepared(*splits, info=info, class_weight=_class_weight(y[parts[0]]))

    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns the compiled end-to-end model: raw strings in, probabilities out."""
        from core.text import model as text_model

        info = prepared.info
        model = text_model.build_text_model(
            prepared.train.raw["text"].tolist(),
            len(info["class_names"]),
            info,
            float(params["dropout"]),
        )
        steps = -(-int(info["n_train"]) // int(params["batch_size"]))
        return text_model.compile_text_model(
            model, float(params["learning_rate"]), steps
        )

    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> dict:
        """Accuracy beside the baseline and the TF-IDF + logistic regression reference."""
        from core.text import report

        return report.text_report(model, prepared, params)

    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Writes five test texts as a CSV under the text column's name."""
        path = folder / "texts.csv"
        column = prepared.info["text_column"]
        pd.DataFrame({column: prepared.test.raw["text"].head(5)}).to_csv(
            path, index=False
        )
        return path

    def predict_file(
        self, model: Any, path: Path, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Classifies the text column of a CSV, one `.txt` file, or a folder of them."""
        frame, column, warnings = read_texts(path, info)
        names = list(info["class_names"])
        proba = text_bundle.predict_proba(model, frame[column].tolist())
        return text_bundle.add_predictions(frame, proba, names), warnings

    def explain_file(
        self, model: Any, path: Path, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Classifies like `predict_file` and adds `why`: the words that weighed most."""
        frame, column, warnings = read_texts(path, info)
        return text_bundle.score(model, frame, column, dict(info), True), warnings


def _string_tensor(texts: pd.Series) -> Any:
    """Texts as the model's input: a string tensor shaped (n, 1) (Keras refuses objects)."""
    import tensorflow as tf

    return tf.constant(texts.to_numpy(object).reshape(-1, 1), dtype=tf.string)


def read_texts(
    path: Path, info: Mapping[str, Any]
) -> tuple[pd.DataFrame, str, list[str]]:
    """Reads texts to classify: a CSV (read the robust way the app reads tables), one
    `.txt` file or a folder of them.

    Raises:
        DataError: if there is nothing to classify.
    """
    wanted = str(info.get("text_column", ""))
    if path.is_dir() or path.suffix.lower() == ".txt":
        frame, column = text_bundle.read_input(path)
        warnings = []
    else:
        frame = table_reading.read_csv_bytes(path.read_bytes(), path.name)
        column = text_bundle.find_text_column(frame, wanted)
        warnings = (
            []
            if column == wanted
            else [
                f"There is no column `{wanted}`, so the texts were read from `{column}`."
            ]
        )
    if frame.empty:
        raise DataError(f"`{path.name}` holds no texts to classify.")
    return frame, column, warnings


def _other_features(frame: pd.DataFrame, target: str, column: str) -> list[str]:
    column_types = infer_column_types(frame)
    return [
        c
        for c in frame.columns
        if c not in (target, column)
        and column_types[c] in FEATURE_TYPES
        and frame[c].nunique(dropna=False) > 1
    ]


def _column_note(
    frame: pd.DataFrame, target: str, column: str, params: Mapping[str, Any]
) -> str:
    how = "as chosen" if params.get("text_column") else "the longest free-text column"
    ignored = [c for c in frame.columns if c not in (target, column)]
    rest = (
        f"; the other columns ({', '.join(map(str, ignored))}) are not used"
        if ignored
        else ""
    )
    return f"Reads the texts in `{column}` ({how}){rest}."


def _no_text_message(frame: pd.DataFrame, target: str | None, params: Mapping) -> str:
    chosen = str(params.get("text_column") or "")
    if chosen:
        return (
            f"Invalid value for argument `text_column`. Expected one of "
            f"{[c for c in frame.columns if c != target]}. Received: text_column={chosen!r}"
        )
    if target is None:
        return "The data set holds no texts; upload a zip with a folder of .txt files per class."
    return (
        f"No column besides `{target}` holds free text (words, sentences); this "
        "template needs one. Use 'Classify rows of a table' for this data."
    )


def _labelled(
    frame: pd.DataFrame, column: str, label: str
) -> tuple[pd.Series, pd.Series]:
    """Cleaned non-empty texts and their labels, rows without either left out."""
    texts = frame[column].map(text_bundle.clean_text)
    labels = frame[label].map(format_value)
    kept = (texts != "") & (labels != "")
    return texts[kept].reset_index(drop=True), labels[kept].reset_index(drop=True)


def _class_problems(labels: pd.Series, label: str) -> list[str]:
    counts = labels.value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "none"
        return [
            f"`{label}` has only one class ({only!r}); a model needs texts of at least "
            "two classes to learn to tell them apart."
        ]
    if len(counts) > MAX_CLASSES:
        return [
            f"`{label}` has {len(counts)} different values, too many to be classes (the "
            f"limit is {MAX_CLASSES}). Pick the column with the labels."
        ]
    rare = [str(c) for c in counts.index[counts < MIN_PER_CLASS]]
    if rare:
        return [
            f"Classes {rare} have fewer than {MIN_PER_CLASS} texts; each class needs at "
            "least 3 (to train, to decide when to stop and to test). Add texts or "
            "remove those rows."
        ]
    return []


def _count_problems(texts: pd.Series, column: str) -> list[str]:
    if len(texts) < MIN_TEXTS:
        return [
            f"Only {len(texts)} rows have a text in `{column}` and a label; at least "
            f"{MIN_TEXTS} are needed to train and then test a model."
        ]
    return []


def preflight(frame: pd.DataFrame, column: str, label: str) -> list[Finding]:
    """Texts per class, imbalance, empty/duplicate/short texts, scripts, typical length."""
    raw = frame[column].fillna("").astype(str)
    texts, labels = _labelled(frame, column, label)
    findings = _size_findings(texts, labels) + _duplicate_findings(texts, labels)
    empty = int((raw.str.strip() == "").sum())
    if empty:
        findings.append(
            Finding("warning", f"{empty} texts are empty.", "They are left out.")
        )
    short = int((texts.str.len() < SHORT_CHARS).sum())
    if short:
        findings.append(
            Finding(
                "info",
                f"{short} texts are very short (under {SHORT_CHARS} characters).",
                "Short texts give the model little to go on.",
            )
        )
    long = int((raw.str.len() > ingest.MAX_CHARS).sum())
    if long:
        findings.append(
            Finding(
                "info",
                f"{long} texts are longer than {ingest.MAX_CHARS:,} characters.",
                "Only their first part is read.",
            )
        )
    findings += [Finding("info", note, "") for note in frame.attrs.get("notes", [])]
    return findings


def _size_findings(texts: pd.Series, labels: pd.Series) -> list[Finding]:
    counts = labels.value_counts()
    shown = ", ".join(f"{k}: {v:,}" for k, v in counts.head(8).items())
    more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
    words = texts.str.count(" ") + 1
    scripts = choices.scripts_present(texts)
    findings = [
        Finding(
            "info",
            f"{len(texts):,} texts in {len(counts)} classes ({shown}{more}).",
            "",
        ),
        Finding(
            "info",
            f"A typical text has {int(words.median())} words "
            f"({int(texts.str.len().median())} characters); written in "
            f"{', '.join(scripts) or 'no letters'}.",
            "",
        ),
    ]
    if len(counts) >= 2 and counts.iloc[-1] / counts.iloc[0] < IMBALANCE_RATIO:
        findings.append(
            Finding(
                "warning",
                f"Classes are imbalanced: `{counts.index[-1]}` has {counts.iloc[-1]:,} "
                f"texts, `{counts.index[0]}` has {counts.iloc[0]:,}.",
                "The app weights the rare classes up; judge the model by per-class recall.",
            )
        )
    return findings


def _duplicate_findings(texts: pd.Series, labels: pd.Series) -> list[Finding]:
    key = texts.str.lower()
    copies = key[key.duplicated(keep=False)]
    if copies.empty:
        return []
    classes = labels[copies.index].groupby(copies).nunique()
    across = classes[classes > 1]
    findings = [
        Finding(
            "warning",
            f"{int(key.duplicated().sum())} texts are exact copies of others.",
            "A copy in both training and test makes the score look better than it is.",
        )
    ]
    if len(across):
        findings.insert(
            0,
            Finding(
                "warning",
                f"{len(across)} texts appear with different labels (e.g. "
                f"{str(across.index[0])[:80]!r}): likely labelling mistakes.",
                "A text can only have one right answer; fix or remove those rows.",
            ),
        )
    return findings


def _class_weight(y_train: np.ndarray) -> dict[int, float] | None:
    """Square root of 'balanced' weights when the rarest class is under half the largest."""
    counts = np.bincount(y_train)
    if counts.min() / counts.max() >= IMBALANCE_RATIO:
        return None
    weights = np.sqrt(len(y_train) / (len(counts) * np.maximum(counts, 1)))
    return {int(c): float(w) for c, w in enumerate(weights)}


def _natural_key(name: str) -> tuple:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)
