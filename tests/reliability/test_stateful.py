"""A hypothesis state machine over manifests, out-of-band edits, faults and applies (issue 7).

Rules write or delete a manifest for one of three demo records (values drawn from the
convergence test's strategy), edit a record by hand (managed and unmanaged keys alike), or
apply, under a fault on its writes or not. After every apply (and the one re-run a fault may need):

- no change is in the mutation log twice;
- every value no manifest manages is what it was before the apply;
- the next plan is empty.

Short by default (a few seconds); ``pytest tests/reliability --slow`` runs many more examples.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.core.org import OrgSchema
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.render import text as text_render
from reconciler.runs.apply import apply_plan
from tests.apply.test_convergence import RECORDS, live_body, manifest, values
from tests.support.client import FakeClock
from tests.support.demo import FULL_KEY
from tests.support.emulator import demo_emulator

from .conftest import is_slow
from .harness import duplicate_changes, last_seq, plan_of, snapshot, unmanaged_changes

T = TypeVar("T")

# Writes only, so a plan's reads are never hit; `times` keeps most faults within the retry
# budget, and the storm (no limit) sometimes exhausts it, which the re-run must then repair.
FAULTS = [
    FaultRule(action="status", method="POST", status=429, retry_after=1, times=2),
    FaultRule(action="status", method="POST", status=503, times=3),
    FaultRule(action="commit_then_status", method="POST", status=500, times=2),
    FaultRule(action="commit_then_drop", method="POST", times=2),
    FaultRule(action="drop", method="POST", times=2),
    FaultRule(action="malformed_body", method="POST", times=2),
    FaultRule(action="truncate_body", method="POST", times=1),
    FaultRule(
        action="status", method="POST", status=429, retry_after=1, probability=0.9, times=None
    ),
]
# Keys no manifest of this machine ever manages: hand edits to them must survive every apply.
unmanaged = st.fixed_dictionaries(
    {},
    optional={
        "competitor": st.sampled_from(["Initrode", "Vandelay", None]),
        "docsUrl": st.sampled_from(["https://docs.example/a", None]),
    },
)


class ApplyMachine(RuleBasedStateMachine):
    # Across all examples of a run: what was exercised (the test asserts the faults were).
    totals: ClassVar[dict[str, int]] = {"applies": 0, "faulted": 0, "reruns": 0}

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.emu = demo_emulator(clock=self.clock, rate_limits=RateLimitConfig(enabled=False))
        self.directory = Path(tempfile.mkdtemp(prefix="lfr-stateful-"))
        self.managed: dict[str, set[str]] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.emu.close()

    def run(self, work: Callable[[LightfieldClient], Awaitable[T]], seed: int = 0) -> T:
        async def go() -> T:
            async with LightfieldClient(
                FULL_KEY,
                base_url="http://emulator",
                transport=httpx.ASGITransport(app=self.emu.app),
                rates=None,
                clock=FakeClock(self.clock),
                retry=RetryPolicy(rng=random.Random(seed)),
            ) as client:
                return await work(client)

        # Time passes between the things people do, as it does for a real CRM.
        self.clock.advance(1.0)
        return asyncio.run(go())

    @initialize(wanted=values)
    def first_manifest(self, wanted: dict[str, Any]) -> None:
        self.write_manifest(0, wanted)

    @rule(index=st.integers(0, len(RECORDS) - 1), wanted=values)
    def write_manifest(self, index: int, wanted: dict[str, Any]) -> None:
        (self.directory / f"m{index}.yaml").write_text(
            manifest(f"m{index}", RECORDS[index], wanted), encoding="utf-8"
        )
        self.managed[RECORDS[index]] = set(wanted)

    @rule(index=st.integers(0, len(RECORDS) - 1))
    def stop_managing(self, index: int) -> None:
        (self.directory / f"m{index}.yaml").unlink(missing_ok=True)
        self.managed.pop(RECORDS[index], None)

    @rule(index=st.integers(0, len(RECORDS) - 1), state=values, extra=unmanaged)
    def edit_by_hand(self, index: int, state: dict[str, Any], extra: dict[str, Any]) -> None:
        body = live_body(state)
        body["fields"] |= extra

        async def edit(client: LightfieldClient) -> None:
            await client.update("opportunities", RECORDS[index], body, idempotency_key=None)

        self.run(edit)

    @precondition(lambda self: bool(self.managed))
    @rule(
        fault=st.sampled_from([None, *FAULTS]),
        seed=st.integers(0, 2**16),
        drift=st.none() | st.tuples(st.integers(0, len(RECORDS) - 1), values, unmanaged),
    )
    def apply(
        self,
        fault: FaultRule | None,
        seed: int,
        drift: tuple[int, dict[str, Any], dict[str, Any]] | None,
    ) -> None:
        if drift is not None:  # the CRM moved since the last apply (most runs have work)
            self.edit_by_hand(*drift)
        totals = self.totals
        totals["applies"] += 1
        managed = {record: set(keys) for record, keys in self.managed.items()}
        faults = FaultConfig(rules=[] if fault is None else [fault], seed=seed)

        async def episode(client: LightfieldClient) -> list[str]:
            before = await snapshot(client, RECORDS)
            since = last_seq(self.emu)
            plan = await plan_of(client, self.directory)
            schema = OrgSchema(await client.definitions("opportunities"))
            self.emu.faults.configure(faults)
            report = await apply_plan(client, plan, schema)
            totals["faulted"] += any(c["fired"] for c in self.emu.faults.counters())
            self.emu.faults.configure(FaultConfig())
            if not report.ok:
                totals["reruns"] += 1
                rerun = await apply_plan(client, await plan_of(client, self.directory), schema)
                assert rerun.ok, text_render.render_report(rerun)
            assert duplicate_changes(self.emu, since) == []
            assert unmanaged_changes(before, await snapshot(client, RECORDS), managed) == []
            after = await plan_of(client, self.directory)
            return [r.name for r in after.records if r.action != "noop"]

        assert self.run(episode, seed) == [], "the plan after a successful apply is not empty"


def test_random_manifests_edits_and_faults_converge_without_duplicates(
    request: pytest.FixtureRequest,
) -> None:
    slow = is_slow(request.config)
    ApplyMachine.totals = dict.fromkeys(ApplyMachine.totals, 0)
    run_state_machine_as_test(
        ApplyMachine,
        settings=settings(
            max_examples=300 if slow else 50,
            stateful_step_count=30 if slow else 20,
            # The quick run explores the same examples every time (reproducible figures);
            # --slow explores new ones.
            derandomize=not slow,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    totals = ApplyMachine.totals
    assert totals["applies"] > 0 and totals["faulted"] > 0, totals
    print(f"stateful: {totals}")  # shown with -s; RELIABILITY.md quotes it
