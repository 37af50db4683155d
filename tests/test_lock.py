"""The lock files pin every stated requirement to a version its range allows."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
}


def _requirements(path: Path) -> list[Requirement]:
    """The requirement lines of `path`, following `-r` includes."""
    found = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += _requirements(path.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def _pins(path: Path) -> dict[str, list[str]]:
    """Package name -> the exact versions a lock pins (several where markers split them)."""
    pins: dict[str, list[str]] = {}
    for req in _requirements(path):
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {req} is not an exact pin"
        pins.setdefault(canonicalize_name(req.name), []).append(spec.version)
    return pins


@pytest.mark.parametrize("ranges,lock", LOCKS.items())
def test_lock_pins_every_requirement_within_its_range(ranges, lock):
    pins = _pins(ROOT / lock)
    for req in _requirements(ROOT / ranges):
        versions = pins.get(canonicalize_name(req.name))
        assert versions, f"{lock} has no pin for {req.name}: run `make lock`"
        outside = [
            v for v in versions if not req.specifier.contains(v, prereleases=True)
        ]
        assert not outside, (
            f"{lock} pins {req.name}=={outside} outside {req}: run `make lock`"
        )


def test_dev_lock_keeps_the_run_lock_pins():
    run, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    assert {name: dev.get(name) for name in run} == run
