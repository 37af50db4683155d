"""Errors a person can fix: one base class, so the app and the CLI catch one thing.

Every subclass carries a message in plain words that says what to change. The
classes stay importable where they were defined (`core.data.DataError`,
`core.runs.RunError`); this module holds the base and the errors without a home.
"""

from __future__ import annotations


class UserError(ValueError):
    """Something a person can fix (the data, a setting, a name), in plain words."""


class TemplateError(UserError):
    """A template name that is not registered, or a template that cannot serve a request."""


class TrainingFailed(UserError):
    """A training that ended in failure; the message is the run's one-line reason."""
