"""The template registry: built-in templates register themselves with `@register`."""

from __future__ import annotations

from typing import TypeVar

from core.data import DataError
from core.templates.base import TaskTemplate

T = TypeVar("T")
_REGISTRY: dict[str, TaskTemplate] = {}


def register(cls: type[T]) -> type[T]:
    """Class decorator: instantiates the template once and adds it under `cls.name`."""
    template = cls()
    if template.name in _REGISTRY:
        raise ValueError(f"Template `{template.name}` is already registered.")
    _REGISTRY[template.name] = template
    return cls


def get_template(name: str) -> TaskTemplate:
    """Returns the registered template called `name`.

    Raises:
        DataError: if no template has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(
            f"Unknown template `{name}`. Expected one of {sorted(_REGISTRY)}."
        ) from None


def list_templates() -> list[TaskTemplate]:
    """Returns all registered templates, sorted by title."""
    return sorted(_REGISTRY.values(), key=lambda t: t.title)


def unregister(name: str) -> None:
    """Removes the template called `name`, if registered (for test-only templates)."""
    _REGISTRY.pop(name, None)
