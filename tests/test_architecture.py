"""Module boundaries (STYLE C1, C4, §3.1): checked by parsing imports, not by convention."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CORE_FILES = sorted((ROOT / "core").rglob("*.py"))
SHOWN_PAGES = sorted((ROOT / "pages").glob("*.py"))
UI_PACKAGE = sorted((ROOT / "pages" / "ui").rglob("*.py"))
UI_FILES = [*SHOWN_PAGES, *UI_PACKAGE, ROOT / "app.py"]
KIND_BRANCH = re.compile(r"data_kind ==|task ==|is_image_|if .*[\"']forecast")


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a file imports (absolute imports only)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_files_exist():
    assert CORE_FILES and len(SHOWN_PAGES) >= 6


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit(path):
    assert "streamlit" not in imported_roots(path)


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_ui_never_imports_keras_or_tensorflow(path):
    assert not imported_roots(path) & {"keras", "tensorflow", "tf_keras"}


def test_charts_are_plotly_only():
    assert "streamlit" not in imported_roots(ROOT / "pages" / "ui" / "charts.py")


def test_app_is_navigation_only():
    source = (ROOT / "app.py").read_text()
    assert len(source.splitlines()) < 40
    assert "st.navigation(" in source


@pytest.mark.parametrize("path", SHOWN_PAGES, ids=lambda p: p.name)
def test_pages_stay_small(path):
    assert len(path.read_text().splitlines()) < 150


@pytest.mark.parametrize("path", SHOWN_PAGES, ids=lambda p: p.name)
def test_pages_never_branch_on_kind_or_task(path):
    """Pages look views up by kind (pages/ui/kinds.py); a new kind needs no page edit."""
    assert not KIND_BRANCH.findall(path.read_text())


def test_pages_folder_holds_only_page_scripts():
    assert {p.stem for p in SHOWN_PAGES} == {
        "home", "data", "train", "results", "threshold", "predict", "models"
    }  # fmt: skip


def test_imports_detector_sees_nested_and_from_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    import keras.ops\nfrom tensorflow import data\n")
    assert imported_roots(probe) == {"keras", "tensorflow"}
