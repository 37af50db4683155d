"""Where user data lives: one workspace folder for datasets, runs and imports."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_ENV = "PREDICTIVE_STUDIO_WORKSPACE"
DEFAULT_WORKSPACE = Path(__file__).resolve().parents[1] / "workspace"
RUNS_FOLDER = "runs"  # one folder per run in it: core.runs, core.run_locks


def root() -> Path:
    """Returns the workspace folder, from `$PREDICTIVE_STUDIO_WORKSPACE` if set."""
    path = Path(os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE)
    path.mkdir(parents=True, exist_ok=True)
    return path
