"""A data-quality finding: one problem found before training, in plain words, with its fix.

Every kind of data has its own preflight (`core.tables.preflight`, `core.vision.ingest`,
`core.text.template`, `core.corpus.ingest`); all of them return `Finding`s, which the
Data page shows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One data-quality problem found by `preflight`, in plain words."""

    level: str  # "error" blocks training, "warning" should be read, "info" is handled
    message: str
    fix: str
