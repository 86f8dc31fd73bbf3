"""Creates from `match` manifests: the selector compared like the diff compares values, bodies
that keep HAS_ONE links (and `$account`) in the create, no duplicate when the list lags behind
a new commit, and a record trashed after its create is made again rather than reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.core.plan import Plan
from reconciler.core.reports import ApplyReport
from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.runs.apply import apply_plan
from reconciler.runs.plan import run_plan
from tests.support.demo import FULL_KEY, INITECH_ACCOUNT, JANE, WriteManifest
from tests.support.emulator import demo_emulator

HOOLI = "acc_cm77puc4peiezar"


def matcher(name: str, selector: str, spec: str = "") -> str:
    """A manifest that creates its record when ``selector`` finds none; the create states its
    ``$stage`` (the strict-0.20 contract requires it: docs/api-contract.md §4)."""
    if "$stage" not in selector and selector.startswith("{"):
        selector = "{$stage: Prospecting, " + selector[1:]
    return (
        f"apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: {name}\n"
        f"  match: {selector}\n" + (f"spec:\n{spec}\n" if spec else "")
    )


async def plan_of(client: LightfieldClient, directory: Path, revision_note: str = "") -> Plan:
    outcome = await run_plan(client, directory, target="t")
    assert outcome.plan is not None, outcome.problems
    return outcome.plan


async def apply_all(client: LightfieldClient, directory: Path) -> tuple[Plan, ApplyReport]:
    outcome = await run_plan(client, directory, target="t")
    assert outcome.plan is not None and outcome.schema is not None, outcome.problems
    return outcome.plan, await apply_plan(client, outcome.plan, outcome.schema)


async def opportunities_named(client: LightfieldClient, name: str) -> list[str]:
    return [r.id for r in await client.list_all("opportunities") if r.value("$name") == name]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "extra",
    ["products: [Platform, Support]", "billingEmails: [ap@hooli.example]", "legalEmail: l@h.io"],
    ids=["multi-select", "multi email", "single email"],
)
async def test_match_on_any_value_type_finds_the_created_record(
    extra: str, write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write("m.yaml", matcher("m", f"{{$name: Typed deal, $account: {HOOLI}, {extra}}}"))
    _, report = await apply_all(client, manifest_dir)
    assert report.ok, report
    again = await plan_of(client, manifest_dir)
    assert [r.action for r in again.records] == ["noop"]
    assert len(await opportunities_named(client, "Typed deal")) == 1


@pytest.mark.anyio
async def test_a_create_with_many_links_keeps_account_and_has_one_in_its_body(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    contacts = []
    for i in range(30):
        created = await client.create(
            "contacts",
            {"fields": {"$email": [f"c{i}@many.example"]}, "relationships": {"$account": HOOLI}},
            idempotency_key=None,
        )
        contacts.append(created.id)
    links = ", ".join(contacts)
    spec = f"  relationships:\n    $contact: [{links}]\n    $owner: {JANE}"
    write("big.yaml", matcher("big", f"{{$name: Big deal, $account: {HOOLI}}}", spec))
    emu.reset_logs()
    plan, report = await apply_all(client, manifest_dir)
    assert report.ok, report
    create, *follow_ups = [r.body for r in plan.records[0].requests]
    assert create["relationships"]["$account"] == HOOLI
    assert create["relationships"]["$owner"] == JANE
    assert len(create["relationships"]["$contact"]) == 23  # 25 ids minus the two HAS_ONE
    assert follow_ups == [{"relationships": {"$contact": {"add": sorted(contacts)[23:]}}}]
    (record_id,) = await opportunities_named(client, "Big deal")
    live = await client.retrieve("opportunities", record_id)
    assert sorted(live.related_ids("$contact")) == sorted(contacts)


@pytest.mark.anyio
async def test_a_new_commit_while_the_list_lags_does_not_create_a_duplicate(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    write("new.yaml", matcher("new", f"{{$name: Lagging deal, $account: {INITECH_ACCOUNT}}}"))
    _, first = await apply_all(client, manifest_dir)
    assert first.ok
    # The list has not caught up yet, and the repository has a new revision.
    emu.faults.configure(FaultConfig(list_lag_seconds=3600))
    write("other.yaml", matcher("other", f"{{$name: Lagging deal 2, $account: {INITECH_ACCOUNT}}}"))
    _, second = await apply_all(client, manifest_dir)
    assert second.ok, second
    emu.faults.configure(FaultConfig())
    assert len(await opportunities_named(client, "Lagging deal")) == 1


@pytest.mark.anyio
async def test_a_record_trashed_after_its_create_is_created_again(
    write: WriteManifest, manifest_dir: Path
) -> None:
    clock = ManualClock()
    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False), clock=clock)
    async with LightfieldClient.for_asgi_app(emu.app, FULL_KEY, rates=None) as client:
        write("new.yaml", matcher("new", f"{{$name: Phoenix deal, $account: {INITECH_ACCOUNT}}}"))
        _, first = await apply_all(client, manifest_dir)
        (gone,) = await opportunities_named(client, "Phoenix deal")
        await client.delete("opportunities", gone)
        clock.advance(3600)  # someone trashed it an hour later
        _, second = await apply_all(client, manifest_dir)
        (result,) = second.results
        assert (result.status, second.ok) == ("applied", True)
        assert result.id != gone
        (alive,) = await opportunities_named(client, "Phoenix deal")
        assert alive == result.id
        assert not (await plan_of(client, manifest_dir)).has_changes
    assert first.ok
