"""Starting ``lfr`` (issue 16): whole processes, each against ``python -c "import typer"``.

Rows, each a fresh interpreter, run in turn (A B A B ...) so that a drift of the shared
machine's speed touches both sides of a ratio alike: ``lfr --help``, ``lfr --version``,
``lfr version`` and the imports ``lfr plan`` needs before it reads a file (the CLI, the plan
run, the workspace with its client, the renderers; what ``lfr``'s entry point does to the
process first, it does here too). Prints the median wall and CPU seconds of each and its ratio
to the baseline; the goals are ``--help`` / ``--version`` <= 3x the baseline and the plan
imports <= 0.45 s.

Usage: ``python benchmarks/startup.py [RUNS]`` (default 9).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

from benchmarks.installed import cache_bytecode

PLAN_IMPORTS = (
    "import sys; sys.modules.setdefault('httpx._main', None); "  # as reconciler.cli.main does
    "import reconciler.cli, reconciler.runs.plan, reconciler.workspace, reconciler.render.formats"
)
ROWS = {
    "python -c 'import typer' (baseline)": ["-c", "import typer"],  # BASELINE
    "lfr --help": ["-m", "reconciler.cli", "--help"],
    "lfr --version": ["-m", "reconciler.cli", "--version"],
    "lfr version": ["-m", "reconciler.cli", "version"],
    "imports for lfr plan": ["-c", PLAN_IMPORTS],
}


def _once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process (CPU: the steadier on a shared machine). Its exit
    status is not judged: before issue 16, `lfr --version` was an unknown option (exit 2)."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, *args], check=False, capture_output=True
    )
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


BASELINE = "python -c 'import typer' (baseline)"


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each row over ``runs`` rounds (A B A B ...), and each
    one's ratio to the baseline's in the same run."""
    for args in ROWS.values():
        _once(args)  # warm the file cache
    walls: dict[str, list[float]] = {name: [] for name in ROWS}
    cpus: dict[str, list[float]] = {name: [] for name in ROWS}
    for _ in range(runs):
        for name, args in ROWS.items():
            wall, cpu = _once(args)
            walls[name].append(wall)
            cpus[name].append(cpu)
    base_wall, base_cpu = statistics.median(walls[BASELINE]), statistics.median(cpus[BASELINE])
    return {
        name: {
            "wall_s": round(statistics.median(walls[name]), 3),
            "cpu_s": round(statistics.median(cpus[name]), 3),
            "wall_ratio_to_typer": round(statistics.median(walls[name]) / base_wall, 2),
            "cpu_ratio_to_typer": round(statistics.median(cpus[name]) / base_cpu, 2),
        }
        for name in ROWS
    }


def main(runs: int) -> None:
    cache_bytecode()
    print(json.dumps(measure(runs), indent=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
