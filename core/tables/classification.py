"""Predict which class a row belongs to (e.g. heart-disease risk) from the other columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core import decision
from core.tables.bundle import format_value
from core.tables.preflight import headline_metric
from core.tables.template import TableTemplate, example_rows
from core.templates import checks
from core.templates.base import Prepared
from core.templates.registry import register

MAX_CLASSES = 50
IMBALANCE_RATIO = 0.5
DEFAULT_THRESHOLD = 0.5


@register
class TabularClassification(TableTemplate):
    """Classify rows of a table: one softmax over the target's classes."""

    name = "tabular_classification"
    title = "Classify rows of a table"
    description = (
        "Learns to tell which category a row belongs to, e.g. whether a patient is at "
        "risk, a customer will leave, or a transaction is fraud."
    )
    task = "classification"
    metadata_checks = {
        **TableTemplate.metadata_checks,
        "class_names": (checks.are_classes, "a list of 2 or more distinct class names"),
    }

    def suggest_reason(self, target: pd.Series) -> str:
        """Few distinct values: each row belongs to one of them."""
        return (
            f"`{target.name}` has {target.nunique()} distinct values, so the app "
            "predicts which one applies to each row (classification)."
        )

    def example_data(self) -> tuple[pd.DataFrame, str]:
        """40 rows: two numbers (one with gaps), a category and a yes/no target."""
        frame = example_rows()
        frame["label"] = np.where(frame["x"] > 0, "yes", "no")
        return frame, "label"

    def check_target(self, target: pd.Series, column_type: str) -> list[str]:
        """Needs 2 to 50 classes, each with at least 2 rows; free text is refused."""
        name, counts = target.name, target.map(format_value).value_counts()
        if column_type == "text":
            return [
                f"`{name}` holds free text, not a few categories; pick a column with "
                "labels such as yes/no or low/medium/high."
            ]
        if len(counts) < 2:
            return [
                f"`{name}` has only one class ({counts.index[0]!r}); a model needs "
                "at least two different values to learn to tell them apart."
            ]
        if len(counts) > MAX_CLASSES:
            hint = (
                " It holds numbers: use 'Predict a number' (tabular_regression)."
                if pd.api.types.is_numeric_dtype(target)
                else ""
            )
            return [
                f"`{name}` has {len(counts)} different values, too many to be classes "
                f"(the limit is {MAX_CLASSES}).{hint}"
            ]
        rare = list(counts.index[counts < 2])
        if rare:
            return [
                f"Classes {rare} of `{name}` have a single row; each class needs at "
                "least 2 examples. Add rows or remove those rows."
            ]
        return []

    def encode_target(self, target: pd.Series) -> tuple[np.ndarray, dict[str, Any]]:
        """Maps each class to its index in the sorted class names.

        Also records the metric the data check recommends for these classes
        (`headline_metric`), which the report leads with.
        """
        labels = target.map(format_value)
        class_names = sorted(labels.unique(), key=_natural_key)
        index = {name: i for i, name in enumerate(class_names)}
        found: dict[str, Any] = {
            "class_names": class_names,
            "headline_metric": headline_metric(labels),
        }
        if len(class_names) == 2:
            found["decision"] = _yes_no_decision(labels, class_names, str(target.name))
        return labels.map(index).to_numpy("int32"), found

    def calibrate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> None:
        """Yes/no runs: Platt scaling on the validation rows, folded into the last layer.

        Class weights make the rare class look likelier than it is; a logistic fit of
        the validation labels on the model's log-odds rescales them, so a probability
        of 0.3 means about 3 in 10. The fit is written into the softmax layer's own
        weights (no extra layer), so the saved model still takes raw rows.
        """
        if len(prepared.info["class_names"]) != 2:
            return
        from core.tables.calibration import platt_fold

        found = platt_fold(model, prepared)
        if found:  # saved with the info; the report undoes it to compare before/after
            prepared.info["calibration"] = {"scale": found[0], "shift": found[1]}

    def class_weight(self, y_train: np.ndarray) -> dict[int, float] | None:
        """Softened weights when the rarest class has under half the rows of the largest.

        Each class gets the square root of its 'balanced' weight: rare classes still
        count more, but not so much that the model gives up accuracy on the common ones
        (fully balanced weights cost 2 accuracy points on UCI heart disease and 14 on
        Seattle weather in `bench/tables.py`).
        """
        counts = np.bincount(y_train)
        if counts.min() / counts.max() >= IMBALANCE_RATIO:
            return None
        from sklearn.utils.class_weight import compute_class_weight

        classes = np.arange(len(counts))
        weights = np.sqrt(compute_class_weight("balanced", classes=classes, y=y_train))
        return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}

    def metadata_conflict(self, metadata: Mapping[str, Any]) -> tuple[str, str] | None:
        """A yes/no decision, if any, needs a number threshold and a class name.

        A class name that is not one of the classes (edited since) is allowed: the
        predictions then ignore the threshold (see `bundle.predicted_classes`).
        """
        found = metadata.get("decision")
        if (
            found is None
            or len(metadata["class_names"]) != 2
            or (
                isinstance(found, dict)
                and checks.is_number(found.get("threshold"))
                and checks.is_text(found.get("positive_label"))
            )
        ):
            return None
        return (
            "decision",
            "an object with a number `threshold` and a `positive_label` class name",
        )

    def head(self, body: Any, info: Mapping[str, Any]) -> Any:
        """Softmax over the classes."""
        from core.tables.model import classification_head

        return classification_head(body, len(info["class_names"]))


def _yes_no_decision(
    labels: pd.Series, class_names: list[str], target: str
) -> dict[str, Any]:
    """The default decision of a yes/no run: the rarer class is the one to flag."""
    counts = labels.value_counts()
    rarer = counts[class_names[0]] < counts[class_names[1]]
    positive = class_names[0] if rarer else class_names[1]
    return decision.initial_decision(
        DEFAULT_THRESHOLD, positive, f"probability that {target} is {positive}"
    )


def _natural_key(name: str) -> tuple:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)
