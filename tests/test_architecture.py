"""Architecture rules of architecture.md §8-9, checked on the source itself.

import-linter enforces the import direction (contracts in pyproject.toml); the scan below
enforces "nothing below the CLI prints or exits", which import-linter cannot see.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
# Modules allowed to print or exit: the CLI, and the emulator's own server runner (a separate
# program that happens to live in the package). A name ending in "/" is a whole folder.
ALLOWED = {"cli/", "emulator/server.py"}


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _forbidden_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (
            func.id
            if isinstance(func, ast.Name)
            else f"{getattr(func.value, 'id', '?')}.{func.attr}"
            if isinstance(func, ast.Attribute)
            else ""
        )
        if name in {"print", "sys.exit", "exit", "typer.echo", "os._exit"}:
            found.append((node.lineno, name))
    return found


def test_nothing_below_the_cli_prints_or_exits() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if _owned(relative, ALLOWED):
            continue
        for line, name in _forbidden_calls(ast.parse(path.read_text(), str(path))):
            offenders.append(f"reconciler/{relative}:{line}: {name}()")
    assert offenders == []


# Each third-party library is owned by one module or package (architecture.md §9). The
# emulator is its own world and may use what it needs.
OWNERS = {
    "deepdiff": {"core/diff.py"},
    "ruamel": {
        "adapters/loader.py",
        "adapters/yaml_events.py",
        "adapters/nodes.py",
        "adapters/writer.py",
        "adapters/merge.py",
        "adapters/plain_dump.py",
    },
    "httpx": {"adapters/client.py", "adapters/http.py"},
    "pydantic": {
        "core/model.py",
        "core/records.py",
        "core/saved_plan.py",
        "core/settings.py",
        "core/policy_settings.py",
        "core/saved_review.py",
    },
    "typer": {"cli/"},
    "uvicorn": set(),
    "starlette": set(),
}
# The core is pure (architecture.md §8): no network, files, processes, clocks or event loop.
IMPURE = {"asyncio", "os", "pathlib", "subprocess", "socket", "tempfile", "time", "io", "shutil"}


def _owned(relative: str, owners: set[str]) -> bool:
    return any(relative == o or (o.endswith("/") and relative.startswith(o)) for o in owners)


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_third_party_libraries_stay_in_their_owning_module() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("emulator/"):
            continue
        for library in _imported_roots(ast.parse(path.read_text(), str(path))) & set(OWNERS):
            if not _owned(relative, OWNERS[library]):
                offenders.append(f"reconciler/{relative} imports {library}")
    assert offenders == []


def test_the_core_does_no_io() -> None:
    offenders = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for library in sorted(_imported_roots(ast.parse(path.read_text(), str(path))) & IMPURE):
            offenders.append(f"reconciler/{path.relative_to(PACKAGE).as_posix()} imports {library}")
    assert offenders == []
