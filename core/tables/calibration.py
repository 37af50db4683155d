"""Calibrating a yes/no table model's probabilities on the validation rows (Platt scaling)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.tables.bundle import predict_outputs
from core.templates.base import Prepared

EPSILON = 1e-7


def platt_fold(model: Any, prepared: Prepared) -> tuple[float, float] | None:
    """Fits p = sigmoid(a * log-odds + b) on the validation rows and folds it into the model.

    The softmax layer `probabilities` computes logits z = x W + c; scaling W and c by
    `a` and adding `b` to the second class's bias gives exactly the calibrated
    probability, so no layer is added and the model still loads without custom code.

    Returns:
        `(a, b)` when applied; None when the validation rows hold one class only or
        the fit would reverse the ranking (a <= 0).
    """
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(prepared.val.targets)
    if len(np.unique(labels)) < 2:
        return None
    proba = predict_outputs(model, prepared.val.raw, prepared.info["schema"])
    clipped = np.clip(proba, EPSILON, 1.0)
    log_odds = (np.log(clipped[:, 1]) - np.log(clipped[:, 0])).reshape(-1, 1)
    fit = LogisticRegression(C=1e4).fit(log_odds, labels)
    scale, shift = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    if not (np.isfinite(scale) and np.isfinite(shift) and scale > 0):
        return None
    layer = model.get_layer("probabilities")
    kernel, bias = layer.get_weights()
    layer.set_weights(
        [kernel * scale, bias * scale + np.array([0.0, shift], bias.dtype)]
    )
    return scale, shift
