"""A data-quality finding: one problem found before training, in plain words, with its fix.

Every kind of data has its own preflight (`core.tables.preflight`, `core.vision.ingest`,
`core.text.template`, `core.corpus.ingest`); all of them return `Finding`s, which the
Data page shows the same way: `group_findings` folds the findings of one kind that
concern several columns into one group, so a problem in eleven columns reads once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LEVELS = ("error", "warning", "info")  # worst first

# The kinds of finding about one column each, as a group's headline names them:
# "<title> in 3 columns: `a`, `b`, `c`."
TITLES = {
    "infinite": "Infinite or too large values (treated as missing)",
    "missing": "Missing values",
    "constant": "The same value in every row",
    "identifier": "Values that look like IDs (almost every one is different)",
    "dates": "Dates",
    "mixed": "Numbers mixed with words",
    "unread_numbers": "Numbers in a format the app cannot read",
    "zeros_as_missing": "Zeros that probably mean 'not measured'",
    "leak": "Values that alone predict the target almost perfectly (a likely leak)",
}


@dataclass(frozen=True)
class Finding:
    """One data-quality problem found by `preflight`, in plain words.

    Attributes:
        level: "error" blocks training, "warning" should be read, "info" is handled.
        message: the problem, in a sentence.
        fix: what the app does about it, or what to do.
        code: the kind of problem, stable across versions (a key of `TITLES` for a
            finding about one column); "" when it has none.
        column: the one column it concerns, if any.
        detail: what was found in that column, for a list under the kind's headline
            ("" when the message says it best).
    """

    level: str
    message: str
    fix: str
    code: str = ""
    column: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class FindingGroup:
    """Findings of one kind: one box on the Data page.

    Attributes:
        level: the worst level among its findings.
        headline: the problem, in a sentence (for several columns, the kind and the
            columns it concerns).
        fix: the fix, said once.
        findings: its findings, worst first; several when the kind concerns several
            columns.
    """

    level: str
    headline: str
    fix: str
    findings: tuple[Finding, ...]

    @property
    def columns(self) -> list[str]:
        """The columns its findings concern, in order."""
        return [f.column for f in self.findings if f.column is not None]

    @property
    def details(self) -> list[str]:
        """What was found in each column, one line per finding."""
        return [f.detail or f.message for f in self.findings]


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """Folds the findings of one kind about several columns into one group.

    Findings with a `code` of `TITLES` and a `column` are grouped by code; any other
    finding is a group of its own.

    Args:
        findings: findings, e.g. from a preflight.

    Returns:
        Groups, worst level first; groups of the same level in the order their first
        finding came.
    """
    kinds: dict[object, list[Finding]] = {}
    for index, finding in enumerate(findings):
        grouped = finding.code in TITLES and finding.column is not None
        kinds.setdefault(finding.code if grouped else index, []).append(finding)
    groups = [_group(members) for members in kinds.values()]
    return sorted(groups, key=lambda group: LEVELS.index(group.level))


def _group(members: list[Finding]) -> FindingGroup:
    members = sorted(members, key=lambda f: LEVELS.index(f.level))
    first = members[0]
    if len(members) == 1:
        return FindingGroup(first.level, first.message, first.fix, (first,))
    names = ", ".join(f"`{f.column}`" for f in members)
    headline = f"{TITLES[first.code]} in {len(members)} columns: {names}."
    fixes = dict.fromkeys(f.fix for f in members if f.fix)
    return FindingGroup(first.level, headline, " ".join(fixes), tuple(members))
