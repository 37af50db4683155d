"""Parameters as data: `Param`, the training knobs, and checking the values a run is given.

A template declares its knobs as `Param`s (STYLE §3.3) and one generic form renders
them; `resolve_params` turns a run's settings (the form, spec.json, `--param`) into
checked values.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core import fixes, workspace
from core.columns import COLUMN_TYPES
from core.errors import DataError


@dataclass(frozen=True)
class Param:
    """One user-tunable knob, rendered generically by `pages/ui/forms.param_form`.

    `file_suffixes`, when given, makes the value a path to a file in the Keras cache or
    the workspace with one of these endings.
    """

    name: str
    label: str
    default: int | float | str | bool
    choices: tuple[int | float | str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    help: str = ""
    advanced: bool = False
    file_suffixes: tuple[str, ...] = ()


class Tunable(Protocol):
    """What `resolve_params` needs of a template: its declared knobs."""

    params: tuple[Param, ...]


TRAINING_PARAMS = (
    Param(
        "epochs",
        "Maximum epochs",
        200,
        min_value=1,
        max_value=5000,
        help="Passes over the training data; training stops earlier when it stops improving.",
    ),
    Param(
        "time_budget_s",
        "Time budget (seconds, 0 = none)",
        0,
        min_value=0,
        max_value=86400,
        help="Stop after this many seconds and keep the best model so far.",
        advanced=True,
    ),
    Param(
        "batch_size",
        "Batch size",
        32,
        choices=(8, 16, 32, 64, 128, 256, 512),
        help="Rows the model looks at per step.",
        advanced=True,
    ),
    Param(
        "learning_rate",
        "Learning rate",
        0.001,
        min_value=1e-6,
        max_value=1.0,
        help="How big each learning step is; lower it if training diverges.",
        advanced=True,
    ),
    Param(
        "patience",
        "Patience (epochs)",
        20,
        min_value=1,
        max_value=5000,  # as many as the epochs: no early stopping
        help="Stop after this many epochs without improvement.",
        advanced=True,
    ),
    Param(
        "val_fraction",
        "Validation share",
        0.2,
        min_value=0.05,
        max_value=0.5,
        help="Share of rows used to decide when to stop.",
        advanced=True,
    ),
    Param(
        "test_fraction",
        "Test share",
        0.2,
        min_value=0.05,
        max_value=0.5,
        help="Share of rows kept aside to measure the final model honestly.",
        advanced=True,
    ),
    Param(
        "seed",
        "Random seed",
        1337,
        min_value=0,
        max_value=2**31 - 1,
        help="The same seed gives the same split and the same model.",
        advanced=True,
    ),
)


def training_params(**defaults: int | float) -> tuple[Param, ...]:
    """The training knobs (`TRAINING_PARAMS`) with some of their defaults replaced.

    Args:
        **defaults: the new default of each knob to change, e.g. `epochs=100`.

    Returns:
        Every training knob, in order, each with its new default if one is given.

    Raises:
        ValueError: if a name is not one of the training knobs.
    """
    names = [p.name for p in TRAINING_PARAMS]
    for name, value in defaults.items():
        if name not in names:
            raise ValueError(
                f"Invalid argument `{name}`. Expected one of {names}. "
                f"Received: {name}={value!r}"
            )
    return tuple(
        dataclasses.replace(p, default=defaults[p.name]) if p.name in defaults else p
        for p in TRAINING_PARAMS
    )


def dropout_param(default: float) -> Param:
    """The dropout knob every template offers, with its own default."""
    return Param(
        "dropout",
        "Dropout",
        default,
        min_value=0.0,
        max_value=0.9,
        help="Share of features switched off while learning, against overfitting.",
        advanced=True,
    )


def resolve_params(
    template: Tunable, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Returns the template's defaults updated with `overrides`, checked against each Param.

    Args:
        template: the template whose `params` declare the knobs.
        overrides: the values given for the run, by name; `column_kinds` (the column
            types the user chose) is accepted besides the declared knobs, and so is
            `fixes` (the data check's fixes, `core.fixes`) where the template
            applies them (its `applies_fixes`).

    Raises:
        DataError: if an override is unknown, of the wrong type, not finite, out of
            range, or a path outside the Keras cache and the workspace.
    """
    declared = {p.name: p for p in template.params}
    params = {name: p.default for name, p in declared.items()}
    for name, value in (overrides or {}).items():
        if name == "column_kinds":
            params[name] = _check_column_types(value)
            continue
        if name == "fixes":
            params[name] = _check_fixes(template, value)
            continue
        if name not in declared:
            raise DataError(
                f"Unknown parameter `{name}`. Expected one of {sorted(declared)}."
            )
        params[name] = _check_param(declared[name], value)
    return params


def _check_column_types(value: Any) -> dict[str, str]:
    """`column_kinds` must map column names to column types (columns are checked later)."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and v in COLUMN_TYPES for k, v in value.items()
    ):
        raise DataError(
            "Invalid value for argument `column_kinds`. Expected a mapping of column "
            f"names to one of {list(COLUMN_TYPES)}, e.g. "
            '\'{"zip": "category"}\'. '
            f"Received: column_kinds={value!r}"
        )
    return dict(value)


def _check_fixes(template: Tunable, value: Any) -> list[dict[str, str]]:
    """`fixes` are for templates that apply them; none given is always fine."""
    found = fixes.check_fixes(value)
    if found and not getattr(template, "applies_fixes", False):
        title = getattr(template, "title", "") or "This template"
        raise DataError(
            f"{title} does not apply the data check's fixes (leave a column out, "
            "treat zeros as missing); change the column types instead, or choose a "
            "table template."
        )
    return found


def _check_param(param: Param, value: Any) -> Any:
    expected = type(param.default)
    value = _convert(param, expected, value)
    if expected is float and not math.isfinite(value):
        raise DataError(
            f"Invalid value for argument `{param.name}`. Expected a finite number. "
            f"Received: {param.name}={value!r}"
        )
    if param.choices and value not in param.choices:
        raise DataError(
            f"Invalid value for argument `{param.name}`. Expected one of "
            f"{list(param.choices)}. Received: {param.name}={value!r}"
        )
    low, high = param.min_value, param.max_value
    if expected in (int, float) and (
        (low is not None and value < low) or (high is not None and value > high)
    ):
        raise DataError(
            f"Invalid value for argument `{param.name}`. Expected a value "
            f"between {low} and {high}. Received: {param.name}={value!r}"
        )
    if param.file_suffixes and value:
        _check_file(param, value)
    return value


_BOOLS = {True: True, False: False, "true": True, "false": False}
_TYPE_NAMES = {
    int: "a whole number",
    float: "a number",
    str: "text",
    bool: "true or false",
}


def _convert(param: Param, expected: type, value: Any) -> Any:
    """Converts `value` to the Param's type; booleans accept only true/false."""
    try:
        if expected is bool:
            return _BOOLS[value.lower() if isinstance(value, str) else value]
        if expected is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return expected(value)
    except (TypeError, ValueError, OverflowError, KeyError):
        raise DataError(
            f"Invalid value for argument `{param.name}`. Expected "
            f"{_TYPE_NAMES[expected]}. Received: {param.name}={value!r}"
        ) from None


def allowed_file_folders() -> list[Path]:
    """Folders a path parameter may point into: the Keras caches and the workspace."""
    homes = [os.environ.get("KERAS_HOME", ""), "~/.keras", "/tmp/.keras"]
    caches = [Path(h).expanduser().resolve() / "models" for h in homes if h]
    return [*caches, workspace.root().resolve()]


def _check_file(param: Param, value: str) -> None:
    """A server path is trusted only inside the allowed folders, with a known suffix."""
    path = Path(value).expanduser().resolve()
    inside = any(path.is_relative_to(folder) for folder in allowed_file_folders())
    if not (inside and path.is_file() and path.name.endswith(param.file_suffixes)):
        raise DataError(
            f"Invalid value for argument `{param.name}`. Expected an existing "
            f"{' or '.join(param.file_suffixes)} file in the Keras cache "
            f"(~/.keras/models) or the workspace ({workspace.root()}). "
            f"Received: {param.name}={value!r}"
        )
