"""Task templates: import the built-ins so they register themselves (explicit, no scanning)."""

from core.series import template as series_template  # noqa: E402,F401,I001

# Built-in templates register on import: one line per template.
from core.tables import (
    classification,  # noqa: E402,F401,I001
    regression,  # noqa: E402,F401,I001
)
from core.templates.registry import get_template, list_templates, register  # noqa: F401
from core.vision import template as vision_template  # noqa: E402,F401,I001
