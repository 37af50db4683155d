"""Plain words for every score a report holds, and for the charts that need a word.

One sentence per metric key, written for a person without a background in machine
learning; the scores tables list the ones they show under "What these scores mean".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import streamlit as st

from pages.ui.text import plain

LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "f1": "F1 score",
    "roc_auc": "ROC AUC",
    "average_precision": "Average precision (PR AUC)",
    "recall_at_1pct_false_alarms": "Recall at 1% false alarms",
    "precision_at_top_5pct": "Precision in the top 5% of scores",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "r2": "R² (share of variance explained)",
    "mase": "MASE (error / naive one-step error)",
    "top1_accuracy": "Right word as the first suggestion",
    "top5_accuracy": "Right word among the 5 suggestions",
    "perplexity": "Perplexity (lower is better)",
    "flagged_share": "Flagged share",
    "alerts_per_1000": "Alerts per 1,000 rows",
    "precision": "Precision",
    "recall": "Recall",
    "brier": "Brier score",
    "ece": "Calibration error",
}
MEANINGS = {
    "accuracy": "The share of test rows the model got right (higher is better).",
    "balanced_accuracy": "Accuracy worked out for each answer on its own, then averaged, "
    "so a rare answer counts as much as a common one (higher is better).",
    "f1": "One number that balances how many of the model's flags are right with how "
    "many of the real cases it finds; 1 is perfect, 0 is useless.",
    "roc_auc": "The chance that the model scores a random positive case above a random "
    "negative one: 0.5 is a coin toss, 1 is perfect ranking.",
    "average_precision": "How clean the model's flags are, averaged over every "
    "threshold you could pick; for a rare class it says more than accuracy, and a "
    "random score gets about the share of positive cases (higher is better).",
    "recall_at_1pct_false_alarms": "The share of the real cases the model catches when "
    "it may wrongly flag at most 1 in 100 of the other rows (higher is better).",
    "precision_at_top_5pct": "Of the 5% of rows the model is most sure about, the share "
    "that really are positive (higher is better).",
    "mae": "How far off a prediction is on average, in the target's own units (lower "
    "is better).",
    "rmse": "Like the mean absolute error, but large misses count extra; in the "
    "target's own units (lower is better).",
    "r2": "How much of the ups and downs of the target the model explains: 1 is "
    "perfect, 0 is no better than always predicting the average.",
    "mase": "The model's average error divided by that of simply repeating the last "
    "value; below 1 beats that simple rule.",
    "top1_accuracy": "How often the model's first guess for the next word is the word "
    "that really comes next (higher is better).",
    "top5_accuracy": "How often the real next word is among the model's 5 suggestions "
    "(higher is better).",
    "perplexity": "Roughly how many words the model is torn between at each step: "
    "lower means it is surer and more often right.",
    "flagged_share": "The share of rows flagged as unusual at the chosen threshold.",
    "alerts_per_1000": "How many rows in every 1,000 get flagged at the chosen "
    "threshold: the work of checking the alerts.",
    "precision": "Of the rows the model flags, the share that really are positive "
    "(higher is better).",
    "recall": "Of the rows that really are positive, the share the model flags "
    "(higher is better).",
    "brier": "The average squared gap between the predicted probability and what "
    "happened (1 or 0): 0 is perfect, lower is better.",
    "ece": "How far the predicted probabilities are from how often things really "
    "happen, on average: 0 means a 30% score comes true 30% of the time.",
}
NOTES = {
    "interval": "“Likely X–Y” is the range the score would probably fall in on other "
    "test rows like these: it comes from re-scoring many random resamples of the "
    "test rows (a bootstrap). A narrow range means the score is solid.",
    "importance": "Each bar is how much worse the model scores when that column's "
    "values are shuffled. A long bar: the model leans on that column. A bar near zero "
    "or below zero (shuffling made it better): the column does not help.",
    "curves": "ROC curve: the share of real cases caught against the share of other "
    "rows wrongly flagged, as the threshold moves; the higher and further left, the "
    "better (the diagonal is guessing). Precision-recall curve: how clean the flags "
    "stay as more real cases are caught; higher is better.",
    "reliability": "On the diagonal, a row given 0.3 is positive about 3 times in 10. "
    "The Brier score is the average squared gap between the probability and what "
    "happened: 0 is perfect.",
}


def meaning(key: str) -> str | None:
    """The plain sentence for the metric `key`, or None for one without an entry."""
    return MEANINGS.get(key)


def show_meanings(keys: Iterable[str], labels: Mapping[str, str] = LABELS) -> None:
    """An expander "What these scores mean": one line per shown metric with an entry.

    Args:
        keys: the metric keys the table shows, in its order.
        labels: the names the table gives them (by default `LABELS`).
    """
    lines = [
        f"- **{plain(labels.get(key, LABELS.get(key, key)))}**: {MEANINGS[key]}"
        for key in dict.fromkeys(keys)
        if key in MEANINGS
    ]
    if lines:
        with st.expander("What these scores mean"):
            st.markdown("\n".join(lines))
