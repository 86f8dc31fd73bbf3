"""The benchmark table as data: every row, in the order it runs and prints.

Owns the rows' definitions: which measurement each comes from (reads.py, applies.py,
cpu_bound.py), its id and label, the figure it shows, what that figure is compared with and
its goal (cells.py spells them; BENCHMARKS.md says what each row measures). A label's words in
braces are fields: the measurement's, or the shape's (``T``, ``N``, ``D``, ``W``: the apply
rows' updates, ``latency_ms``, ``slow_ms``). Called by bench.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from . import applies, cpu_bound, reads
from .cells import (
    GOAL,
    Bound,
    BoundFloor,
    Check,
    Limit,
    Measured,
    Ratio,
    RowDef,
    Sum,
    Times,
    Versus,
    megabytes,
    per_second,
    text,
)
from .shapes import Shape

if TYPE_CHECKING:
    from .bench import Bench

# Issue 16's goal for the core row (session 3's was 2 s).
CORE_GOAL_SECONDS = 1.0


@dataclass(frozen=True)
class Entry:
    """One measurement and the rows it gives; ``name`` keys its fields for later rows."""

    name: str
    measure: Callable[[Bench], Measured]
    rows: tuple[RowDef, ...]


def goal(row_id: str, label: str, figure: str, limit: Limit, unit: Callable[..., str]) -> RowDef:
    """A row compared with its own goal only."""
    return RowDef(row_id, label, figure, GOAL, limit, unit)


def seconds_goal(row_id: str, label: str, figure: str, at_most: float) -> RowDef:
    """A row of seconds compared with its goal of at most ``at_most`` whole seconds."""
    return RowDef(row_id, label, figure, GOAL, Limit("<=", at_most, f"{at_most:.0f} s"))


def clean(row_id: str) -> RowDef:
    """An apply's 429 answers and duplicate writes: both must be none."""
    label = "  429 responses, duplicate writes"
    return RowDef(row_id, label, "clean", goal=Check("0, 0", "clean_ok"), unit=text)


TYPER = "`import typer`"
PLAN = Versus("lfr plan", "plan_wall", digits=1)  # a speedup of lfr plan over a script
LIMITS = BoundFloor()
BY_BOUND = Times("<=", 1.2, "bound")

STARTUP = (
    RowDef("0", "lfr startup (`lfr version`)", "wall"),
    RowDef(
        "0h", "  `lfr --help`, CPU", "help", Versus(TYPER, "typer", "help_ratio"), Ratio("<=", 3)
    ),
    RowDef(
        "0v",
        "  `lfr --version`, CPU",
        "version",
        Versus(TYPER, "typer", "version_ratio"),
        Ratio("<=", 3),
    ),
    RowDef("0i", "  imports for `lfr plan`, CPU", "imports", GOAL, Limit("<=", 0.45, "0.45 s")),
)
PLAN_ROW = RowDef(
    "1",
    "lfr plan, T={T:,} N={N:,} D={D}, {latency_ms:.0f} ms",
    "wall",
    LIMITS,
    Times("<=", 1.25, "floor"),
)
BASELINES = (
    RowDef("2", "SDK list-paging script, same manifests", "list", PLAN, Ratio(">=", 3)),
    RowDef("2r", "SDK per-record loop, same manifests", "per-record", PLAN, Ratio(">=", 5)),
)
ALL_MANAGED = RowDef(
    "2b", "SDK list-paging script, N = T = {T:,} (1 run)", "wall", PLAN, Ratio(">=", 3)
)
SLOW = (
    RowDef("7", "lfr plan, same, {slow_ms:.0f} ms", "wall", LIMITS),
    RowDef(
        "7s",
        "SDK list-paging script, {slow_ms:.0f} ms (1 run)",
        "baseline",
        Versus("lfr plan", "wall", digits=1),
        Ratio(">=", 5),
        skipped="SDK list-paging script, {slow_ms:.0f} ms",
    ),
)
DRIFT = RowDef("8", "lfr drift, T={T:,} N={N:,} D={D}", "wall", LIMITS, Times("<=", 1.15, "bound"))
EXPORT = seconds_goal("9", "lfr export --all, T={T:,} (1 run)", "wall", 10)
APPLY = (
    RowDef("3", "lfr apply --auto-approve --force, {W} updates", "wall", LIMITS, BY_BOUND),
    clean("3r"),
    RowDef("3w", "  its write phase (first write to last)", "write_phase", Bound()),
    RowDef("3s", "  whole apply vs plan-then-write bound", "wall", Sum("read_bound", "bound")),
)
APPLY_WAITING = (
    RowDef("3n", "lfr apply --auto-approve (no --force), {W} updates", "wall", LIMITS, BY_BOUND),
    clean("3nr"),
)
APPLY_HAS_MANY = (
    RowDef("3h", "lfr apply --force, {W} HAS_MANY edits ($contact +1)", "wall", LIMITS, BY_BOUND),
    clean("3hr"),
)
DEPARTURE = (
    RowDef(
        "10",
        "a rep leaves: set plan, {k} records",
        "wall",
        LIMITS,
        Check("requests <= fewest", "within"),
    ),
    RowDef(
        "10a",
        "  its apply --auto-approve --force, {k} writes (plan, then writes)",
        "apply_wall",
        BoundFloor("apply_bound", "apply_floor"),
        Times("<=", 1.2, "apply_bound", "bound"),
    ),
    clean("10r"),
)
CORE = (
    seconds_goal(
        "4", "core: load+validate+diff+render, {count:,} records", "wall", CORE_GOAL_SECONDS
    ),
    goal("4m", "  peak RSS (getrusage ru_maxrss)", "peak", Limit("<=", 400, "400 MB"), megabytes),
)
LARGE = (
    seconds_goal("4L", "core at {large:,} records", "core_wall", 10),
    goal("4Lm", "  peak RSS", "core_peak", Limit("<=", 1200, "1,200 MB"), megabytes),
    seconds_goal("4v", "lfr validate --local, {large:,} manifests", "validate_wall", 6),
    goal("4vm", "  its peak RSS", "validate_peak", Limit("<=", 500, "500 MB"), megabytes),
    seconds_goal("4w", "lfr plan --local, {local:,} records, D=25", "local_wall", 5),
)
SCALING = RowDef(
    "5",
    "scaling: lfr plan, T={T:,} N={N:,} D={D}",
    "wall",
    Bound(),
    skipped="scaling: lfr plan, T={T:,}",
)
THROUGHPUT_GOAL = Limit(">=", 300, "300 req/s", digits=1)
THROUGHPUT = (
    goal("6", "emulator, limits off: retrieve by id", "read", THROUGHPUT_GOAL, per_second),
    goal("6s", "  list page of 25 (of {listed:,})", "search", THROUGHPUT_GOAL, per_second),
)


def _skipped(bench: Bench, t: int) -> Measured:
    """A size this shape leaves out (the smoke run's largest scaling row)."""
    return Measured(fields={"T": t}, skipped=True)


def table(shape: Shape) -> list[Entry]:
    """The measurements in the order they run (the applies change live records: after the
    rows that read them), each with its rows."""
    return [
        Entry("startup", cpu_bound.starting, STARTUP),
        Entry("plan", reads.plan, (PLAN_ROW,)),
        Entry("baselines", reads.baselines, BASELINES),
        Entry("all managed", reads.all_managed, (ALL_MANAGED,)),
        Entry("slow", reads.slow, SLOW),
        Entry("drift", reads.drift, (DRIFT,)),
        Entry("export", reads.export, (EXPORT,)),
        Entry("apply", applies.streaming, APPLY),
        Entry("apply waiting", applies.waiting, APPLY_WAITING),
        Entry("apply has-many", applies.has_many, APPLY_HAS_MANY),
        Entry("departure", applies.departure, DEPARTURE),
        Entry("core", cpu_bound.in_process, CORE),
        Entry("large", cpu_bound.large, LARGE),
        *(Entry(f"scaling {t}", partial(reads.scaling, t=t), (SCALING,)) for t in shape.scaling),
        *(Entry(f"scaling {t}", partial(_skipped, t=t), (SCALING,)) for t in shape.skipped_scaling),
        Entry("throughput", cpu_bound.throughput, THROUGHPUT),
    ]
