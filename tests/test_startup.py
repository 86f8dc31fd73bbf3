"""Starting ``lfr`` loads only what the command needs (architecture.md §8, issue 16).

``lfr --help``, ``lfr --version`` and the ``--help`` of every command the typer app registers
must not load the libraries behind the runs, renderers, adapters and the workspace (pydantic,
ruamel, httpx, deepdiff, starlette, rich), nor any of those lfr modules: the ``cli`` modules
import them inside the command functions. And a command that does talk HTTP never loads
httpx's own command line (click, rich, pygments), which httpx's package imports whenever it
can. Each check runs ``lfr``'s entry point in a fresh interpreter, as ``sys.modules`` of the test
process holds everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata

import pytest
from typer._click.core import Command
from typer.main import get_command

import reconciler
from reconciler.cli import app

# What printing help or the version has no use for.
HEAVY = ("pydantic", "ruamel", "httpx", "deepdiff", "starlette", "uvicorn", "rich", "asyncio")

# lfr's entry point, as the `lfr` script runs it, reporting on the way out what it loaded.
ENTRY_SCRIPT = """
import atexit, json, sys
def report():
    loaded = [name for name, module in sys.modules.items() if module is not None]
    print(json.dumps(sorted(loaded)), file=sys.stderr)
atexit.register(report)
sys.argv = ["lfr", *sys.argv[1:]]
from reconciler.cli import main
main()
"""


def _command_paths(command: Command, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _command_paths(sub, (*prefix, name))


COMMANDS = list(_command_paths(get_command(app)))


def _entry(*args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """lfr's stdout for ``args`` and the modules its process had loaded when it ended."""
    result = subprocess.run(
        [sys.executable, "-c", ENTRY_SCRIPT, *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(result.stderr.strip().splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return [
        name
        for name in modules
        if name.split(".")[0] in HEAVY
        or (name.startswith("reconciler.") and not name.startswith("reconciler.cli"))
    ]


def test_every_command_is_enumerated() -> None:
    # The enumeration itself must reach the nested group and the commands others add.
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "plan", "apply", "drift", "show", "validate", "export", "version"} <= names
    assert "emulator serve" in names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "lfr")
def test_help_loads_no_run_renderer_adapter_or_heavy_library(path: tuple[str, ...]) -> None:
    out, modules = _entry(*path, "--help")
    assert "Usage:" in out
    assert _heavy(modules) == [], (
        "a cli module imports these at module level; import them inside the command "
        f"function instead (architecture.md §8): {_heavy(modules)}"
    )
    # The version is looked up only by what prints it (reconciler.__getattr__).
    assert "importlib.metadata" not in modules


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_version_loads_no_run_renderer_adapter_or_heavy_library(args: list[str]) -> None:
    out, modules = _entry(*args)
    assert out == f"lfr {metadata.version(reconciler.DISTRIBUTION)}\n"
    assert _heavy(modules) == []


def test_lfr_talks_http_without_loading_httpx_command_line(server: str) -> None:
    env = {**os.environ, "LIGHTFIELD_API_KEY": "sk_lf_demo_full", "LIGHTFIELD_BASE_URL": server}
    env.pop("CI", None)
    env.pop("LFR_CONFIG", None)
    out, modules = _entry("whoami", env=env)
    assert "Key is active" in out
    assert "httpx" in modules
    assert "httpx._main" not in modules and "rich" not in modules
