"""What every measurement of one benchmark invocation shares: the shape, the workspace, the
emulators and their seeded databases, the pacer, and the fields of the measurements already
taken.

Owns ``Bench`` and the helpers the measurements (reads.py, applies.py, cpu_bound.py) have in
common: the median of repeated runs, writing a row's manifests, the fewest requests a plan
needs. suite.py makes one and starts its emulators; table.py's measurements take it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import bounds, measure
from .emulator_process import EmulatorProcess
from .shapes import Shape
from .workload import Opportunity, Seeded, linking, spread, write_manifests


@dataclass
class Bench:
    shape: Shape
    runs: int  # runs per timed row (the median is reported)
    work: Path  # the temporary workspace
    log: Callable[[str], None]
    main_seed: Seeded
    scale_seeds: dict[int, Seeded]  # the scaling rows' other sizes, by T
    main: EmulatorProcess  # the real limits and latency
    slow: EmulatorProcess | None  # the same records at a real network's latency (full run)
    open: EmulatorProcess  # limits and latency off: the throughput rows
    scaled: dict[int, EmulatorProcess]  # serving ``scale_seeds``
    pacer: measure.Pacer = field(default_factory=measure.Pacer)
    # Each measurement's fields by its entry's name: later rows compare with earlier runs.
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

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

    @property
    def emulators(self) -> list[EmulatorProcess]:
        return [self.main, *([self.slow] if self.slow else []), *self.scaled.values(), self.open]
