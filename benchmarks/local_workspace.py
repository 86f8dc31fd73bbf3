"""``lfr plan`` against the embedded local workspace at scale (issue 16): no key, no server.

Seeds ``.lfr/workspace.sqlite3`` in a scratch directory with the demo org plus N bulk
opportunities, writes one manifest per record (D of them differing), then runs ``lfr plan
--local`` as a user would, in a fresh process, and prints the wall time, the peak RSS of that
process and, as the yardstick measured in the same run, the CPU floor: ``benchmarks/core.py``
(load + validate + diff + render of the same manifests, no requests) on the same records. The
workspace answers in-process, so the run is bounded by that CPU work plus the emulator's own,
never by the real API's 25 requests per second.

Usage: ``python benchmarks/local_workspace.py [N] [D]`` (defaults 10000 and 25).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.installed import cache_bytecode
from benchmarks.workload import seed_database, spread, wire_record, write_manifests
from reconciler.emulator.definitions import build_definitions
from reconciler.emulator.seed import DEMO_ORG


def _child_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds of one child process (CPU: on a shared machine, the steadier one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIGHTFIELD_", "CI"))}
    cpu, started = _child_cpu(), time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603  (our own interpreter and scripts)
    return time.perf_counter() - started, _child_cpu() - cpu, done


def main(count: int, differing: int) -> None:
    cache_bytecode()
    with tempfile.TemporaryDirectory(prefix="lfr-local-") as scratch:
        work = Path(scratch)
        prepare(work, count, differing)
        plan_wall, plan_cpu, plan = _run(
            [sys.executable, "-m", "reconciler.cli", "plan", "manifests", "--local"], work
        )
        plan_peak = _child_peak_mb()
        if plan.returncode != 0:
            raise SystemExit(f"lfr plan failed ({plan.returncode}): {plan.stderr[-2000:]}")
        core_script = str(Path(__file__).with_name("core.py"))
        core_wall, core_cpu, core = _run([sys.executable, core_script, "."], work)
        if core.returncode != 0:
            raise SystemExit(f"core benchmark failed: {core.stderr[-2000:]}")
        core_result = json.loads(core.stdout)
        print(
            json.dumps(
                {
                    "records": count,
                    "differing": differing,
                    "plan_wall_s": round(plan_wall, 2),
                    "plan_cpu_s": round(plan_cpu, 2),
                    "plan_peak_rss_mb": round(plan_peak),
                    "plan_summary": plan.stdout.strip().splitlines()[-1],
                    "core_seconds": round(core_result["seconds"], 2),
                    "core_process_wall_s": round(core_wall, 2),
                    "core_process_cpu_s": round(core_cpu, 2),
                    "plan_over_core_wall": round(plan_wall / core_wall, 2),
                    "plan_over_core_cpu": round(plan_cpu / core_cpu, 2),
                }
            )
        )


def prepare(work: Path, count: int, differing: int) -> None:
    """The workspace database, the manifests, and core.py's ``live.jsonl``, under ``work``."""
    (work / ".lfr").mkdir()
    seeded = seed_database(work / ".lfr" / "workspace.sqlite3", count, max(20, count // 4))
    write_manifests(
        work / "manifests",
        seeded.opportunities,
        seeded.vocabulary,
        spread(count, differing),
        owner_by_email=False,  # as core.py reads them: it resolves no email
    )
    # The core benchmark's input: the same manifests and the same records as live.
    defs = build_definitions(DEMO_ORG)["opportunity"]
    with (work / "live.jsonl").open("w", encoding="utf-8") as out:
        for opp in seeded.opportunities:
            out.write(json.dumps(wire_record(opp, defs)) + "\n")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 25,
    )
