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


# The three layers of core (README "Architecture"): nothing points up, nothing loops.
TOP_MODULES = {
    "core.__main__", "core.catalog", "core.launch", "core.training", "core.prediction",
    "core.export", "core.bundle_import", "core.thresholds", "core.formats",
}  # fmt: skip
MODALITIES = {"tables", "series", "vision", "text", "corpus", "anomaly"}


def module_name(path: Path, root: Path = ROOT) -> str:
    """`core/tables/model.py` -> "core.tables.model"; a package is its `__init__`."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def core_imports(files: list[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """Each module's imports of other modules among `files`, wherever they are written."""
    modules = {module_name(p, root): p for p in files}

    def known(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {known(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found |= {known(f"{node.module}.{a.name}") for a in node.names}
        graph[name] = found - {"", name, "core"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules (first == last), or [] if there is none."""
    done, path = set(), []

    def visit(name: str) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return []
        path.append(name)
        for imported in sorted(graph[name]):
            if cycle := visit(imported):
                return cycle
        done.add(path.pop())
        return []

    return next((c for c in map(visit, sorted(graph)) if c), [])


def layer(name: str) -> int:
    """0: the engine's bottom (store, contract, judging), 1: a modality, 2: the top."""
    if name in TOP_MODULES or name.rpartition(".")[0] in TOP_MODULES:
        return 2
    return 1 if name.split(".")[1] in MODALITIES else 0


def test_core_has_no_import_cycle():
    assert find_cycle(core_imports(CORE_FILES)) == []


def test_core_layers_never_import_upward():
    upward = [
        f"{name} (layer {layer(name)}) imports {imported} (layer {layer(imported)})"
        for name, imports in core_imports(CORE_FILES).items()
        for imported in imports
        if layer(imported) > layer(name)
    ]
    assert upward == []


def test_the_registry_imports_no_concrete_template():
    imports = core_imports(CORE_FILES)["core.templates.registry"]
    assert {layer(name) for name in imports} <= {0}


def test_cycle_finder_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "core"
    package.mkdir()
    (package / "a.py").write_text("from core import b\n")
    (package / "b.py").write_text("def f():\n    from core.a import g\n")
    (package / "c.py").write_text("import core.a\n")
    graph = core_imports(sorted(package.glob("*.py")), root=tmp_path)
    assert graph == {"core.a": {"core.b"}, "core.b": {"core.a"}, "core.c": {"core.a"}}
    assert find_cycle(graph) == ["core.a", "core.b", "core.a"]
