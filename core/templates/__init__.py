"""Task templates: import the built-ins so they register themselves (explicit, no scanning)."""

from core.templates import (  # noqa: E402,F401,I001  built-ins register on import
    tabular_classification,
    tabular_regression,
)
from core.templates.registry import get_template, list_templates, register  # noqa: F401
