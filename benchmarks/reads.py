"""The measurements of the rows that only read the CRM: ``lfr plan`` (rows 1, 5, 7), the SDK
baselines (2, 2r, 2b, 7s), ``lfr drift`` (8) and ``lfr export --all`` (9).

Owns what each of them runs (the manifests, how many runs), the fewest requests it could make
and its bound and floor (bounds.py), and what it reports: the fields its rows are spelled from
(table.py), its JSON entry and its notes. Called through table.py by bench.py.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from . import bounds, measure
from .cells import Measured, counts, seconds
from .shapes import RATE, RTT, SLOW_LATENCY_MS, SLOW_RTT
from .workload import spread

if TYPE_CHECKING:
    from .bench import Bench


def plan(bench: Bench) -> Measured:
    """Row 1: ``lfr plan`` of N manifests, D of them differing, at T opportunities."""
    shape, seed = bench.shape, bench.main_seed
    n, d = shape.managed, shape.differing
    workdir = bench.manifests("plan", seed.opportunities[:n], seed, spread(n, d))
    bench.log(f"1: lfr plan, T={shape.opportunities} N={n} D={d}")
    ours = bench.repeat(
        lambda: measure.lfr_plan(bench.main, workdir, bench.pacer, managed=n, differing=d)
    )
    best = bench.best(seed, n, d)
    bound = bounds.seconds(best, RTT)
    floor = bounds.floor(best, RTT, bounds.PLAN_SEQUENTIAL)
    return Measured(
        fields={"run": ours, "wall": ours.wall, "bound": bound, "floor": floor},
        results={
            "plan": {
                "wall": ours.wall,
                "requests": asdict(ours.requests),
                "best": best,
                "bound": bound,
                "floor": floor,
            }
        },
        notes=[
            f"1: requests {ours.requests.text()}, 429s {ours.requests.rate_limited}; "
            f"fewest possible {counts(best)}; floor = ({max(best.values())} - "
            f"{bounds.BURST}) / {RATE:.0f} + {bounds.PLAN_SEQUENTIAL} round trips"
        ],
    )


def baselines(bench: Bench) -> Measured:
    """Rows 2 and 2r: the SDK scripts (list paging, a read a record) on row 1's manifests."""
    n, d = bench.shape.managed, bench.shape.differing
    workdir = bench.work / "plan"
    measured = Measured(fields={"plan_wall": bench.figures["plan"]["wall"]})
    for row_id, mode, script in (
        ("2", "list", "SDK list-paging script"),
        ("2r", "per-record", "SDK per-record loop"),
    ):
        bench.log(f"{row_id}: {script}, same manifests")

        def once(mode: str = mode) -> measure.Run:
            return measure.sdk_baseline(
                bench.main, workdir, bench.pacer, managed=n, differing=d, mode=mode
            )

        base = bench.repeat(once)
        measured.fields[mode] = base.wall
        measured.results[f"baseline_{mode}"] = {
            "wall": base.wall,
            "requests": asdict(base.requests),
        }
        measured.notes.append(f"{row_id}: requests {base.requests.text()}, one after the other")
    return measured


def all_managed(bench: Bench) -> Measured:
    """Row 2b: every live bulk opportunity managed (N = T), lfr plan against the list script."""
    seed = bench.main_seed
    t, d = len(seed.opportunities), bench.shape.differing
    workdir = bench.manifests("all", seed.opportunities, seed, spread(t, d))
    bench.log(f"2b: N = T = {t}: lfr plan and the list-paging script")
    ours = bench.repeat(
        lambda: measure.lfr_plan(bench.main, workdir, bench.pacer, managed=t, differing=d)
    )
    # One request after the other, latency-bound and steady: one run is enough. The list
    # script reads the same pages whatever N is; the per-record loop (row 2r) would make
    # 2,001 requests, one after the other (~2 minutes).
    base = measure.sdk_baseline(bench.main, workdir, bench.pacer, managed=t, differing=d)
    best = bench.best(seed, t, d)
    return Measured(
        fields={"T": t, "wall": base.wall, "plan_wall": ours.wall},
        results={
            "all_managed": {
                "plan_wall": ours.wall,
                "plan_requests": asdict(ours.requests),
                "plan_bound": bounds.seconds(best, RTT),
                "baseline_wall": base.wall,
            }
        },
        notes=[
            f"2b: lfr plan requests {ours.requests.text()}; "
            f"bound {seconds(bounds.seconds(best, RTT))}"
        ],
    )


def slow(bench: Bench) -> Measured:
    """Rows 7 and 7s: row 1 and the list-paging script at 200 ms a round trip (a real
    network); skipped where the shape has no slow emulator."""
    if bench.slow is None:
        return Measured(skipped=True)
    emu = bench.slow
    n, d = bench.shape.managed, bench.shape.differing
    workdir = bench.work / "plan"  # row 1's manifests; `slow` holds the same records
    bench.log(f"7: lfr plan and the list-paging script at {SLOW_LATENCY_MS:.0f} ms")
    ours = bench.repeat(lambda: measure.lfr_plan(emu, workdir, bench.pacer, managed=n, differing=d))
    # One request after the other, latency-bound and steady: one run is enough.
    base = measure.sdk_baseline(emu, workdir, bench.pacer, managed=n, differing=d)
    best = bench.best(bench.main_seed, n, d)
    bound = bounds.seconds(best, SLOW_RTT)
    floor = bounds.floor(best, SLOW_RTT, bounds.PLAN_SEQUENTIAL)
    return Measured(
        fields={"wall": ours.wall, "bound": bound, "floor": floor, "baseline": base.wall},
        results={
            "slow": {
                "wall": ours.wall,
                "requests": asdict(ours.requests),
                "bound": bound,
                "floor": floor,
                "baseline_list_wall": base.wall,
                "at_50ms": bench.figures["plan"]["wall"],
            }
        },
        notes=[
            f"7: requests {ours.requests.text()}, 429s {ours.requests.rate_limited}; "
            f"7s: requests {base.requests.text()}"
        ],
    )


def drift(bench: Bench) -> Measured:
    """Row 8: ``lfr drift`` of row 1's manifests (D records drifted), with its history reads."""
    shape = bench.shape
    n, d = shape.managed, shape.differing
    workdir = bench.work / "plan"  # row 1's manifests: D records drifted
    bench.log(f"8: lfr drift, T={shape.opportunities} N={n} D={d}")
    ours = bench.repeat(
        lambda: measure.lfr_drift(bench.main, workdir, bench.pacer, managed=n, differing=d)
    )
    history = int(ours.details["history"])
    planned = bench.best(bench.main_seed, n, d)
    best = {**planned, "read": planned["read"] + history}
    bound = bounds.seconds(best, RTT)
    floor = bounds.floor(best, RTT, bounds.DRIFT_SEQUENTIAL)
    return Measured(
        fields={"wall": ours.wall, "bound": bound, "floor": floor},
        results={
            "drift": {
                "wall": ours.wall,
                "requests": asdict(ours.requests),
                "history": history,
                "best": best,
                "bound": bound,
                "floor": floor,
            }
        },
        notes=[
            f"8: requests {ours.requests.text()} ({history} history reads, each started as "
            f"soon as its record's drift is known); fewest possible {counts(best)}"
        ],
    )


def export(bench: Bench) -> Measured:
    """Row 9: every live opportunity exported into an empty directory (issue 16). One run: it
    is rate-bound and steady, and at T=2,000 a run took ~95 s when each record was read on its
    own."""
    seed = bench.main_seed
    t, records = len(seed.opportunities), seed.listed
    bench.log(f"9: lfr export --all, T={t:,} ({records:,} live opportunities), 1 run")
    workdir = bench.work / "export"
    workdir.mkdir(parents=True, exist_ok=True)
    ours = measure.lfr_export(bench.main, workdir, bench.pacer, records=records)
    return Measured(
        fields={"T": t, "wall": ours.wall},
        results={"export_all": {"wall": ours.wall, "requests": asdict(ours.requests)}},
        notes=[f"9: requests {ours.requests.text()} for {records:,} records"],
    )


def scaling(bench: Bench, t: int) -> Measured:
    """A row 5: ``lfr plan`` of N = T/4 manifests at T opportunities (row 1's own run where
    the sizes are row 1's)."""
    shape = bench.shape
    n, d = t // 4, shape.differing
    seed = bench.scale_seeds.get(t, bench.main_seed)
    bound = bounds.seconds(bench.best(seed, n, d), RTT)
    if t == shape.opportunities and n == shape.managed:
        ours: measure.Run = bench.figures["plan"]["run"]  # the same measurement as row 1
    else:
        bench.log(f"5: scaling, T={t} N={n}")
        emu = bench.scaled[t]
        workdir = bench.manifests(f"scale-{t}", seed.opportunities[:n], seed, spread(n, d))
        ours = bench.repeat(
            lambda: measure.lfr_plan(emu, workdir, bench.pacer, managed=n, differing=d)
        )
    entry: dict[str, Any] = {"wall": ours.wall, "requests": asdict(ours.requests), "bound": bound}
    return Measured(
        fields={"T": t, "N": n, "wall": ours.wall, "bound": bound},
        results={"scaling": {t: entry}},
        notes=[f"5: T={t:,}: requests {ours.requests.text()}"],
    )
