"""Row 9 of the suite alone: ``lfr export --all`` at T opportunities (issue 16).

Seeds a database as the suite does (T bulk opportunities, T/4 contacts, the demo org's own),
serves it with ``lfr emulator serve`` at the API's rate (25/s per category) and 50 ms of latency
per request, and runs ``lfr export --all`` once into an empty directory, as run.py's row 9 does
(``measure.lfr_export``: every live opportunity written, each once). Prints the wall time and
the requests sent, for a reader who wants this row without the whole suite.

Usage: ``python benchmarks/export_all.py [T]`` (default 2000).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measure
from benchmarks.emulator_process import EmulatorProcess
from benchmarks.installed import cache_bytecode
from benchmarks.shapes import LATENCY_MS, RATE
from benchmarks.workload import seed_database


def main(opportunities: int) -> None:
    cache_bytecode()
    with tempfile.TemporaryDirectory(prefix="lfr-export-") as scratch:
        work = Path(scratch)
        seed = seed_database(work / "main.sqlite3", opportunities, max(20, opportunities // 4))
        emu = EmulatorProcess("main", seed.path, work, rate=RATE, latency_ms=LATENCY_MS)
        emu.start()
        try:
            emu.wait_ready()
            workdir = work / "export"
            workdir.mkdir()
            run = measure.lfr_export(emu, workdir, measure.Pacer(), records=seed.listed)
        finally:
            emu.stop()
        print(
            json.dumps(
                {
                    "opportunities": opportunities,
                    "records": seed.listed,
                    "wall_s": round(run.wall, 2),
                    "requests": asdict(run.requests),
                }
            )
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
