"""Task templates: the registry's functions (the built-ins are in `builtins.py`)."""

from core.templates.registry import (  # noqa: F401
    get_template,
    list_templates,
    register,
    suggest,
    templates_for,
)
