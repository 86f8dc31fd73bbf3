"""apply against the emulator: minimal bodies, convergence, exactly-once under faults and
re-runs, partial failure, verification. The emulator's request and mutation logs are the proof."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.core.org import OrgSchema
from reconciler.core.plan import Plan
from reconciler.core.reports import ApplyReport
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.runs.apply import apply_plan
from reconciler.runs.plan import run_plan
from tests.support.demo import (
    ACME_RENEWAL,
    ALEX,
    FULL_KEY,
    INITECH,
    NINA,
    PRIYA,
    PROSPECTING,
    SALES_PIPELINE,
    SAM,
    WriteManifest,
    opportunity,
)

from .conftest import changes_applied, writes


async def plan_of(client: LightfieldClient, directory: Path) -> Plan:
    outcome = await run_plan(client, directory, target="test")
    assert outcome.plan is not None, outcome.problems
    return outcome.plan


async def plan_and_apply(client: LightfieldClient, directory: Path) -> ApplyReport:
    plan = await plan_of(client, directory)
    schema = OrgSchema(await client.definitions("opportunities"))
    return await apply_plan(client, plan, schema)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ("fields:\n  $amount: 1", {"fields": {"$amount": 1}}),
        (
            f"relationships:\n  $contact: [{ALEX}, {NINA}]",
            {"relationships": {"$contact": {"add": [NINA]}}},
        ),
        (
            f"relationships:\n  $owner: {PRIYA}",
            {"relationships": {"$owner": {"replace": PRIYA}}},
        ),
    ],
    ids=["one field", "one contact", "has-one"],
)
async def test_bodies_are_minimal(
    spec: str,
    body: dict[str, object],
    write: WriteManifest,
    manifest_dir: Path,
    client: LightfieldClient,
    emu: Emulator,
) -> None:
    write(
        "m.yaml",
        opportunity(
            "m",
            ACME_RENEWAL,
            f"fields:\n  $amount: 120000\n{spec}" if "fields" not in spec else spec,
        ),
    )
    report = await plan_and_apply(client, manifest_dir)
    assert report.ok, report
    assert [w["body"] for w in writes(emu)] == [body]


@pytest.mark.anyio
async def test_sixty_contact_changes_are_split_and_accepted(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    # 60 new contacts for the renewal, replacing Alex.
    account = "acc_cmt2omrddfwb9ej"
    new = []
    for i in range(60):
        created = await client.create(
            "contacts",
            {"fields": {"$email": [f"c{i}@bulk.example"]}, "relationships": {"$account": account}},
            idempotency_key=None,
        )
        new.append(created.id)
    emu.reset_logs()
    write(
        "m.yaml",
        opportunity("m", ACME_RENEWAL, "relationships:\n  $contact: [" + ", ".join(new) + "]"),
    )
    report = await plan_and_apply(client, manifest_dir)
    assert report.ok, report
    bodies = [w["body"]["relationships"]["$contact"] for w in writes(emu)]
    # 60 adds in 25, 25 and 10; Alex's removal on its own (one verb an operation).
    assert [(verb, len(ids)) for b in bodies for verb, ids in b.items()] == [
        ("add", 25),
        ("add", 25),
        ("add", 10),
        ("remove", 1),
    ]
    assert all(w["status"] == 200 for w in writes(emu))
    live = await client.retrieve("opportunities", ACME_RENEWAL)
    assert sorted(live.related_ids("$contact")) == sorted(new)


@pytest.mark.anyio
async def test_second_run_sends_nothing_and_plan_is_empty(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    write(
        "a.yaml",
        opportunity("a", ACME_RENEWAL, f"fields:\n  $amount: 7\nrelationships:\n  $owner: {PRIYA}"),
    )
    write("b.yaml", opportunity("b", INITECH, "fields:\n  priority: 2"))
    first = await plan_and_apply(client, manifest_dir)
    assert (first.ok, first.count("applied")) == (True, 2)
    emu.reset_logs()
    again = await plan_of(client, manifest_dir)
    assert not again.has_changes
    assert writes(emu) == []


@pytest.mark.anyio
async def test_a_create_then_converges(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        "  match: {$name: Brand new deal, $account: {name: Initech}}\n"
        # $stage: the strict-0.20 contract requires it on create (docs/api-contract.md §4).
        "spec:\n  fields: {$amount: 10, $stage: Prospecting}\n"
        f"  relationships: {{$contact: [{SAM}, {NINA}]}}\n",
    )
    report = await plan_and_apply(client, manifest_dir)
    assert report.ok, report
    (create,) = writes(emu)
    assert create["path"] == "/v1/opportunities"
    assert create["body"] == {
        # $pipeline: the one the stage implies, sent with it (README, stages in several pipelines).
        "fields": {
            "$name": "Brand new deal",
            "$amount": 10,
            "$stage": PROSPECTING,
            "$pipeline": SALES_PIPELINE,
        },
        "relationships": {"$account": "acc_cm1x15pik34mdzo", "$contact": sorted([SAM, NINA])},
    }
    assert not (await plan_of(client, manifest_dir)).has_changes


@pytest.mark.anyio
@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(action="status", method="POST", status=429, retry_after=1, times=2),
        FaultRule(action="status", method="POST", status=503, times=2),
        FaultRule(action="commit_then_status", method="POST", status=500, times=1),
        FaultRule(action="commit_then_drop", method="POST", times=1),
        FaultRule(action="malformed_body", method="POST", times=1),
    ],
    ids=["429", "503", "500 after commit", "drop after commit", "malformed 200"],
)
async def test_each_change_lands_exactly_once_under_faults(
    rule: FaultRule,
    write: WriteManifest,
    manifest_dir: Path,
    client: LightfieldClient,
    emu: Emulator,
) -> None:
    write(
        "a.yaml",
        opportunity(
            "a", ACME_RENEWAL, f"fields:\n  $amount: 7\nrelationships:\n  $contact: [{ALEX}, {SAM}]"
        ),
    )
    emu.faults.configure(FaultConfig(rules=[rule]))
    report = await plan_and_apply(client, manifest_dir)
    assert report.ok, report
    applied = changes_applied(emu)
    assert Counter(applied) == Counter(
        [(ACME_RENEWAL, "$amount", "7"), (ACME_RENEWAL, "$contact", f"+{SAM}")]
    )
    keys = {w["idempotency_key"] for w in writes(emu)}
    assert len(keys) == 1, "every attempt carries the same key"
    assert not (await plan_of(client, manifest_dir)).has_changes


@pytest.mark.anyio
async def test_one_bad_record_fails_alone_with_its_file_and_line(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    # The plan confirms the contact exists; it is trashed before the apply, which then fails
    # for this record alone.
    write(
        "bad.yaml",
        opportunity(
            "bad", ACME_RENEWAL, f"fields:\n  $amount: 5\nrelationships:\n  $champion: {SAM}"
        ),
    )
    write("good.yaml", opportunity("good", INITECH, "fields:\n  priority: 3"))
    plan = await plan_of(client, manifest_dir)
    await client.delete("contacts", SAM)
    report = await apply_plan(client, plan, OrgSchema(await client.definitions("opportunities")))
    assert not report.ok
    by_name = {r.name: r for r in report.results}
    assert by_name["good"].status == "applied"
    bad = by_name["bad"]
    assert bad.status == "failed" and bad.failure is not None
    assert (bad.failure.type, bad.failure.code) == (
        "unprocessable_content",
        "relationship_entity_inactive",
    )
    assert str(bad.failure.origin) == "manifests/bad.yaml:10"
    # No retry of a 422: exactly one attempt for the bad record.
    assert len([w for w in writes(emu) if ACME_RENEWAL in w["path"]]) == 1


@pytest.mark.anyio
async def test_a_stale_idempotent_replay_is_detected_and_resent_once(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 7"))
    first = await plan_and_apply(client, manifest_dir)
    assert first.ok
    # Someone reverts the value by hand: the world is back where the first plan started, so a
    # new plan computes the same key, and the API would replay the first (now stale) answer.
    await client.update(
        "opportunities", ACME_RENEWAL, {"fields": {"$amount": 120000}}, idempotency_key=None
    )
    again = await plan_and_apply(client, manifest_dir)
    (result,) = again.results
    assert (result.status, result.resent) == ("applied", True)
    assert (await client.retrieve("opportunities", ACME_RENEWAL)).value("$amount") == 7
    ours = [m for m in emu.mutations() if (m["idempotency_key"] or "").startswith("lfr1-")]
    assert [m["changes"]["fields"]["$amount"]["after"] for m in ours] == [7, 7]
    assert ours[0]["idempotency_key"] != ours[1]["idempotency_key"]


class RevertingTransport(httpx.AsyncBaseTransport):
    """Plays a CRM automation that sets $amount back to 120000 as part of every write."""

    def __init__(self, emu: Emulator) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "POST":
            return response
        body = json.loads(await response.aread())
        body["fields"]["$amount"]["value"] = 120000
        return httpx.Response(response.status_code, headers=response.headers, json=body)


@pytest.mark.anyio
async def test_a_value_changed_back_is_reported_not_counted_as_success(
    write: WriteManifest, manifest_dir: Path, emu: Emulator
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 7"))
    transport = RevertingTransport(emu)
    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator", transport=transport, rates=None
    ) as client:
        report = await plan_and_apply(client, manifest_dir)
    (result,) = report.results
    assert result.status == "unverified"
    assert not report.ok
    assert result.failure is not None
    assert "does not hold the planned value of $amount" in result.failure.message
    assert str(result.failure.origin) == "manifests/a.yaml:8"
