"""One invocation of the benchmark: the emulators started, the table walked, its output kept.

Owns ``Suite``: it seeds the emulator databases, starts the emulators as separate
``lfr emulator serve`` processes on loopback (the real limits and latency; one more with both
off, for the throughput rows), then walks table.py's rows in order: each measurement runs
(reads.py, applies.py, cpu_bound.py, sharing bench.py's ``Bench``) and its rows, JSON entries
and notes are collected. The rows are always the same (a skipped one says so), so the smoke run
shows that every row still works. Called by run.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bench import Bench
from .cells import Row, row, skipped
from .emulator_process import EmulatorProcess
from .shapes import LATENCY_MS, RATE, SLOW_LATENCY_MS, Shape
from .table import Entry, table
from .workload import seed_database


class Suite:
    """One invocation: the rows, notes and JSON entries of every measurement."""

    def __init__(self, shape: Shape, runs: int, work: Path, log: Callable[[str], None]) -> None:
        self.shape, self.runs, self.work, self.log = shape, runs, work, log
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.results: dict[str, Any] = {}

    def run(self) -> None:
        bench = self._prepare()
        emulators = bench.emulators
        try:
            self.log(f"starting {len(emulators)} emulator processes")
            for emu in emulators:
                emu.start()
            for emu in emulators:
                emu.wait_ready()
            for entry in table(self.shape):
                self._measure(bench, entry)
        finally:
            for emu in emulators:
                emu.stop()

    def _prepare(self) -> Bench:
        """The seeded databases and the emulators that will serve them (not started yet)."""
        shape, work = self.shape, self.work
        self.log(f"seeding T={shape.opportunities:,} and the scaling databases")
        main_seed = seed_database(work / "main.sqlite3", shape.opportunities, shape.contacts)
        scale_seeds = {
            t: seed_database(work / f"t{t}.sqlite3", t, max(shape.contacts, t // 4))
            for t in shape.scaling
            if t != shape.opportunities
        }
        path = main_seed.path
        return Bench(
            shape,
            self.runs,
            work,
            self.log,
            main_seed,
            scale_seeds,
            main=EmulatorProcess("main", path, work, rate=RATE, latency_ms=LATENCY_MS),
            slow=(
                EmulatorProcess("slow", path, work, rate=RATE, latency_ms=SLOW_LATENCY_MS)
                if shape.slow_rows
                else None
            ),
            open=EmulatorProcess("open", path, work, rate=0, latency_ms=0),
            scaled={
                t: EmulatorProcess(f"t{t}", seed.path, work, rate=RATE, latency_ms=LATENCY_MS)
                for t, seed in scale_seeds.items()
            },
        )

    def _measure(self, bench: Bench, entry: Entry) -> None:
        """Run one measurement and collect its rows, JSON entries and notes."""
        measured = entry.measure(bench)
        bench.figures[entry.name] = measured.fields
        shape = self.shape
        fields = {
            "T": shape.opportunities,
            "N": shape.managed,
            "D": shape.differing,
            "W": shape.apply_updates,
            "latency_ms": LATENCY_MS,
            "slow_ms": SLOW_LATENCY_MS,
            **measured.fields,
        }
        spell = skipped if measured.skipped else row
        self.rows += [spell(definition, fields) for definition in entry.rows]
        for key, value in measured.results.items():
            known = self.results.get(key)
            if isinstance(known, dict) and isinstance(value, dict):
                known.update(value)  # one entry a size (scaling)
            else:
                self.results[key] = value
        self.notes += measured.notes
