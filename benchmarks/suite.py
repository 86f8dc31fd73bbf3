"""The benchmark rows: what each measures, what it is compared with, and the table.

Owns one invocation (``Suite``): it seeds the emulator databases, starts the emulators as
separate ``lfr emulator serve`` processes on loopback (the real limits and latency; one more
with both off, for the throughput rows), writes the manifests of each row, runs the
measurements of measure.py and turns them into table rows and notes. The rows are always the
same (a skipped one says so), so the smoke run shows that every row still works. Called by
run.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import bounds, core, measure, scale, startup
from .emulator_process import EmulatorProcess
from .shapes import CORE_RUNS, LATENCY_MS, RATE, RTT, SLOW_LATENCY_MS, SLOW_RTT, Shape
from .workload import (
    Opportunity,
    Seeded,
    changed,
    one_more_contact,
    seed_database,
    spread,
    write_manifests,
)

# Issue 16's goal for the core row (session 3's was 2 s).
CORE_GOAL_SECONDS = 1.0

# id, measure, result, compared with, ratio, goal, met
Row = tuple[str, str, str, str, str, str, str]
HEADER: Row = ("#", "measure", "result", "compared with", "ratio", "goal", "met")


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def _counts(counts: dict[str, int]) -> str:
    return f"read {counts['read']}, search {counts['search']}, write {counts['write']}"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def _linking(differing: set[int]) -> int:
    """Raw contact ids the workload's changes newly link (``workload.changed``, kind 2)."""
    return sum(1 for index in differing if index % 4 == 2)


def _yardsticks(wall: float, bound: float, floor: float) -> tuple[str, str]:
    """The "compared with" and "ratio" cells of a row measured against a bound and a floor."""
    return (
        f"bound {_seconds(bound)}, floor {_seconds(floor)}",
        f"{wall / bound:.2f}x, {wall / floor:.2f}x",
    )


class Suite:
    """One invocation: the temporary workspace, the emulators, the rows and notes."""

    def __init__(self, shape: Shape, runs: int, work: Path, log: Callable[[str], None]) -> None:
        self.shape, self.runs, self.work, self.log = shape, runs, work, log
        self.pacer = measure.Pacer()
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.results: dict[str, Any] = {}

    def _repeat(self, once: Callable[[], measure.Run], runs: int | None = None) -> measure.Run:
        """The run with the median wall time (its request counts come with it)."""
        ordered = sorted((once() for _ in range(runs or self.runs)), key=lambda r: r.wall)
        return ordered[(len(ordered) - 1) // 2]

    def _manifests(
        self,
        name: str,
        opportunities: Sequence[Opportunity],
        seeded: Seeded,
        differing: set[int],
    ) -> Path:
        workdir = self.work / name
        write_manifests(workdir / "manifests", opportunities, seeded.vocabulary, differing)
        return workdir

    def _best(self, seed: Seeded, managed: int, differing: int) -> dict[str, int]:
        return bounds.plan_requests(
            listed=seed.listed,
            members=len(seed.vocabulary.members),
            managed=managed,
            differing=differing,
            linking=_linking(spread(managed, differing)),
            link_listed=len(seed.vocabulary.contacts),
        )

    def run(self) -> None:
        shape = self.shape
        self.log(f"seeding T={shape.opportunities:,} and the scaling databases")
        main_seed = seed_database(self.work / "main.sqlite3", shape.opportunities, shape.contacts)
        scale_seeds = {
            t: seed_database(self.work / f"t{t}.sqlite3", t, max(shape.contacts, t // 4))
            for t in shape.scaling
            if t != shape.opportunities
        }
        main = EmulatorProcess("main", main_seed.path, self.work, rate=RATE, latency_ms=LATENCY_MS)
        scaled = {
            t: EmulatorProcess(f"t{t}", seed.path, self.work, rate=RATE, latency_ms=LATENCY_MS)
            for t, seed in scale_seeds.items()
        }
        slow = (
            EmulatorProcess(
                "slow", main_seed.path, self.work, rate=RATE, latency_ms=SLOW_LATENCY_MS
            )
            if shape.slow_rows
            else None
        )
        open_emu = EmulatorProcess("open", main_seed.path, self.work, rate=0, latency_ms=0)
        emulators = [main, *([slow] if slow else []), *scaled.values(), open_emu]
        try:
            self.log(f"starting {len(emulators)} emulator processes")
            for emu in emulators:
                emu.start()
            for emu in emulators:
                emu.wait_ready()
            self._startup()
            plan_run = self._plan_and_baseline(main, main_seed)
            self._all_managed(main, main_seed)
            self._slow(slow, main_seed, plan_run)
            self._drift(main, main_seed)
            self._export(main, main_seed)
            self._applies(main, main_seed)  # they change live records: after the plan rows
            self._set_departure(main, main_seed)  # ... and so does this one
            self._core()
            self._large()
            self._scaling(main_seed, plan_run, scaled, scale_seeds)
            self._throughput(open_emu, main_seed)
        finally:
            for emu in emulators:
                emu.stop()

    # --- rows ---------------------------------------------------------------------------------

    def _startup(self) -> None:
        self.log("0: lfr startup")
        walls = sorted(measure.lfr_startup(self.work) for _ in range(self.runs))
        wall = walls[(len(walls) - 1) // 2]
        self.results["startup"] = wall
        self.rows.append(("0", "lfr startup (`lfr version`)", _seconds(wall), *("-",) * 4))
        # CPU seconds, the steadier figure on a shared machine, in turn with the baseline.
        rounds = max(5, 2 * self.runs + 1)
        timed = startup.measure(rounds)
        self.results["startup_rows"] = timed
        base = timed[startup.BASELINE]["cpu_s"]
        for row_id, name, label in (
            ("0h", "lfr --help", "  `lfr --help`, CPU"),
            ("0v", "lfr --version", "  `lfr --version`, CPU"),
        ):
            ratio = timed[name]["cpu_ratio_to_typer"]
            self.rows.append(
                (
                    row_id,
                    label,
                    _seconds(timed[name]["cpu_s"]),
                    f"`import typer` {_seconds(base)}",
                    f"{ratio:.2f}x",
                    "<= 3x",
                    _met(ratio <= 3),
                )
            )
        imports = timed["imports for lfr plan"]["cpu_s"]
        self.rows.append(
            (
                "0i",
                "  imports for `lfr plan`, CPU",
                _seconds(imports),
                "goal 0.45 s",
                f"{imports / 0.45:.2f}x",
                "<= 0.45 s",
                _met(imports <= 0.45),
            )
        )
        self.notes.append(f"0h-0i: median of {rounds} rounds, each row in turn with the baseline")

    def _plan_and_baseline(self, main: EmulatorProcess, seed: Seeded) -> measure.Run:
        shape = self.shape
        n, d = shape.managed, shape.differing
        workdir = self._manifests("plan", seed.opportunities[:n], seed, spread(n, d))
        self.log(f"1: lfr plan, T={shape.opportunities} N={n} D={d}")
        ours = self._repeat(
            lambda: measure.lfr_plan(main, workdir, self.pacer, managed=n, differing=d)
        )
        best = self._best(seed, n, d)
        bound = bounds.seconds(best, RTT)
        floor = bounds.floor(best, RTT, bounds.PLAN_SEQUENTIAL)
        self.results["plan"] = {
            "wall": ours.wall,
            "requests": asdict(ours.requests),
            "best": best,
            "bound": bound,
            "floor": floor,
        }
        self.rows.append(
            (
                "1",
                f"lfr plan, T={shape.opportunities:,} N={n:,} D={d}, {LATENCY_MS:.0f} ms",
                _seconds(ours.wall),
                *_yardsticks(ours.wall, bound, floor),
                "<= 1.25x floor",
                _met(ours.wall <= 1.25 * floor),
            )
        )
        self.notes.append(
            f"1: requests {ours.requests.text()}, 429s {ours.requests.rate_limited}; "
            f"fewest possible {_counts(best)}; floor = ({max(best.values())} - "
            f"{bounds.BURST}) / {RATE:.0f} + {bounds.PLAN_SEQUENTIAL} round trips"
        )
        for row_id, mode, label, goal in (
            ("2", "list", "SDK list-paging script, same manifests", 3.0),
            ("2r", "per-record", "SDK per-record loop, same manifests", 5.0),
        ):
            self.log(f"{row_id}: {label}")

            def once(mode: str = mode) -> measure.Run:
                return measure.sdk_baseline(
                    main, workdir, self.pacer, managed=n, differing=d, mode=mode
                )

            base = self._repeat(once)
            speedup = base.wall / ours.wall
            self.results[f"baseline_{mode}"] = {
                "wall": base.wall,
                "requests": asdict(base.requests),
            }
            self.rows.append(
                (
                    row_id,
                    label,
                    _seconds(base.wall),
                    f"lfr plan {_seconds(ours.wall)}",
                    f"{speedup:.1f}x",
                    f">= {goal:.0f}x",
                    _met(speedup >= goal),
                )
            )
            self.notes.append(f"{row_id}: requests {base.requests.text()}, one after the other")
        return ours

    def _slow(self, slow: EmulatorProcess | None, seed: Seeded, fast: measure.Run) -> None:
        """Row 1 and the list-paging script at 200 ms a round trip (a real network)."""
        shape = self.shape
        if slow is None:
            self.rows += [
                ("7", f"lfr plan, same, {SLOW_LATENCY_MS:.0f} ms", "skipped", *("-",) * 4),
                ("7s", f"SDK list-paging script, {SLOW_LATENCY_MS:.0f} ms", "skipped", *("-",) * 4),
            ]
            return
        n, d = shape.managed, shape.differing
        workdir = self.work / "plan"  # row 1's manifests; `slow` holds the same records
        self.log(f"7: lfr plan and the list-paging script at {SLOW_LATENCY_MS:.0f} ms")
        ours = self._repeat(
            lambda: measure.lfr_plan(slow, workdir, self.pacer, managed=n, differing=d)
        )
        # One request after the other, latency-bound and steady: one run is enough.
        base = measure.sdk_baseline(slow, workdir, self.pacer, managed=n, differing=d)
        best = self._best(seed, n, d)
        bound = bounds.seconds(best, SLOW_RTT)
        floor = bounds.floor(best, SLOW_RTT, bounds.PLAN_SEQUENTIAL)
        speedup = base.wall / ours.wall
        self.results["slow"] = {
            "wall": ours.wall,
            "requests": asdict(ours.requests),
            "bound": bound,
            "floor": floor,
            "baseline_list_wall": base.wall,
            "at_50ms": fast.wall,
        }
        self.rows += [
            (
                "7",
                f"lfr plan, same, {SLOW_LATENCY_MS:.0f} ms",
                _seconds(ours.wall),
                *_yardsticks(ours.wall, bound, floor),
                "-",
                "-",
            ),
            (
                "7s",
                f"SDK list-paging script, {SLOW_LATENCY_MS:.0f} ms (1 run)",
                _seconds(base.wall),
                f"lfr plan {_seconds(ours.wall)}",
                f"{speedup:.1f}x",
                ">= 5x",
                _met(speedup >= 5),
            ),
        ]
        self.notes.append(
            f"7: requests {ours.requests.text()}, 429s {ours.requests.rate_limited}; "
            f"7s: requests {base.requests.text()}"
        )

    def _drift(self, main: EmulatorProcess, seed: Seeded) -> None:
        shape = self.shape
        n, d = shape.managed, shape.differing
        workdir = self.work / "plan"  # row 1's manifests: D records drifted
        self.log(f"8: lfr drift, T={shape.opportunities} N={n} D={d}")
        ours = self._repeat(
            lambda: measure.lfr_drift(main, workdir, self.pacer, managed=n, differing=d)
        )
        history = int(ours.details["history"])
        plan = self._best(seed, n, d)
        best = {**plan, "read": plan["read"] + history}
        bound = bounds.seconds(best, RTT)
        floor = bounds.floor(best, RTT, bounds.DRIFT_SEQUENTIAL)
        self.results["drift"] = {
            "wall": ours.wall,
            "requests": asdict(ours.requests),
            "history": history,
            "best": best,
            "bound": bound,
            "floor": floor,
        }
        self.rows.append(
            (
                "8",
                f"lfr drift, T={shape.opportunities:,} N={n:,} D={d}",
                _seconds(ours.wall),
                *_yardsticks(ours.wall, bound, floor),
                "<= 1.15x bound",
                _met(ours.wall <= 1.15 * bound),
            )
        )
        self.notes.append(
            f"8: requests {ours.requests.text()} ({history} history reads, each started as "
            f"soon as its record's drift is known); fewest possible {_counts(best)}"
        )

    def _export(self, main: EmulatorProcess, seed: Seeded) -> None:
        """Every live opportunity exported into an empty directory (issue 16). One run: it is
        rate-bound and steady, and at T=2,000 a run took ~95 s when each record was read on
        its own."""
        t, records = len(seed.opportunities), seed.listed
        self.log(f"9: lfr export --all, T={t:,} ({records:,} live opportunities), 1 run")
        workdir = self.work / "export"
        workdir.mkdir(parents=True, exist_ok=True)
        ours = measure.lfr_export(main, workdir, self.pacer, records=records)
        self.results["export_all"] = {"wall": ours.wall, "requests": asdict(ours.requests)}
        self.rows.append(
            (
                "9",
                f"lfr export --all, T={t:,} (1 run)",
                _seconds(ours.wall),
                "goal 10 s",
                f"{ours.wall / 10:.2f}x",
                "<= 10 s",
                _met(ours.wall <= 10),
            )
        )
        self.notes.append(f"9: requests {ours.requests.text()} for {records:,} records")

    def _all_managed(self, main: EmulatorProcess, seed: Seeded) -> None:
        t, d = len(seed.opportunities), self.shape.differing
        workdir = self._manifests("all", seed.opportunities, seed, spread(t, d))
        self.log(f"2b: N = T = {t}: lfr plan and the list-paging script")
        ours = self._repeat(
            lambda: measure.lfr_plan(main, workdir, self.pacer, managed=t, differing=d)
        )
        # One request after the other, latency-bound and steady: one run is enough. The list
        # script reads the same pages whatever N is; the per-record loop (row 2r) would make
        # 2,001 requests, one after the other (~2 minutes).
        base = measure.sdk_baseline(main, workdir, self.pacer, managed=t, differing=d)
        speedup = base.wall / ours.wall
        best = self._best(seed, t, d)
        self.results["all_managed"] = {
            "plan_wall": ours.wall,
            "plan_requests": asdict(ours.requests),
            "plan_bound": bounds.seconds(best, RTT),
            "baseline_wall": base.wall,
        }
        self.rows.append(
            (
                "2b",
                f"SDK list-paging script, N = T = {t:,} (1 run)",
                _seconds(base.wall),
                f"lfr plan {_seconds(ours.wall)}",
                f"{speedup:.1f}x",
                ">= 3x",
                _met(speedup >= 3),
            )
        )
        self.notes.append(
            f"2b: lfr plan requests {ours.requests.text()}; "
            f"bound {_seconds(bounds.seconds(best, RTT))}"
        )

    def _applies(self, main: EmulatorProcess, seed: Seeded) -> None:
        """Three applies of ``apply_updates`` records each, on disjoint thirds of the list (each
        run changes records of its own, so every run starts from the same state)."""
        pool = seed.opportunities
        self._apply(main, seed, pool[0::3])
        self._apply_waiting(main, seed, pool[1::3])
        self._apply_has_many(main, seed, pool[2::3])

    def _set_departure(self, main: EmulatorProcess, seed: Seeded) -> None:
        """Row 10 (issue 17): a rep leaves; one OpportunitySet moves every open deal the first
        member owns to the second. The plan costs the set's filtered pages and one confirming
        read a candidate; the apply one write a record; then a second plan must be empty."""
        leaver, heir = sorted(seed.vocabulary.members.values())[:2]
        workdir = self.work / "set"
        (workdir / "manifests").mkdir(parents=True)
        (workdir / "manifests" / "departure.yaml").write_text(
            "apiVersion: lfr/v1\nkind: OpportunitySet\nmetadata:\n  name: departure\nspec:\n"
            f"  selector:\n    $owner: {{email: {leaver}}}\n    status: open\n"
            f"  relationships:\n    $owner: {{email: {heir}}}\n",
            encoding="utf-8",
        )
        self.log("10: a rep leaves: one OpportunitySet, plan then apply")
        plan = measure.lfr_set_plan(main, workdir, self.pacer)
        k = int(plan.details["updates"])
        if k < 100 and self.shape.opportunities >= 2000:
            raise measure.BenchmarkError(f"the departing rep owns {k} open deals, not >= 100")
        applied = measure.lfr_apply(main, workdir, self.pacer, updates=k)
        again = measure.lfr_set_plan(main, workdir, self.pacer)
        if again.details["updates"] != 0:
            raise measure.BenchmarkError("the second plan of the set is not empty")
        member_pages = math.ceil(len(seed.vocabulary.members) / bounds.PAGE)
        best = {"read": 1 + k, "search": member_pages + math.ceil(k / bounds.PAGE), "write": 0}
        within = all(getattr(plan.requests, c) <= n for c, n in best.items())
        self.results["set_departure"] = {
            "records": k,
            "plan": {"wall": plan.wall, "requests": asdict(plan.requests), "best": best},
            "apply": {"wall": applied.wall, "requests": asdict(applied.requests)},
            "duplicates": int(applied.details["duplicates"]),
        }
        plan_bound = bounds.seconds(best, RTT)
        plan_floor = bounds.floor(best, RTT, bounds.PLAN_SEQUENTIAL)
        # Apply with sets waits for the whole plan (a conflict between documents is known only
        # then): the plan's reads (and the scope check), then the writes, as row 3n.
        writes = {"write": k}
        apply_bound = bounds.seconds({**best, "read": best["read"] + 1}, RTT) + bounds.seconds(
            writes, RTT
        )
        apply_floor = plan_floor + bounds.floor(writes, RTT, bounds.WRITES_SEQUENTIAL)
        self.rows += [
            (
                "10",
                f"a rep leaves: set plan, {k} records",
                _seconds(plan.wall),
                *_yardsticks(plan.wall, plan_bound, plan_floor),
                "requests <= fewest",
                _met(within),
            ),
            (
                "10a",
                f"  its apply --auto-approve --force, {k} writes (plan, then writes)",
                _seconds(applied.wall),
                *_yardsticks(applied.wall, apply_bound, apply_floor),
                "<= 1.2x bound",
                _met(applied.wall <= 1.2 * apply_bound),
            ),
            self._clean("10r", applied),
        ]
        self.notes.append(
            f"10: plan requests {plan.requests.text()} (fewest {_counts(best)}); apply "
            f"{applied.requests.text()}; second plan {again.requests.text()}, empty"
        )

    def _large(self) -> None:
        """Rows 4L, 4v, 4w: a large repository (one run each: they are long and CPU-bound)."""
        n, d = self.shape.large_records, self.shape.core_differing
        directory = self.work / "large"
        self.log(f"4L: core, {n:,} manifests in-process, 1 run (and its input)")
        big = scale.large_core(directory, n, d)
        if (big.details["update"], big.details["noop"]) != (d, n - d):
            raise measure.BenchmarkError(f"core at {n}: unexpected plan {big.details}")
        peak = float(big.details["peak_rss_mb"])
        self.log(f"4v: lfr validate --local, {n:,} manifests")
        valid = scale.validate_large(directory, n)
        local_n = self.shape.local_records
        self.log(f"4w: lfr plan --local, {local_n:,} records")
        local = scale.local_plan(self.work / "local", local_n, 25)
        self.results["large"] = {
            "core": big.details,
            "validate": {"wall": valid.wall, "peak_mb": valid.peak_mb},
            "local_plan": {"wall": local.wall, "peak_mb": local.peak_mb},
        }
        self.rows += [
            (
                "4L",
                f"core at {n:,} records",
                _seconds(big.wall),
                "goal 10 s",
                f"{big.wall / 10:.2f}x",
                "<= 10 s",
                _met(big.wall <= 10),
            ),
            (
                "4Lm",
                "  peak RSS",
                f"{peak:.0f} MB",
                "goal 1,200 MB",
                f"{peak / 1200:.2f}x",
                "<= 1,200 MB",
                _met(peak <= 1200),
            ),
            (
                "4v",
                f"lfr validate --local, {n:,} manifests",
                _seconds(valid.wall),
                "goal 6 s",
                f"{valid.wall / 6:.2f}x",
                "<= 6 s",
                _met(valid.wall <= 6),
            ),
            (
                "4vm",
                "  its peak RSS",
                f"{valid.peak_mb:.0f} MB",
                "goal 500 MB",
                f"{valid.peak_mb / 500:.2f}x",
                "<= 500 MB",
                _met(valid.peak_mb <= 500),
            ),
            (
                "4w",
                f"lfr plan --local, {local_n:,} records, D=25",
                _seconds(local.wall),
                "goal 5 s",
                f"{local.wall / 5:.2f}x",
                "<= 5 s",
                _met(local.wall <= 5),
            ),
        ]
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in big.details["stages"].items())
        self.notes.append(
            f"4L: {stages}; RSS {big.details['rss_before_mb']:.0f} MB before the clock; "
            f"4w: peak RSS {local.peak_mb:.0f} MB"
        )

    def _apply_runs(
        self,
        main: EmulatorProcess,
        seed: Seeded,
        pool: Sequence[Opportunity],
        name: str,
        *,
        force: bool = True,
        edit: Any = changed,
    ) -> measure.Run:
        w = self.shape.apply_updates
        if self.runs * w > len(pool):
            raise measure.BenchmarkError("not enough opportunities for disjoint apply runs")
        # Spread over the list like the plan's differences.
        picked = sorted(spread(len(pool), self.runs * w))
        runs = []
        for k in range(self.runs):
            chosen = [pool[i] for i in picked[k :: self.runs]]
            workdir = self.work / f"{name}-{k}"
            write_manifests(
                workdir / "manifests", chosen, seed.vocabulary, set(range(w)), edit=edit
            )
            runs.append(measure.lfr_apply(main, workdir, self.pacer, updates=w, force=force))
        return sorted(runs, key=lambda r: r.wall)[(len(runs) - 1) // 2]

    def _apply_best(self, seed: Seeded, *, linking: int) -> dict[str, int]:
        w = self.shape.apply_updates
        return bounds.apply_requests(
            listed=seed.listed,
            members=len(seed.vocabulary.members),
            managed=w,
            updates=w,
            linking=linking,
            link_listed=len(seed.vocabulary.contacts),
        )

    def _clean(self, row_id: str, ours: measure.Run) -> Row:
        duplicates = int(ours.details["duplicates"])
        rate_limited = ours.requests.rate_limited
        return (
            row_id,
            "  429 responses, duplicate writes",
            f"{rate_limited}, {duplicates}",
            "-",
            "-",
            "0, 0",
            _met(rate_limited == 0 and duplicates == 0),
        )

    def _apply(self, main: EmulatorProcess, seed: Seeded, pool: Sequence[Opportunity]) -> None:
        w = self.shape.apply_updates
        self.log(f"3: lfr apply --force of {w} updates")
        ours = self._apply_runs(main, seed, pool, "apply")
        write_bound = bounds.seconds({"write": w}, RTT)
        best = self._apply_best(seed, linking=_linking(set(range(w))))
        floor = bounds.floor(best, RTT, bounds.APPLY_STREAMING_SEQUENTIAL)
        read_bound = bounds.seconds({k: v for k, v in best.items() if k != "write"}, RTT)
        serial_bound = read_bound + write_bound
        write_phase = ours.requests.write_span + RTT
        self.results["apply"] = {
            "wall": ours.wall,
            "requests": asdict(ours.requests),
            "duplicates": int(ours.details["duplicates"]),
            "write_bound": write_bound,
            "read_bound": read_bound,
            "floor": floor,
            "write_phase": write_phase,
            "best": best,
        }
        self.rows += [
            (
                "3",
                f"lfr apply --auto-approve --force, {w} updates",
                _seconds(ours.wall),
                *_yardsticks(ours.wall, write_bound, floor),
                "<= 1.2x bound",
                _met(ours.wall <= 1.2 * write_bound),
            ),
            self._clean("3r", ours),
            (
                "3w",
                "  its write phase (first write to last)",
                _seconds(write_phase),
                f"bound {_seconds(write_bound)}",
                f"{write_phase / write_bound:.2f}x",
                "-",
                "-",
            ),
            (
                "3s",
                "  whole apply vs plan-then-write bound",
                _seconds(ours.wall),
                f"{_seconds(read_bound)} + {_seconds(write_bound)}",
                f"{ours.wall / serial_bound:.2f}x",
                "-",
                "-",
            ),
        ]
        self.notes.append(
            f"3: requests {ours.requests.text()}; fewest possible {_counts(best)}; each "
            "record's write starts once its confirming read is back (--auto-approve --force)"
        )

    def _apply_waiting(
        self, main: EmulatorProcess, seed: Seeded, pool: Sequence[Opportunity]
    ) -> None:
        """Without --force: the whole plan is made (and shown) before the first write."""
        w = self.shape.apply_updates
        self.log(f"3n: lfr apply of {w} updates without --force")
        ours = self._apply_runs(main, seed, pool, "apply-waiting", force=False)
        best = self._apply_best(seed, linking=_linking(set(range(w))))
        reads = {k: v for k, v in best.items() if k != "write"}
        bound = bounds.seconds(reads, RTT) + bounds.seconds({"write": w}, RTT)
        floor = bounds.floor(reads, RTT, bounds.PLAN_SEQUENTIAL) + bounds.floor(
            {"write": w}, RTT, bounds.WRITES_SEQUENTIAL
        )
        self.results["apply_waiting"] = {
            "wall": ours.wall,
            "requests": asdict(ours.requests),
            "duplicates": int(ours.details["duplicates"]),
            "bound": bound,
            "floor": floor,
            "best": best,
        }
        self.rows += [
            (
                "3n",
                f"lfr apply --auto-approve (no --force), {w} updates",
                _seconds(ours.wall),
                *_yardsticks(ours.wall, bound, floor),
                "<= 1.2x bound",
                _met(ours.wall <= 1.2 * bound),
            ),
            self._clean("3nr", ours),
        ]
        self.notes.append(
            f"3n: requests {ours.requests.text()}; fewest possible {_counts(best)}; reads, then "
            "writes (--max-change 1 instead of --force: the plan is whole before any write); "
            "bound and floor are the plan's plus the writes'"
        )

    def _apply_has_many(
        self, main: EmulatorProcess, seed: Seeded, pool: Sequence[Opportunity]
    ) -> None:
        """Every change links one more contact by raw id: each new id is confirmed first."""
        w = self.shape.apply_updates
        self.log(f"3h: lfr apply --force of {w} HAS_MANY edits")
        ours = self._apply_runs(main, seed, pool, "apply-links", edit=one_more_contact)
        best = self._apply_best(seed, linking=w)
        bound = bounds.seconds(best, RTT)
        floor = bounds.floor(best, RTT, bounds.APPLY_STREAMING_SEQUENTIAL)
        self.results["apply_has_many"] = {
            "wall": ours.wall,
            "requests": asdict(ours.requests),
            "duplicates": int(ours.details["duplicates"]),
            "bound": bound,
            "floor": floor,
            "best": best,
        }
        self.rows += [
            (
                "3h",
                f"lfr apply --force, {w} HAS_MANY edits ($contact +1)",
                _seconds(ours.wall),
                *_yardsticks(ours.wall, bound, floor),
                "<= 1.2x bound",
                _met(ours.wall <= 1.2 * bound),
            ),
            self._clean("3hr", ours),
        ]
        self.notes.append(
            f"3h: requests {ours.requests.text()}; fewest possible {_counts(best)} (the new "
            "contact ids confirmed by one scan of the contact list)"
        )

    def _core(self) -> None:
        count, d = self.shape.core_records, self.shape.core_differing
        directory = self.work / "core"
        core.make(directory, count, d)
        # Five runs where the others take three: a run costs ~2.5 s, and this CPU-bound row is the
        # one the shared machine's noise moves most (single runs from 1.55 s to 2.1 s).
        runs = 1 if self.runs == 1 else max(self.runs, CORE_RUNS)
        self.log(f"4: core, {count:,} manifests in-process, {runs} runs")
        ours = self._repeat(lambda: measure.core(directory), runs)
        details = ours.details
        if (details["update"], details["noop"]) != (d, count - d):
            raise measure.BenchmarkError(f"core: unexpected plan {details}")
        peak = float(details["peak_rss_mb"])
        self.results["core"] = details
        self.rows += [
            (
                "4",
                f"core: load+validate+diff+render, {count:,} records",
                _seconds(ours.wall),
                f"goal {CORE_GOAL_SECONDS:.0f} s",
                f"{ours.wall / CORE_GOAL_SECONDS:.2f}x",
                f"<= {CORE_GOAL_SECONDS:.0f} s",
                _met(ours.wall <= CORE_GOAL_SECONDS),
            ),
            (
                "4m",
                "  peak RSS (getrusage ru_maxrss)",
                f"{peak:.0f} MB",
                "goal 400 MB",
                f"{peak / 400:.2f}x",
                "<= 400 MB",
                _met(peak <= 400),
            ),
        ]
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in details["stages"].items())
        self.notes.append(
            f"4: median of {runs} runs; {stages}; RSS {details['rss_before_mb']:.0f} MB before "
            "the clock starts "
            f"(interpreter, imports and the {count:,} prefetched live records)"
        )

    def _scaling(
        self,
        main_seed: Seeded,
        main_plan: measure.Run,
        scaled: dict[int, EmulatorProcess],
        seeds: dict[int, Seeded],
    ) -> None:
        d = self.shape.differing
        for t in self.shape.scaling:
            n = t // 4
            seed = seeds.get(t, main_seed)
            bound = bounds.seconds(self._best(seed, n, d), RTT)
            if t == self.shape.opportunities and n == self.shape.managed:
                ours = main_plan  # the same measurement as row 1
            else:
                self.log(f"5: scaling, T={t} N={n}")
                emu = scaled[t]
                workdir = self._manifests(f"scale-{t}", seed.opportunities[:n], seed, spread(n, d))

                def once(emu: EmulatorProcess = emu, workdir: Path = workdir, n: int = n) -> Any:
                    return measure.lfr_plan(emu, workdir, self.pacer, managed=n, differing=d)

                ours = self._repeat(once)
            self.results.setdefault("scaling", {})[t] = {
                "wall": ours.wall,
                "requests": asdict(ours.requests),
                "bound": bound,
            }
            self.rows.append(
                (
                    "5",
                    f"scaling: lfr plan, T={t:,} N={n:,} D={d}",
                    _seconds(ours.wall),
                    f"bound {_seconds(bound)}",
                    f"{ours.wall / bound:.2f}x",
                    "-",
                    "-",
                )
            )
            self.notes.append(f"5: T={t:,}: requests {ours.requests.text()}")
        for t in self.shape.skipped_scaling:
            self.rows.append(("5", f"scaling: lfr plan, T={t:,}", "skipped", *("-",) * 4))

    def _throughput(self, open_emu: EmulatorProcess, seed: Seeded) -> None:
        self.log("6: emulator throughput, limits and latency off")
        ids = [o.id for o in seed.opportunities]
        result = measure.throughput(
            open_emu, ids, reads=self.shape.throughput_reads, pages=self.shape.throughput_pages
        )
        self.results["throughput"] = result
        for row_id, label, key in (
            ("6", "emulator, limits off: retrieve by id", "read"),
            ("6s", f"  list page of 25 (of {seed.listed:,})", "search"),
        ):
            self.rows.append(
                (
                    row_id,
                    label,
                    f"{result[key]:.0f} req/s",
                    "goal 300 req/s",
                    f"{result[key] / 300:.1f}x",
                    ">= 300 req/s",
                    _met(result[key] >= 300),
                )
            )


def render_table(rows: Sequence[Row]) -> str:
    table = [HEADER, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = []
    for index, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
