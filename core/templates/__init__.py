"""Task templates: import the built-ins so they register themselves (explicit, no scanning)."""

from core.templates import (  # noqa: E402,F401,I001  built-ins register on import
    image_classification,
    tabular_classification,
    tabular_regression,
    timeseries_forecasting,
)
from core.templates.registry import get_template, list_templates, register  # noqa: F401
