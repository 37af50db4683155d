"""Errors a person can fix: one base class, so the app and the CLI catch one thing.

Every error here is a `UserError` and carries a message in plain words that says what
to change: the app shows it, the CLI prints it as one `error:` line and exits with 1.
Modules raise these classes from here. An exception a person cannot fix (a bug, a
signal between a worker and its caller) stays a plain Python exception where it is
used.
"""

from __future__ import annotations


class UserError(ValueError):
    """Something a person can fix (the data, a setting, a name), in plain words."""


class DataError(UserError):
    """Data that cannot be used, with a message a non-programmer can act on."""


class RunError(UserError):
    """A run id or run request that cannot be served, with a user-readable message."""


class TemplateError(UserError):
    """A template name that is not registered, or a template that cannot serve a request."""


class TrainingError(UserError):
    """Training could not produce a model (e.g. it diverged), with what to change."""


class TrainingFailed(UserError):
    """A training that ended in failure; the message is the run's one-line reason."""


class DecisionError(UserError):
    """A threshold or cost that cannot be used, with a user-readable message."""


class ExportError(UserError):
    """An export that was refused or failed, with the reason in plain words."""


class Refusal(UserError):
    """A format that cannot carry this model, with why and what to use instead."""


class WeightsError(UserError):
    """Weights that could not be downloaded or failed their check, in plain words."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """An exception's first non-blank line, cut to `limit` characters, for a sentence.

    Args:
        err: any exception, e.g. one a converter or a decoder raised.
        limit: the most characters kept.

    Returns:
        The line without surrounding spaces, or the exception's class name (e.g.
        "KeyError") when it has no message.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines or [type(err).__name__])[0][:limit]
