"""The measurements of the rows that write: ``lfr apply`` (rows 3, 3n, 3h) and a rep leaving,
one OpportunitySet planned and applied (10).

Owns what each of them runs (disjoint records a run, so every run starts from the same state),
the fewest requests it could make and its bounds and floors (bounds.py), and what it reports:
the fields its rows are spelled from (table.py), its JSON entry and its notes. They change
live records, so table.py puts them after the rows that read. Called through table.py by
bench.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from . import bounds, measure
from .cells import Measured, counts
from .shapes import RTT
from .workload import Opportunity, changed, linking, one_more_contact, spread, write_manifests

if TYPE_CHECKING:
    from .bench import Bench


def _runs(
    bench: Bench,
    pool: Sequence[Opportunity],
    name: str,
    *,
    force: bool = True,
    edit: Any = changed,
) -> measure.Run:
    """The median of ``bench.runs`` applies of ``apply_updates`` records each from ``pool``,
    each run on records of its own."""
    w = bench.shape.apply_updates
    if bench.runs * w > len(pool):
        raise measure.BenchmarkError("not enough opportunities for disjoint apply runs")
    # Spread over the list like the plan's differences.
    picked = sorted(spread(len(pool), bench.runs * w))
    runs = []
    for k in range(bench.runs):
        chosen = [pool[i] for i in picked[k :: bench.runs]]
        workdir = bench.work / f"{name}-{k}"
        write_manifests(
            workdir / "manifests", chosen, bench.main_seed.vocabulary, set(range(w)), edit=edit
        )
        runs.append(measure.lfr_apply(bench.main, workdir, bench.pacer, updates=w, force=force))
    return sorted(runs, key=lambda r: r.wall)[(len(runs) - 1) // 2]


def _best(bench: Bench, *, linking: int) -> dict[str, int]:
    w, seed = bench.shape.apply_updates, bench.main_seed
    return bounds.apply_requests(
        listed=seed.listed,
        members=len(seed.vocabulary.members),
        managed=w,
        updates=w,
        linking=linking,
        link_listed=len(seed.vocabulary.contacts),
    )


def _clean(ours: measure.Run) -> dict[str, Any]:
    """The fields of a "429 responses, duplicate writes" row (table.clean)."""
    duplicates = int(ours.details["duplicates"])
    rate_limited = ours.requests.rate_limited
    return {
        "clean": f"{rate_limited}, {duplicates}",
        "clean_ok": rate_limited == 0 and duplicates == 0,
    }


def _result(ours: measure.Run, **figures: Any) -> dict[str, Any]:
    return {
        "wall": ours.wall,
        "requests": asdict(ours.requests),
        "duplicates": int(ours.details["duplicates"]),
        **figures,
    }


def _bounded(
    name: str, ours: measure.Run, best: dict[str, int], bound: float, floor: float, note: str
) -> Measured:
    """An apply row measured against its bound and floor, and its clean row."""
    return Measured(
        fields={"wall": ours.wall, "bound": bound, "floor": floor, **_clean(ours)},
        results={name: _result(ours, bound=bound, floor=floor, best=best)},
        notes=[note],
    )


def streaming(bench: Bench) -> Measured:
    """Rows 3, 3r, 3w, 3s: ``lfr apply --auto-approve --force``: each record's write starts
    once its confirming read is back, while the rest is read (the first third of the list)."""
    w = bench.shape.apply_updates
    bench.log(f"3: lfr apply --force of {w} updates")
    ours = _runs(bench, bench.main_seed.opportunities[0::3], "apply")
    write_bound = bounds.seconds({"write": w}, RTT)
    best = _best(bench, linking=linking(set(range(w))))
    floor = bounds.floor(best, RTT, bounds.APPLY_STREAMING_SEQUENTIAL)
    read_bound = bounds.seconds({k: v for k, v in best.items() if k != "write"}, RTT)
    write_phase = ours.requests.write_span + RTT
    return Measured(
        fields={
            "wall": ours.wall,
            "bound": write_bound,
            "floor": floor,
            "read_bound": read_bound,
            "write_phase": write_phase,
            **_clean(ours),
        },
        results={
            "apply": _result(
                ours,
                write_bound=write_bound,
                read_bound=read_bound,
                floor=floor,
                write_phase=write_phase,
                best=best,
            )
        },
        notes=[
            f"3: requests {ours.requests.text()}; fewest possible {counts(best)}; each "
            "record's write starts once its confirming read is back (--auto-approve --force)"
        ],
    )


def waiting(bench: Bench) -> Measured:
    """Rows 3n, 3nr: without --force the whole plan is made (and shown) before the first write
    (the second third of the list)."""
    w = bench.shape.apply_updates
    bench.log(f"3n: lfr apply of {w} updates without --force")
    ours = _runs(bench, bench.main_seed.opportunities[1::3], "apply-waiting", force=False)
    best = _best(bench, linking=linking(set(range(w))))
    reads = {k: v for k, v in best.items() if k != "write"}
    bound = bounds.seconds(reads, RTT) + bounds.seconds({"write": w}, RTT)
    floor = bounds.floor(reads, RTT, bounds.PLAN_SEQUENTIAL) + bounds.floor(
        {"write": w}, RTT, bounds.WRITES_SEQUENTIAL
    )
    return _bounded(
        "apply_waiting",
        ours,
        best,
        bound,
        floor,
        f"3n: requests {ours.requests.text()}; fewest possible {counts(best)}; reads, then "
        "writes (--max-change 1 instead of --force: the plan is whole before any write); "
        "bound and floor are the plan's plus the writes'",
    )


def has_many(bench: Bench) -> Measured:
    """Rows 3h, 3hr: every change links one more contact by raw id, each new id confirmed
    first (the last third of the list)."""
    w = bench.shape.apply_updates
    bench.log(f"3h: lfr apply --force of {w} HAS_MANY edits")
    pool = bench.main_seed.opportunities[2::3]
    ours = _runs(bench, pool, "apply-links", edit=one_more_contact)
    best = _best(bench, linking=w)
    bound = bounds.seconds(best, RTT)
    floor = bounds.floor(best, RTT, bounds.APPLY_STREAMING_SEQUENTIAL)
    return _bounded(
        "apply_has_many",
        ours,
        best,
        bound,
        floor,
        f"3h: requests {ours.requests.text()}; fewest possible {counts(best)} (the new "
        "contact ids confirmed by one scan of the contact list)",
    )


def departure(bench: Bench) -> Measured:
    """Rows 10, 10a, 10r (issue 17): a rep leaves; one OpportunitySet moves every open deal the
    first member owns to the second. The plan costs the set's filtered pages and one
    confirming read a candidate; the apply one write a record; then a second plan must be
    empty."""
    seed = bench.main_seed
    leaver, heir = sorted(seed.vocabulary.members.values())[:2]
    workdir = bench.work / "set"
    (workdir / "manifests").mkdir(parents=True)
    (workdir / "manifests" / "departure.yaml").write_text(
        "apiVersion: lfr/v1\nkind: OpportunitySet\nmetadata:\n  name: departure\nspec:\n"
        f"  selector:\n    $owner: {{email: {leaver}}}\n    status: open\n"
        f"  relationships:\n    $owner: {{email: {heir}}}\n",
        encoding="utf-8",
    )
    bench.log("10: a rep leaves: one OpportunitySet, plan then apply")
    plan = measure.lfr_set_plan(bench.main, workdir, bench.pacer)
    k = int(plan.details["updates"])
    if k < 100 and bench.shape.opportunities >= 2000:
        raise measure.BenchmarkError(f"the departing rep owns {k} open deals, not >= 100")
    applied = measure.lfr_apply(bench.main, workdir, bench.pacer, updates=k)
    again = measure.lfr_set_plan(bench.main, workdir, bench.pacer)
    if again.details["updates"] != 0:
        raise measure.BenchmarkError("the second plan of the set is not empty")
    member_pages = math.ceil(len(seed.vocabulary.members) / bounds.PAGE)
    best = {"read": 1 + k, "search": member_pages + math.ceil(k / bounds.PAGE), "write": 0}
    plan_bound = bounds.seconds(best, RTT)
    plan_floor = bounds.floor(best, RTT, bounds.PLAN_SEQUENTIAL)
    # Apply with sets waits for the whole plan (a conflict between documents is known only
    # then): the plan's reads (and the scope check), then the writes, as row 3n.
    writes = {"write": k}
    apply_bound = bounds.seconds({**best, "read": best["read"] + 1}, RTT) + bounds.seconds(
        writes, RTT
    )
    return Measured(
        fields={
            "k": k,
            "wall": plan.wall,
            "bound": plan_bound,
            "floor": plan_floor,
            "within": all(getattr(plan.requests, c) <= n for c, n in best.items()),
            "apply_wall": applied.wall,
            "apply_bound": apply_bound,
            "apply_floor": plan_floor + bounds.floor(writes, RTT, bounds.WRITES_SEQUENTIAL),
            **_clean(applied),
        },
        results={
            "set_departure": {
                "records": k,
                "plan": {"wall": plan.wall, "requests": asdict(plan.requests), "best": best},
                "apply": {"wall": applied.wall, "requests": asdict(applied.requests)},
                "duplicates": int(applied.details["duplicates"]),
            }
        },
        notes=[
            f"10: plan requests {plan.requests.text()} (fewest {counts(best)}); apply "
            f"{applied.requests.text()}; second plan {again.requests.text()}, empty"
        ],
    )
