"""The catalog of built-in templates, at the top of core: importing it registers them.

Adding a template is one module plus one import line here. Code above the modalities
(the CLI, the training worker, launch, export, the pages) looks templates up through
this module, so the built-ins are always there; code below it uses
`core.templates.registry`, which knows only the templates that have registered.
"""

# Each import registers its templates (`@register`); the list is explicit, no scanning.
import core.anomaly.template
import core.corpus.template
import core.series.template
import core.tables.classification
import core.tables.regression
import core.text.template
import core.vision.template  # noqa: F401
from core.templates.registry import (
    get_template,
    list_templates,
    register,
    suggest,
    templates_for,
    unregister,
)

__all__ = [
    "get_template",
    "list_templates",
    "register",
    "suggest",
    "templates_for",
    "unregister",
]
