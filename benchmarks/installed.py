"""Run every timed process as an installed lfr runs: with its compiled modules cached.

This machine (and many CI images) sets ``PYTHONDONTWRITEBYTECODE=1``, so no ``.pyc`` is ever
written and every process compiles lfr's imports (pydantic, ruamel, httpx, the record models)
from source again: about 1 s a process here (``import reconciler.runs.plan,
reconciler.workspace``: 1.5 s without the cache, 0.55 s with it). A user's ``pipx``/``uv tool``
install caches them on the first run, and so does the SDK script the rows compare against. Each
benchmark entry point calls ``cache_bytecode()`` first: the variable is dropped for the
processes it starts, and one warm-up process compiles and caches what they import.
"""

from __future__ import annotations

import os
import subprocess
import sys

WARM_UP = (
    "import reconciler.cli, reconciler.runs.plan, reconciler.runs.apply, reconciler.runs.drift, "
    "reconciler.runs.export, reconciler.workspace, reconciler.render.formats, "
    "reconciler.emulator, lightfield"
)


def cache_bytecode() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    subprocess.run([sys.executable, "-c", WARM_UP], check=True)  # noqa: S603 - fixed argv
