"""The ``lfr`` command line: parse, call a run, render, exit (architecture.md §8).

The only package that reads the environment, prints, and chooses exit codes: everything below it
returns values or raises ``LfrError``. Exit codes: 0 success, 1 error (a usage error too:
``shared.Commands``), 2 reserved for "changes present" (plan --detailed-exitcode, drift).
``shared``: the app, its options, the output; ``plans``: plan, apply, drift, show;
``manifests``: validate, export, schema; ``about``: version, whoami; ``doctor``: the read-only
probe of an org's API; ``envs``: the environments of lfr.yaml; ``init``: init; ``emulator``:
emulator serve.
"""

from __future__ import annotations

import gc
import sys

from . import about, doctor, emulator, envs, init, manifests, plans  # noqa: F401  (each registers its commands)
from .app import app
from .shared import GC_DEFAULTS, GC_THRESHOLD

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
