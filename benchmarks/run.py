"""The benchmark command: ``python benchmarks/run.py`` (full) or ``--smoke`` (~20 s, for CI).

Owns the command line and the printed report: a header (shape, emulator settings, machine),
one table (the figure, what it is compared with, the ratio, the goal, whether it is met) and
notes (request counts, stage times). Exit code 0 when every run did what it should (goals are
figures to reach, not tests), 1 when a run failed its own check. See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cells import render_table
from benchmarks.installed import cache_bytecode
from benchmarks.measure import BenchmarkError
from benchmarks.shapes import FULL, LATENCY_MS, RATE, SMOKE
from benchmarks.suite import Suite


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def main(argv: Sequence[str] | None = None) -> int:
    cache_bytecode()
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="the ~20 s version (CI)")
    parser.add_argument("--runs", type=int, default=None, help="runs per timed row (median)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    shape = SMOKE if args.smoke else FULL
    runs = args.runs or shape.runs
    if runs < 1:
        parser.error("--runs must be at least 1")
    started = time.monotonic()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - started:5.0f} s] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="lfr-bench-") as tmp:
        suite = Suite(shape, runs, Path(tmp), log)
        try:
            suite.run()
        except BenchmarkError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    info = machine()
    print(
        f"lfr benchmarks ({shape.name}, median of {runs} run{'s' if runs > 1 else ''}): "
        f"T={shape.opportunities:,} opportunities, N={shape.managed:,} managed, "
        f"D={shape.differing} differ; emulator {RATE:.0f} req/s per category, "
        f"{LATENCY_MS:.0f} ms latency per request"
    )
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, "
        f"{info['system']}; took {time.monotonic() - started:.0f} s"
    )
    print()
    print(render_table(suite.rows))
    print()
    for note in suite.notes:
        print(note)
    if args.json is not None:
        payload = {"shape": asdict(shape), "runs": runs, "machine": info, **suite.results}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
