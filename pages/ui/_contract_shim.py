"""TEMPORARY: the seam.md core functions, until seam-core's branch lands on main.

Delete this file (and the imports of it) once `core.templates.templates_for`,
`core.templates.suggest`, `core.runs.run_kind`, `core.runs.start_training` and
`core.errors.UserError` exist on main.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import data, runs, timeseries
from core.templates import get_template, list_templates
from core.templates.base import resolve_params

UserError = (data.DataError, runs.RunError)
_NEW_NAMES = {"time_series": "series", "image_folder": "images"}


def new_kind(kind: str) -> str:
    """Today's kind names ("time_series", "image_folder") as seam.md names them."""
    return _NEW_NAMES.get(kind, kind)


def templates_for(dataset_kind: str) -> list[Any]:
    """Templates whose `sources` hold `dataset_kind`, sorted by title."""
    return [t for t in list_templates() if dataset_kind in _sources(t)]


def _sources(template: Any) -> tuple[str, ...]:
    kind = new_kind(template.data_kind)
    return getattr(template, "sources", ("table",) if kind == "series" else (kind,))


def suggest(dataset: Any, target: str | None, dataset_kind: str) -> tuple[Any, str]:
    """The best template for the data and its reason (today's table logic)."""
    if dataset_kind == "table":
        name, reason = timeseries.suggest(dataset, target) or data.suggest_template(
            dataset, target
        )
        return get_template(name), reason
    return templates_for(dataset_kind)[0], ""


def run_kind(run_id: str) -> str:
    """A run's kind: its info's `data_kind`, else its template's."""
    kind = runs.read_info(run_id).get("data_kind")
    if not kind:
        kind = get_template(runs.read_spec(run_id)["template"]).data_kind
    return new_kind(kind)


def start_training(
    template_name: str, dataset_id: str, target: str | None, params: Mapping
) -> str:
    """Checks settings and data, then creates and launches a run; returns its id."""
    template = get_template(template_name)
    resolved = resolve_params(template, params)
    problems = template.check(template.load_data(dataset_id), target, resolved)
    if problems:
        raise data.DataError("\n".join(problems))
    spec = runs.RunSpec(
        template.name,
        dataset_id,
        target,
        resolved,
        seed=int(resolved["seed"]),
        dataset_name=data.dataset_name(dataset_id),
    )
    return runs.start_run(spec)


def notes(template: Any, dataset: Any, target: str | None, params: Mapping) -> list:
    """`template.notes(...)` where the template has it, else its preflight sentences."""
    if hasattr(template, "notes"):
        return template.notes(dataset, target, params)
    return template.preflight(dataset, target, params)
