"""Predict a number (e.g. a car's fuel economy) from the other columns of a table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.tables.template import TableTemplate, example_rows
from core.templates import checks
from core.templates.registry import register


@register
class TabularRegression(TableTemplate):
    """Regress one numeric column; the network learns it standardized, outputs its scale."""

    name = "tabular_regression"
    title = "Predict a number from a table"
    description = (
        "Learns to estimate a quantity from the other columns, e.g. a price, a "
        "consumption, a duration or a risk score."
    )
    task = "regression"
    metadata_checks = {
        **TableTemplate.metadata_checks,
        "target_mean": (checks.is_number, "a number"),
        "target_std": (checks.is_number, "a number"),
    }

    def suggest_reason(self, target: pd.Series) -> str:
        """Many different numbers: a quantity to estimate."""
        return (
            f"`{target.name}` holds numbers with {target.nunique()} different values, "
            "so the app predicts a number (regression)."
        )

    def example_data(self) -> tuple[pd.DataFrame, str]:
        """40 rows: two numbers (one with gaps), a category and `y` = 3x + noise."""
        frame = example_rows()
        noise = np.random.default_rng(1).normal(scale=0.1, size=len(frame))
        frame["y"] = 3 * frame["x"] + noise
        return frame, "y"

    def check_target(self, target: pd.Series, column_type: str) -> list[str]:
        """Needs a numeric, non-constant target."""
        if not pd.api.types.is_numeric_dtype(target):
            return [
                f"`{target.name}` holds words, not numbers; use 'Classify rows of a "
                "table' (tabular_classification) to predict categories."
            ]
        too_large = np.abs(target.to_numpy("float64")) > np.finfo("float32").max
        if too_large.any():
            rows = ", ".join(str(i + 1) for i in target.index[too_large][:5])
            return [
                f"`{target.name}` holds an infinite or too large number in row(s) "
                f"{rows}; a model cannot learn from it. Fix those values or remove "
                "the rows."
            ]
        if target.nunique() < 2:
            return [
                f"`{target.name}` has the same value in every row; there is nothing "
                "to predict."
            ]
        return []

    def encode_target(self, target: pd.Series) -> tuple[np.ndarray, dict[str, Any]]:
        """Keeps the numbers; records their mean and spread for the output layer."""
        values = target.to_numpy("float32")
        return values, {
            "target_mean": float(values.mean()),
            "target_std": float(values.std()) or 1.0,
        }

    def head(self, body: Any, info: Mapping[str, Any]) -> Any:
        """One number on the target's own scale."""
        from core.tables.model import regression_head

        return regression_head(body, info["target_mean"], info["target_std"])
