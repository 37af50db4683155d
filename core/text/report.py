"""The text test report: scores beside the baseline and the TF-IDF + logistic regression
reference, per-class scores, confusion matrix with the misclassified texts, top words."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core import evaluation, metrics
from core.templates.base import Prepared
from core.text import bundle as text_bundle

REFERENCE_TEXT = "a TF-IDF + logistic regression model"
REFERENCE_C = (
    0.25,
    1.0,
    4.0,
    16.0,
)  # the regularisations the validation texts pick from
MAX_LISTED_PER_CELL = 40
SHOWN_CHARS = 600  # a listed text is cut here in the report (the model saw it whole)
PROBE_TERMS = 3000
TOP_TERMS = 12


def text_report(
    model: Any, prepared: Prepared, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON-ready test report of a trained text classifier.

    Args:
        model: the trained end-to-end model (raw strings in).
        prepared: the run's splits; `raw` holds `text` and the class index `y`.
        params: the run's settings (`seed`).
    """
    info, train, test = prepared.info, prepared.train, prepared.test
    names, seed = list(info["class_names"]), int(params["seed"])
    y_true = np.asarray(test.targets)
    proba = text_bundle.predict_proba(model, test.raw["text"].tolist())
    majority = int(np.bincount(train.targets, minlength=len(names)).argmax())
    baseline = np.zeros_like(proba)
    baseline[:, majority] = 1.0
    val = prepared.val
    reference, seconds = fit_reference(
        train.raw["text"].tolist(),
        train.targets,
        info["architecture"],
        seed,
        validation=(val.raw["text"].tolist(), np.asarray(val.targets)),
    )
    ref_proba = _full_proba(reference, test.raw["text"].tolist(), len(names))
    y_pred = proba.argmax(axis=1)
    answers = {"ours": proba, "base": baseline, "ref": ref_proba}
    right = {k: (p.argmax(axis=1) == y_true).astype(float) for k, p in answers.items()}
    report = {
        "task": "classification",
        "data_kind": "text",
        **evaluation.judged(
            right,
            metric="accuracy",
            baseline_text=f"always answering the most common class (`{names[majority]}`)",
            reference_text=REFERENCE_TEXT,
            rows="test texts",
            seed=seed,
        ),
        "metrics": metrics.classification_metrics(y_true, proba),
        "baseline": metrics.classification_metrics(y_true, baseline),
        "baseline_answer": names[majority],
        "reference": metrics.classification_metrics(y_true, ref_proba),
        "reference_fit_seconds": seconds,
        "class_names": names,
        "confusion_matrix": _confusion(y_true, y_pred, len(names)),
        "per_class": metrics.per_class(y_true, y_pred, names),
        "curves": metrics.curves(y_true, proba, names),
        "misclassified": misclassified(test.raw, proba, names),
        "top_terms": top_terms(model, train.raw["text"], info, names),
        "text_column": info["text_column"],
        "architecture": info["architecture"],
        "model_note": info["model_note"],
        "n_test": len(y_true),
    }
    report["summary"] = summarize(report)
    return report


def fit_reference(
    texts: list[str],
    y: np.ndarray,
    architecture: str,
    seed: int,
    validation: tuple[list[str], np.ndarray] | None = None,
) -> tuple[Any, float]:
    """scikit-learn's TF-IDF + logistic regression on the same training texts.

    Word uni- and bigrams, or character 1- to 3-grams when the model reads characters,
    so each side sees the same kind of features. Its regularisation `C` is the one of
    `REFERENCE_C` most accurate on the validation texts (the test texts are never
    looked at); without validation texts, C=1. One thread, as the tables' reference.

    Args:
        texts: the training texts.
        y: their class indices.
        architecture: the run's architecture ("characters" or a word model).
        seed: the run's seed.
        validation: the validation texts and their class indices, if any.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    with threadpool_limits(1):
        best_c = _best_c(texts, y, architecture, seed, validation)
        pipeline = make_pipeline(
            _vectorizer(architecture),
            LogisticRegression(C=best_c, max_iter=1000, random_state=seed),
        ).fit(texts, y)
    return pipeline, time.perf_counter() - started


def _vectorizer(architecture: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if architecture == "characters":
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)


def _best_c(
    texts: list[str],
    y: np.ndarray,
    architecture: str,
    seed: int,
    validation: tuple[list[str], np.ndarray] | None,
) -> float:
    """The `C` of `REFERENCE_C` most accurate on the validation texts (first on ties)."""
    from sklearn.linear_model import LogisticRegression

    if validation is None or len(validation[1]) == 0:
        return 1.0
    vectorizer = _vectorizer(architecture)
    features = vectorizer.fit_transform(texts)
    val_features = vectorizer.transform(validation[0])
    scores = [
        LogisticRegression(C=c, max_iter=1000, random_state=seed)
        .fit(features, y)
        .score(val_features, validation[1])
        for c in REFERENCE_C
    ]
    return REFERENCE_C[int(np.argmax(scores))]


def _full_proba(reference: Any, texts: list[str], n_classes: int) -> np.ndarray:
    full = np.zeros((len(texts), n_classes))
    full[:, reference.classes_.astype(int)] = reference.predict_proba(texts)
    return full


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> list[list[int]]:
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix.tolist()


def misclassified(
    raw: pd.DataFrame, proba: np.ndarray, names: list[str]
) -> dict[str, list[dict]]:
    """Wrong answers per confusion-matrix cell ("actual → predicted"), surest first."""
    cells: dict[str, list[dict]] = {}
    order = np.argsort(-proba.max(axis=1))
    for index in order:
        actual, predicted = int(raw["y"].iloc[index]), int(proba[index].argmax())
        if actual == predicted:
            continue
        listed = cells.setdefault(f"{names[actual]} → {names[predicted]}", [])
        if len(listed) < MAX_LISTED_PER_CELL:
            listed.append(
                {
                    "text": str(raw["text"].iloc[index])[:SHOWN_CHARS],
                    "actual": names[actual],
                    "predicted": names[predicted],
                    "probabilities": {
                        n: round(float(p), 4)
                        for n, p in zip(names, proba[index], strict=True)
                    },
                }
            )
    return cells


def top_terms(
    model: Any, texts: pd.Series, info: Mapping[str, Any], names: list[str]
) -> dict[str, list[dict]]:
    """The words (or n-grams) the model ties most to each class.

    Each of the most frequent training words and word pairs is given to the model as a
    text on its own; a class's top terms are those it then answers with most surely.
    """
    probes = _probe_terms(texts, info["architecture"] == "words")
    if not probes:
        return {name: [] for name in names}
    proba = text_bundle.predict_proba(model, probes)
    best = proba.argmax(axis=1)
    terms = {}
    for index, name in enumerate(names):
        mine = np.flatnonzero(best == index)
        ranked = mine[np.argsort(-proba[mine, index])][:TOP_TERMS]
        terms[name] = [
            {"term": probes[i], "probability": round(float(proba[i, index]), 4)}
            for i in ranked
        ]
    return terms


def _probe_terms(texts: pd.Series, with_pairs: bool) -> list[str]:
    """The most frequent lower-cased words (and adjacent word pairs) of the texts."""
    counts: Counter[str] = Counter()
    for text in texts:
        words = [w.strip(".,;:!?\"'()[]") for w in str(text).lower().split()]
        words = [w for w in words if w and len(w) <= 30]
        counts.update(words)
        if with_pairs:
            counts.update(" ".join(p) for p in zip(words, words[1:], strict=False))
    return [term for term, count in counts.most_common(PROBE_TERMS) if count >= 2]


def summarize(report: Mapping[str, Any]) -> list[str]:
    """Plain sentences: the verdict, the reference, the weakest class, the model chosen."""
    lines = [report["verdict"]["sentence"], report["reference_comparison"]["sentence"]]
    weakest = min(report["per_class"], key=lambda c: c["recall"])
    if weakest["support"] and weakest["recall"] < 1:
        lines.append(
            f"It recognises `{weakest['class']}` least well: {weakest['recall']:.0%} of "
            "those test texts were found (recall)."
        )
    lines.append(report["model_note"])
    return lines
