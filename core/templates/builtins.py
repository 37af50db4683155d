"""The built-in templates: one import line per template (each registers on import).

Adding a template is one module plus one line here. The registry imports this module
on first use, so a template module may import `core.templates.base` and
`core.templates.registry` without a cycle.
"""

from core.anomaly import template as anomaly_template  # noqa: F401
from core.corpus import template as corpus_template  # noqa: F401
from core.series import template as series_template  # noqa: F401
from core.tables import classification, regression  # noqa: F401
from core.text import template as text_template  # noqa: F401
from core.vision import template as vision_template  # noqa: F401
