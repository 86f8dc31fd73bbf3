"""One invocation of the benchmark: the workspace, the emulators, and the walk of the table.

Owns ``Suite``: it seeds the emulator databases, starts the emulators as separate
``lfr emulator serve`` processes on loopback (the real limits and latency; one more with both
off, for the throughput rows), then walks table.py's rows in order: each measurement runs
(reads.py, writes.py, cpu_bound.py) and its rows, JSON entries and notes are collected. The
rows are always the same (a skipped one says so), so the smoke run shows that every row still
works. Called by run.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import bounds, measure
from .cells import Row, row, skipped
from .emulator_process import EmulatorProcess
from .shapes import LATENCY_MS, RATE, SLOW_LATENCY_MS, Shape
from .table import Entry, table
from .workload import Opportunity, Seeded, linking, seed_database, spread, write_manifests


class Suite:
    """One invocation: the temporary workspace, the emulators, the rows and notes."""

    main: EmulatorProcess  # the real limits and latency
    slow: EmulatorProcess | None  # the same records at a real network's latency (full run)
    open: EmulatorProcess  # limits and latency off: the throughput rows
    scaled: dict[int, EmulatorProcess]  # the scaling rows' other sizes, by T
    main_seed: Seeded
    scale_seeds: dict[int, Seeded]

    def __init__(self, shape: Shape, runs: int, work: Path, log: Callable[[str], None]) -> None:
        self.shape, self.runs, self.work, self.log = shape, runs, work, log
        self.pacer = measure.Pacer()
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.results: dict[str, Any] = {}
        # Each measurement's fields by its entry's name: later rows compare with earlier runs.
        self.figures: dict[str, dict[str, Any]] = {}

    def run(self) -> None:
        shape = self.shape
        self.log(f"seeding T={shape.opportunities:,} and the scaling databases")
        self.main_seed = seed_database(
            self.work / "main.sqlite3", shape.opportunities, shape.contacts
        )
        self.scale_seeds = {
            t: seed_database(self.work / f"t{t}.sqlite3", t, max(shape.contacts, t // 4))
            for t in shape.scaling
            if t != shape.opportunities
        }
        path = self.main_seed.path
        self.main = EmulatorProcess("main", path, self.work, rate=RATE, latency_ms=LATENCY_MS)
        self.scaled = {
            t: EmulatorProcess(f"t{t}", seed.path, self.work, rate=RATE, latency_ms=LATENCY_MS)
            for t, seed in self.scale_seeds.items()
        }
        self.slow = (
            EmulatorProcess("slow", path, self.work, rate=RATE, latency_ms=SLOW_LATENCY_MS)
            if shape.slow_rows
            else None
        )
        self.open = EmulatorProcess("open", path, self.work, rate=0, latency_ms=0)
        emulators = [self.main, *([self.slow] if self.slow else []), *self.scaled.values()]
        emulators.append(self.open)
        try:
            self.log(f"starting {len(emulators)} emulator processes")
            for emu in emulators:
                emu.start()
            for emu in emulators:
                emu.wait_ready()
            for entry in table(shape):
                self._measure(entry)
        finally:
            for emu in emulators:
                emu.stop()

    def _measure(self, entry: Entry) -> None:
        """Run one measurement and collect its rows, JSON entries and notes."""
        measured = entry.measure(self)
        self.figures[entry.name] = measured.fields
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

    # --- what the measurements share ------------------------------------------------------

    def repeat(self, once: Callable[[], measure.Run], runs: int | None = None) -> measure.Run:
        """The run with the median wall time (its request counts come with it)."""
        ordered = sorted((once() for _ in range(runs or self.runs)), key=lambda r: r.wall)
        return ordered[(len(ordered) - 1) // 2]

    def manifests(
        self,
        name: str,
        opportunities: Sequence[Opportunity],
        seed: Seeded,
        differing: set[int],
    ) -> Path:
        workdir = self.work / name
        write_manifests(workdir / "manifests", opportunities, seed.vocabulary, differing)
        return workdir

    def best(self, seed: Seeded, managed: int, differing: int) -> dict[str, int]:
        """The fewest requests a plan of ``managed`` manifests, ``differing`` of them, needs."""
        return bounds.plan_requests(
            listed=seed.listed,
            members=len(seed.vocabulary.members),
            managed=managed,
            differing=differing,
            linking=linking(spread(managed, differing)),
            link_listed=len(seed.vocabulary.contacts),
        )
