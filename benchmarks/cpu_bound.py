"""The measurements of the rows this machine bounds, not the API's limits: ``lfr`` starting
(rows 0-0i), the core in-process (4, 4m), a large repository (4L-4w) and the emulator's own
throughput with its limits off (6, 6s).

Owns what each of them runs and how often, the checks of its result, and what it reports: the
fields its rows are spelled from (table.py), its JSON entry and its notes. Called through
table.py by bench.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import core, measure, scale, startup
from .cells import Measured
from .shapes import CORE_RUNS

if TYPE_CHECKING:
    from .bench import Bench


def starting(bench: Bench) -> Measured:
    """Rows 0-0i: ``lfr version``'s wall time; then CPU seconds, the steadier figure on a
    shared machine, each row in turn with the baseline (startup.py)."""
    bench.log("0: lfr startup")
    walls = sorted(measure.lfr_startup(bench.work) for _ in range(bench.runs))
    wall = walls[(len(walls) - 1) // 2]
    rounds = max(5, 2 * bench.runs + 1)
    timed = startup.measure(rounds)
    return Measured(
        fields={
            "wall": wall,
            "typer": timed[startup.BASELINE]["cpu_s"],
            "help": timed["lfr --help"]["cpu_s"],
            "help_ratio": timed["lfr --help"]["cpu_ratio_to_typer"],
            "version": timed["lfr --version"]["cpu_s"],
            "version_ratio": timed["lfr --version"]["cpu_ratio_to_typer"],
            "imports": timed["imports for lfr plan"]["cpu_s"],
        },
        results={"startup": wall, "startup_rows": timed},
        notes=[f"0h-0i: median of {rounds} rounds, each row in turn with the baseline"],
    )


def in_process(bench: Bench) -> Measured:
    """Rows 4, 4m: load, validate, diff and render of ``core_records`` manifests in-process."""
    count, d = bench.shape.core_records, bench.shape.core_differing
    directory = bench.work / "core"
    core.make(directory, count, d)
    # Five runs where the others take three: a run costs ~2.5 s, and this CPU-bound row is the
    # one the shared machine's noise moves most (single runs from 1.55 s to 2.1 s).
    runs = 1 if bench.runs == 1 else max(bench.runs, CORE_RUNS)
    bench.log(f"4: core, {count:,} manifests in-process, {runs} runs")
    ours = bench.repeat(lambda: measure.core(directory), runs)
    details = ours.details
    if (details["update"], details["noop"]) != (d, count - d):
        raise measure.BenchmarkError(f"core: unexpected plan {details}")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in details["stages"].items())
    return Measured(
        fields={"count": count, "wall": ours.wall, "peak": float(details["peak_rss_mb"])},
        results={"core": details},
        notes=[
            f"4: median of {runs} runs; {stages}; RSS {details['rss_before_mb']:.0f} MB before "
            "the clock starts "
            f"(interpreter, imports and the {count:,} prefetched live records)"
        ],
    )


def large(bench: Bench) -> Measured:
    """Rows 4L-4w: a large repository (one run each: they are long and CPU-bound)."""
    n, d = bench.shape.large_records, bench.shape.core_differing
    directory = bench.work / "large"
    bench.log(f"4L: core, {n:,} manifests in-process, 1 run (and its input)")
    big = scale.large_core(directory, n, d)
    if (big.details["update"], big.details["noop"]) != (d, n - d):
        raise measure.BenchmarkError(f"core at {n}: unexpected plan {big.details}")
    bench.log(f"4v: lfr validate --local, {n:,} manifests")
    valid = scale.validate_large(directory, n)
    local_n = bench.shape.local_records
    bench.log(f"4w: lfr plan --local, {local_n:,} records")
    local = scale.local_plan(bench.work / "local", local_n, 25)
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in big.details["stages"].items())
    return Measured(
        fields={
            "large": n,
            "local": local_n,
            "core_wall": big.wall,
            "core_peak": float(big.details["peak_rss_mb"]),
            "validate_wall": valid.wall,
            "validate_peak": valid.peak_mb,
            "local_wall": local.wall,
        },
        results={
            "large": {
                "core": big.details,
                "validate": {"wall": valid.wall, "peak_mb": valid.peak_mb},
                "local_plan": {"wall": local.wall, "peak_mb": local.peak_mb},
            }
        },
        notes=[
            f"4L: {stages}; RSS {big.details['rss_before_mb']:.0f} MB before the clock; "
            f"4w: peak RSS {local.peak_mb:.0f} MB"
        ],
    )


def throughput(bench: Bench) -> Measured:
    """Rows 6, 6s: the emulator with its limits and latency off."""
    bench.log("6: emulator throughput, limits and latency off")
    seed = bench.main_seed
    result = measure.throughput(
        bench.open,
        [o.id for o in seed.opportunities],
        reads=bench.shape.throughput_reads,
        pages=bench.shape.throughput_pages,
    )
    return Measured(
        fields={"listed": seed.listed, "read": result["read"], "search": result["search"]},
        results={"throughput": result},
    )
