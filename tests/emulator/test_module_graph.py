"""The emulator's modules form a graph a reader can walk: no import cycles, none too long.

Import cycles count imports under ``TYPE_CHECKING`` too: a reader follows them all the same
(the app once took an ``Emulator`` that way while ``emulator.py`` built the app). The length
rule is issue 15's: no module over 400 lines; literal data lives in ``data/*.json``.
"""

from __future__ import annotations

from pathlib import Path

import grimp

import reconciler.emulator

PACKAGE = "reconciler.emulator"
MAX_LINES = 400


def _import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("reconciler", cache_dir=None)
    modules = {m for m in graph.modules if m == PACKAGE or m.startswith(PACKAGE + ".")}
    return {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that lies on one (depth-first, in a stable order)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(edges[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
    return found


def test_the_emulator_has_no_import_cycle() -> None:
    edges = _import_graph()
    assert len(edges) > 10  # the graph was read, not an empty package
    assert _cycles(edges) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_emulator_module_is_over_400_lines() -> None:
    folder = Path(reconciler.emulator.__file__).parent
    sizes = {p.name: len(p.read_text().splitlines()) for p in sorted(folder.glob("*.py"))}
    assert len(sizes) > 10
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
