"""The two shapes of a benchmark run: the full one (the figures in BENCHMARKS.md) and the smoke
one (~20 s, run by CI so the suite cannot rot; its figures mean nothing).

Owns the sizes only; the measurements (reads.py, applies.py, cpu_bound.py) use them. Called
by run.py, suite.py and the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

LATENCY_MS = 50.0  # added by the emulator to every request (fault spec ``latency_ms``)
RATE = 25.0  # requests per second per category, as the API documents
RTT = LATENCY_MS / 1000  # one round trip, as the bounds count it
SLOW_LATENCY_MS = 200.0  # the rows at a real network's latency
SLOW_RTT = SLOW_LATENCY_MS / 1000
CORE_RUNS = 5  # runs of the core row (when the others run more than once)


@dataclass(frozen=True)
class Shape:
    name: str
    opportunities: int  # T: bulk opportunities seeded (the demo org adds 17 of its own)
    managed: int  # N: manifests of the plan rows
    differing: int  # D: how many of them differ from live
    contacts: int  # bulk contacts seeded ($contact links point at them)
    runs: int  # runs per timed row; the median is reported
    apply_updates: int
    core_records: int
    core_differing: int
    large_records: int  # rows 4L / 4v: the core and `lfr validate` at a large repository's size
    local_records: int  # row 4w: `lfr plan --local` of the embedded workspace
    scaling: tuple[int, ...]  # T of the scaling rows, with N = T / 4
    skipped_scaling: tuple[int, ...]  # shown as skipped, so the table keeps its rows
    slow_rows: bool  # rows 7 and 7s (200 ms): the same code paths as rows 1 and 2, slower
    throughput_reads: int
    throughput_pages: int


FULL = Shape(
    name="full",
    opportunities=2000,
    managed=500,
    differing=25,
    contacts=500,
    runs=3,
    apply_updates=200,
    core_records=10_000,
    core_differing=500,
    large_records=100_000,
    local_records=10_000,
    scaling=(500, 2000, 10_000),
    skipped_scaling=(),
    slow_rows=True,
    throughput_reads=4000,
    throughput_pages=1000,
)

SMOKE = Shape(
    name="smoke",
    opportunities=40,
    managed=10,
    differing=2,
    contacts=20,
    runs=1,
    apply_updates=10,
    core_records=500,
    core_differing=25,
    large_records=1_000,
    local_records=200,
    scaling=(40, 160),
    skipped_scaling=(10_000,),
    slow_rows=False,
    throughput_reads=300,
    throughput_pages=100,
)
