"""The ``lfr`` command line: parse, call a run, render, exit (architecture.md §8).

The only package that reads the environment, prints, and chooses exit codes: everything below it
returns values or raises ``LfrError``. Exit codes: 0 success, 1 error (a usage error too:
``app.Commands``), 2 reserved for "changes present" (plan --detailed-exitcode, drift).
``app``: the typer app and ``--version``; ``options``: the options several commands share;
``output``: what reaches the terminal and files; ``shared``: settings, target and async runs.
A module a command or two: ``about`` (version, whoami), ``doctor``, ``envs``, ``init``,
``manifests`` (validate, export, pin, schema), ``plan``, ``apply`` (with ``stamping``: its
notes), ``drift``, ``show``, ``emulator`` (emulator serve); ``guard`` turns the policies'
options of plan, apply and show into the run's guardrails.
"""

from __future__ import annotations

import gc
import sys

from .app import app
from .shared import GC_DEFAULTS, GC_THRESHOLD

# Each module registers its commands as it is imported, and `lfr --help` lists them in that
# order: plan, apply, drift, show, as the run goes, not as import sorting would have them.
# isort: off
from . import about, doctor, emulator, envs, init, manifests  # noqa: F401
from . import plan, apply, drift, show  # noqa: F401
# isort: on

__all__ = ["GC_DEFAULTS", "GC_THRESHOLD", "app", "main"]


def main() -> None:
    gc.set_threshold(*GC_THRESHOLD)
    # httpx's package imports its own command line, ``httpx._main`` (click, rich, pygments:
    # ~130 ms, a fifth of starting `lfr plan`), whenever it can, and falls back to a stub when
    # that import fails. lfr never runs httpx's command line, so in lfr's own process the import
    # is made to fail (a ``None`` entry in ``sys.modules`` does that); imported as a library,
    # lfr leaves it alone, as it does the collector above.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    app()
