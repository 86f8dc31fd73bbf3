"""Live-state fetching and reference resolution: the requests they make, counted in the
emulator's request log, and the answers they give when the list index lags."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.runs.plan import run_plan
from tests.support.demo import ACME_COM as ACME
from tests.support.demo import (
    ACME_RENEWAL,
    FULL_KEY,
    INITECH,
    PROSPECTING,
    WriteManifest,
    opportunity,
)
from tests.support.emulator import demo_emulator


def categories(emu: Emulator) -> Counter[str]:
    return Counter(r["category"] for r in emu.requests())


async def all_opportunity_ids(client: LightfieldClient) -> list[str]:
    return [r.id for r in await client.list_all("opportunities")]


@pytest.mark.anyio
async def test_few_records_are_read_by_id_without_a_list_scan(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 1"))
    write("b.yaml", opportunity("b", INITECH, "fields:\n  $amount: 75000"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None and outcome.fetch_strategy == "by-id"
    gets = [r["path"] for r in emu.requests() if r["path"].startswith("/v1/opportunities/opp_")]
    assert sorted(gets) == sorted(
        [f"/v1/opportunities/{ACME_RENEWAL}", f"/v1/opportunities/{INITECH}"]
    )
    # Definitions (read) and the two records (read); no opportunity list at all.
    assert [r for r in emu.requests() if r["path"] == "/v1/opportunities"] == []


@pytest.mark.anyio
async def test_many_records_are_scanned_and_only_differences_confirmed(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    emu.seed_bulk(opportunities=200)
    ids = await all_opportunity_ids(client)
    records = {r: await client.retrieve("opportunities", r) for r in ids[:120]}
    for index, (record_id, record) in enumerate(records.items()):
        amount = record.value("$amount")
        assert amount is None or isinstance(amount, int | float), amount
        # Five records differ from live; the other 115 match it.
        wanted = (amount or 0) + 1 if index % 24 == 0 else amount
        write(
            f"m{index}.yaml",
            opportunity(
                f"m{index}",
                record_id,
                f"fields:\n  $amount: {wanted if wanted is not None else 'null'}",
            ),
        )
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None, outcome.problems
    assert outcome.fetch_strategy == "scan"
    assert outcome.plan.count("update") == 5
    assert outcome.plan.count("noop") == 115
    pages = [r for r in emu.requests() if r["path"] == "/v1/opportunities"]
    reads = [r for r in emu.requests() if r["path"].startswith("/v1/opportunities/opp_")]
    total = len(ids)
    assert len(pages) == -(-total // 25)  # every page once
    assert len(reads) == 5  # only the differing records are confirmed by id


@pytest.mark.anyio
async def test_a_lagging_list_index_never_shows_up_as_a_change(
    write: WriteManifest, manifest_dir: Path
) -> None:
    clock = ManualClock()
    emu = demo_emulator(
        clock=clock,
        rate_limits=RateLimitConfig(enabled=False),
    )
    emu.seed_bulk(opportunities=100)
    transport = httpx.ASGITransport(app=emu.app)
    async with LightfieldClient(
        FULL_KEY, base_url="http://e", transport=transport, rates=None
    ) as client:
        ids = await all_opportunity_ids(client)
        for index, record_id in enumerate(ids[:60]):
            write(f"m{index}.yaml", opportunity(f"m{index}", record_id, "fields:\n  priority: 7"))
        # Apply the manifests' values out of band, then let lists lag behind those writes.
        clock.advance(10)
        for record_id in ids[:60]:
            await client.update(
                "opportunities", record_id, {"fields": {"priority": 7}}, idempotency_key=None
            )
        emu.faults.configure(FaultConfig(list_lag_seconds=3600))
        emu.reset_logs()
        outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None and outcome.fetch_strategy == "scan"
    # The stale list shows every record as different; the confirming reads show the truth.
    reads = [r for r in emu.requests() if r["path"].startswith("/v1/opportunities/opp_")]
    assert len(reads) == 60
    assert outcome.plan.count("update") == 0
    assert outcome.plan.count("noop") == 60


@pytest.mark.anyio
async def test_match_finds_the_record_or_plans_a_create(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    header = "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n"
    write(
        "existing.yaml",
        header + "  name: existing\n  match: {$name: acme renewal 2027, $stage: Proposal, "
        "$account: {domain: acme.com}}\n"
        "spec:\n  fields: {$amount: 120000}\n",
    )
    write(
        "new.yaml",
        header + "  name: new\n  match: {$name: Brand new, $stage: Prospecting, "
        "$account: {name: Initech}}\n",
    )
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None, outcome.problems
    actions = {r.name: (r.action, r.id) for r in outcome.plan.records}
    assert actions == {"existing": ("noop", ACME_RENEWAL), "new": ("create", None)}
    (create,) = [r for r in outcome.plan.records if r.action == "create"]
    assert [(r.path, r.body) for r in create.requests] == [
        (
            "/v1/opportunities",
            {
                "fields": {"$name": "Brand new", "$stage": PROSPECTING},
                "relationships": {"$account": "acc_cm1x15pik34mdzo"},
            },
        )
    ]


async def rename(client: LightfieldClient, name: str) -> None:
    body = {"fields": {"$name": name}}
    await client.update("opportunities", ACME_RENEWAL, body, idempotency_key=f"rename-{len(name)}")


def opportunity_lists(emu: Emulator) -> list[str]:
    return [r["query"] for r in emu.requests() if r["path"] == "/v1/opportunities"]


@pytest.mark.anyio
async def test_match_compares_text_as_the_diff_does_even_if_the_server_filter_is_exact(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    header = "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n"
    # Someone typed the name with doubled spaces: `$name[equal]` does not list it.
    await rename(client, "Acme  Renewal  2027")
    write(
        "m.yaml",
        header + f"  name: m\n  match: {{$name: acme renewal 2027, $account: {ACME}}}\n"
        "  onMissing: error\n",
    )
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None, outcome.problems
    assert [(r.action, r.id) for r in outcome.plan.records] == [("noop", ACME_RENEWAL)]
    # The exact query found nothing; the second, by account alone, found the record.
    first, second = opportunity_lists(emu)
    assert "equal" in first and "equal" not in second and ACME in second
    # Found at once (or with no other filter to go by), there is no second query.
    await rename(client, "Acme renewal 2027")
    emu.reset_logs()
    assert (await run_plan(client, manifest_dir, target="t")).plan is not None
    assert len(opportunity_lists(emu)) == 1
    # With the name alone, the second query lists by the first word as a prefix: the selector,
    # compared with whitespace collapsed, finds the record (issue 13: no duplicate planned).
    write(
        "m.yaml", header + "  name: m\n  match: {$name: acme  renewal 2027}\n  onMissing: error\n"
    )
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None, outcome.problems
    assert [(r.action, r.id) for r in outcome.plan.records] == [("noop", ACME_RENEWAL)]
    first, second = opportunity_lists(emu)
    assert "equal" in first and "startsWith" in second and "acme" in second


@pytest.mark.anyio
async def test_match_on_error_when_missing_is_a_problem(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write(
        "strict.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: strict\n"
        "  match: {$name: Nothing like this}\n  onMissing: error\n",
    )
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [str(p) for p in outcome.problems] == [
        "manifests/strict.yaml:5: strict: no opportunity matches metadata.match (onMissing: error)"
    ]


@pytest.mark.anyio
async def test_each_reference_kind_resolves_to_an_id(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    spec = (
        "relationships:\n"
        "  $owner: {email: PRIYA@acme-sales.example}\n"  # member, case-insensitive
        "  $champion: {email: nina@acme.com}\n"  # contact by email
        "  partners: [{name: Initech}, {domain: www.hooli.example}]\n"  # account by name, domain
    )
    write("refs.yaml", opportunity("refs", ACME_RENEWAL, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None, outcome.problems
    (record,) = outcome.plan.records
    bodies = [r.body for r in record.requests]
    assert bodies == [
        {
            "relationships": {
                "$owner": {"replace": "mem_cmbc9vx9tsac0mp"},
                "$champion": {"replace": "con_cmsel1g7rwmrfyv"},
                "partners": {"add": ["acc_cm1x15pik34mdzo", "acc_cm77puc4peiezar"]},
            }
        }
    ]
    assert outcome.plan.labels["mem_cmbc9vx9tsac0mp"] == "Priya Nair <priya@acme-sales.example>"


@pytest.mark.anyio
async def test_many_references_of_one_type_scan_the_list_once(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    emails = ["nina@acme.com", "sam@acme.com", "alex@acme.com", "grace@globex.example"]
    refs = ", ".join(f"{{email: {e}}}" for e in emails)
    write("refs.yaml", opportunity("refs", ACME_RENEWAL, f"relationships:\n  $contact: [{refs}]"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None, outcome.problems
    contact_lists = [r for r in emu.requests() if r["path"] == "/v1/contacts"]
    # 15 demo contacts fit one page: one request answers all four references.
    assert len(contact_lists) == 1
    assert "email" not in str(contact_lists[0]["query"])
