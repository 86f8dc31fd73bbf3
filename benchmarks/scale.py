"""The rows of a repository's size and of starting lfr (issue 16): whole ``lfr`` processes,
each measured by itself.

Owns the measurements only: start-up against ``python -c "import typer"`` (startup.py, run in
turn so the machine's drift touches both sides of a ratio); the core at a large N (core.py in a
fresh process); ``lfr validate --local`` over that large N with the process's own peak RSS; and
``lfr plan --local`` of the embedded workspace (local_workspace.py's input). Called by
cpu_bound.py, whose rows table.py defines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import core, local_workspace, measure
from .measure import BenchmarkError

# ``lfr ARGS`` as the entry point runs it, saying its own peak RSS on the way out (a child's
# ``RUSAGE_CHILDREN`` is the largest of every child so far, the emulators' included).
ENTRY = """
import atexit, resource, sys
atexit.register(lambda: print(f"peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}",
                              file=sys.stderr))
sys.argv = ["lfr", *sys.argv[1:]]
from reconciler.cli import main
main()
"""
_PEAK = re.compile(r"peak_rss_kb=(\d+)")


@dataclass(frozen=True)
class Process:
    wall: float
    peak_mb: float
    stdout: str


def lfr_process(args: list[str], cwd: Path) -> Process:
    """``lfr ARGS`` in ``cwd`` against the local workspace (no key in its environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIGHTFIELD_", "CI"))}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    peak = _PEAK.search(done.stderr)
    if done.returncode != 0 or peak is None:
        command = " ".join(args)
        raise BenchmarkError(f"lfr {command} exited {done.returncode}: {done.stderr[-1500:]}")
    return Process(wall, int(peak.group(1)) / 1024, done.stdout)


def large_core(directory: Path, records: int, differing: int) -> measure.Run:
    """core.py over ``records`` synthetic manifests (made here), in a fresh process."""
    core.make(directory, records, differing)
    return measure.core(directory)


def validate_large(directory: Path, records: int) -> Process:
    """``lfr validate manifests --local`` over large_core's manifests: every one valid."""
    done = lfr_process(["validate", "manifests", "--local"], directory)
    if f"{records} manifests valid" not in done.stdout:
        raise BenchmarkError(f"lfr validate of {records} manifests said: {done.stdout[-500:]}")
    return done


def local_plan(work: Path, records: int, differing: int) -> Process:
    """``lfr plan manifests --local`` of an embedded workspace seeded with ``records``."""
    work.mkdir(parents=True, exist_ok=True)
    local_workspace.prepare(work, records, differing)
    done = lfr_process(["plan", "manifests", "--local"], work)
    summary = f"Plan: 0 to create, {differing} to update, {records - differing} unchanged."
    if summary not in done.stdout:
        raise BenchmarkError(f"lfr plan --local of {records} records: {done.stdout[-500:]}")
    return done
