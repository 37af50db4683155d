"""The template registry: templates register themselves with `@register`.

The registry sits in the bottom layer and imports no concrete template: it knows the
templates that have registered. `core.catalog` imports the built-ins (so they
register) and is what the code above the modalities looks templates up through.
"""

from __future__ import annotations

from typing import Any, TypeVar

from core.errors import TemplateError
from core.templates.base import Template

T = TypeVar("T", bound=Template)
_REGISTRY: dict[str, Template] = {}


def register(cls: type[T]) -> type[T]:
    """Class decorator: instantiates the template once and adds it under `cls.name`."""
    template = cls()
    if template.name in _REGISTRY:
        raise ValueError(f"Template `{template.name}` is already registered.")
    _REGISTRY[template.name] = template
    return cls


def unregister(name: str) -> None:
    """Removes a registered template (for tests that register a toy template)."""
    _REGISTRY.pop(name, None)


def get_template(name: str) -> Template:
    """Returns the registered template called `name`.

    Raises:
        TemplateError: if no template has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise TemplateError(
            f"Unknown template `{name}`. Expected one of {sorted(_REGISTRY)}."
        ) from None


def list_templates() -> list[Template]:
    """Returns all registered templates, sorted by title."""
    return sorted(_REGISTRY.values(), key=lambda t: t.title)


def templates_for(dataset_kind: str) -> list[Template]:
    """Returns the templates that train on a stored dataset of this kind, by title.

    Args:
        dataset_kind: the form the dataset was stored in (`core.datasets.dataset_kind`),
            e.g. "table" or "images".
    """
    return [t for t in list_templates() if dataset_kind in t.sources]


def suggest(data: Any, target: str | None, dataset_kind: str) -> tuple[Template, str]:
    """Returns the template that fits the data best, with its plain-words reason.

    The app's Train page and `python -m core train` both ask here, so they agree.

    Args:
        data: the dataset as the templates load it (`Template.load_data`).
        target: the column to predict, or None (e.g. pictures in class folders).
        dataset_kind: the form the dataset was stored in, e.g. "table".

    Raises:
        TemplateError: if no template trains on this kind of dataset.
    """
    candidates = templates_for(dataset_kind)
    if not candidates:
        raise TemplateError(
            f"Invalid value for argument `dataset_kind`. Expected one of "
            f"{sorted({s for t in list_templates() for s in t.sources})}. "
            f"Received: dataset_kind={dataset_kind!r}"
        )
    scored = [(t, *t.suggest(data, target)) for t in candidates]
    best, _, reason = max(scored, key=lambda row: row[1])  # first of equals: by title
    return best, reason
