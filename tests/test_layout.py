"""The house's shape, checked from the code's own imports: the library never
imports the app, evaluation never trains, and the import graph has no cycle but
the readers' self-registration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "brainalign"
LIBRARY = ("data", "preprocessing", "models", "objectives", "training", "evaluation", "report", "generation")
APP = ("brainalign.experiments", "brainalign.cli", "brainalign.__main__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every brainalign module ``path`` imports, at module level or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _module_name(path)
    package = own if path.name == "__init__.py" else own.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("brainalign")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_library_never_imports_the_app(graph: dict[str, set[str]]):
    bad = [
        (m, i)
        for m, imps in graph.items()
        if m.split(".")[1:2] and m.split(".")[1] in LIBRARY
        for i in imps
        if i.startswith(APP)
    ]
    assert bad == []


def test_evaluation_does_not_import_training(graph: dict[str, set[str]]):
    bad = [
        (m, i)
        for m, imps in graph.items()
        if m.startswith("brainalign.evaluation")
        for i in imps
        if i.startswith("brainalign.training")
    ]
    assert bad == []


def test_no_import_cycle_but_reader_registration(graph: dict[str, set[str]]):
    """Packages' ``__init__`` re-exports aside, a module never reaches itself again;
    the one allowed loop is ``data.base`` loading ``data.readers``, whose readers
    register themselves with ``data.base``."""

    def edges(m: str) -> set[str]:
        out = set(graph[m])
        if m == "brainalign.data.base":
            out.discard("brainalign.data.readers")
        # a package __init__ that only re-exports its own modules is not a layer of its own
        return {i for i in out if not (i.endswith("__init__") or (graph.get(i) is not None and _is_reexport(i, m)))}

    def _is_reexport(target: str, source: str) -> bool:
        return source.startswith(target + ".")

    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges(m)):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


def test_recipes_and_presets_are_package_data():
    """Shipped recipes and presets are found through importlib.resources, inside the package."""
    from brainalign.preprocessing.presets import PRESETS, preset_reader
    from brainalign.recipes import list_recipes, recipe_path, recipes_root

    assert recipes_root().is_relative_to(PACKAGE)
    assert {"eegmat_text", "n170_image", "published/nice_things_eeg2"} <= set(list_recipes())
    assert recipe_path("eegmat_text").is_file()
    assert preset_reader("eegmat_windows") == "eegmat"
    for name in PRESETS.names():
        assert preset_reader(name), name


@pytest.mark.realdata
def test_catch_all_reader_is_detected_last(data_root: Path):
    """Detection tries every specific layout before the generic catch-all, whatever
    order the readers' modules were imported (sorted) in: eegmat's EDF files are
    MNE-readable too, but the folder is eegmat's."""
    from brainalign.data.base import READERS, detect_reader

    assert [c.name for c in READERS.in_order() if c.catch_all] == ["generic"]
    assert detect_reader(data_root / "eegmat").name == "eegmat"
    assert detect_reader(data_root / "formats").name == "generic"
