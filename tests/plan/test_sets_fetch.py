"""What finding a set's records costs (issue 17), counted in the requests the emulator saw: a set
costs its filtered pages and one fresh read a candidate; an any-of key is one filtered list per
value; many sets share one scan when their filtered pages would outnumber the whole list's."""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.runs.plan import run_plan
from tests.support.demo import FULL_KEY, WriteManifest

MEMBERS = ["priya", "lucas", "mei", "omar", "jane"]
REGIONS = ["North America", "EMEA", "APAC"]
OPEN = "opt_01cwx3gsq49scb4qzwqqqp3z9"  # the demo org's $opportunityStatus Open


def a_set(name: str, selector: str) -> str:
    return (
        f"apiVersion: lfr/v1\nkind: OpportunitySet\nmetadata:\n  name: {name}\nspec:\n"
        f"  selector: {selector}\n  fields:\n    competitor: Bulk\n"
    )


def lists(emu: Emulator) -> list[dict[str, str]]:
    """The query of every opportunity list request, paging parameters left out."""
    return [
        {k: v for k, v in parse_qsl(str(r["query"])) if k not in ("limit", "offset")}
        for r in emu.requests()
        if r["path"] == "/v1/opportunities"
    ]


def reads(emu: Emulator) -> list[str]:
    return [
        str(r["path"]).rsplit("/", 1)[1]
        for r in emu.requests()
        if str(r["path"]).startswith("/v1/opportunities/opp_")
    ]


@pytest.mark.anyio
async def test_a_set_costs_its_filtered_pages_and_one_read_per_candidate(
    emu: Emulator, client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    emu.seed_bulk(opportunities=200)
    write("lucas.yaml", a_set("lucas", "{$owner: {email: lucas@acme-sales.example}}"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    owned = len(outcome.plan.records)
    assert owned > 25  # more than one page of them
    assert all(set(query) == {"$owner"} for query in lists(emu))  # never the whole list
    assert len(lists(emu)) == math.ceil(owned / 25)
    assert sorted(reads(emu)) == sorted(r.id for r in outcome.plan.records if r.id)
    assert outcome.fetch_strategy.endswith("sets: filtered")


@pytest.mark.anyio
async def test_an_any_of_key_is_one_filtered_list_per_value(
    emu: Emulator, client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    selector = "{$owner: [{email: mei@acme-sales.example}, {email: jane@acme-sales.example}]}"
    write("two.yaml", a_set("two", selector))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None
    owners = {q["$owner"] for q in lists(emu) if "$owner" in q}
    assert len(owners) == 2  # one list per member
    # Every record either owns is in the plan, and nothing else.
    assert len(outcome.plan.records) == 7  # mei's 3 demo deals and jane's 4


@pytest.mark.anyio
async def test_many_sets_share_one_scan_when_it_is_cheaper(
    emu: Emulator, client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    emu.seed_bulk(opportunities=200)
    for member in MEMBERS:
        write(
            f"{member}.yaml", a_set(member, f"{{$owner: {{email: {member}@acme-sales.example}}}}")
        )
    for n, region in enumerate(REGIONS):
        write(f"r{n}.yaml", a_set(f"r{n}", f"{{region: {region}}}"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    # 8 queries' first pages, then 11 more filtered pages (a member's ~43 deals, a region's ~72)
    # against 8 more pages of the whole list: the scan.
    assert outcome.fetch_strategy.endswith("sets: scan")
    total = 217
    whole = [q for q in lists(emu) if not q]
    assert len(whole) == math.ceil(total / 25)  # the whole list, once
    assert len(lists(emu)) - len(whole) == len(MEMBERS) + len(REGIONS)  # each query's first page
    # Each record read once, however many sets matched it.
    assert len(reads(emu)) == len(set(reads(emu))) <= total


@pytest.mark.anyio
async def test_status_is_a_filter_so_closed_deals_are_never_read(
    emu: Emulator, client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    emu.seed_bulk(opportunities=200)
    selector = "{$owner: {email: lucas@acme-sales.example}, status: open}"
    write("lucas.yaml", a_set("lucas", selector))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    assert {q.get("$opportunityStatus[equal]") for q in lists(emu)} == {OPEN}
    # Only open deals were read: every read is a record of the plan.
    assert sorted(reads(emu)) == sorted(r.id for r in outcome.plan.records if r.id)
    write("lucas.yaml", a_set("lucas", selector.replace("open", "closed")))
    emu.reset_logs()
    closed = await run_plan(client, manifest_dir, target="t")
    assert closed.plan is not None
    assert {q.get("$opportunityStatus[-equal]") for q in lists(emu)} == {OPEN}
    assert set(reads(emu)).isdisjoint(r.id for r in outcome.plan.records)


class WithoutTotalCount(httpx.AsyncBaseTransport):
    """An API whose list pages carry no totalCount (a variant `lfr doctor` reports)."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/v1/opportunities" or request.method != "GET":
            return response
        body = json.loads(await response.aread())
        body.pop("totalCount", None)
        return httpx.Response(response.status_code, headers=response.headers, json=body)


@pytest.mark.anyio
async def test_without_a_total_count_a_set_reads_every_page_not_the_first_only(
    emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    emu.seed_bulk(opportunities=200)
    write("lucas.yaml", a_set("lucas", "{$owner: {email: lucas@acme-sales.example}}"))
    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator", transport=WithoutTotalCount(emu.app), rates=None
    ) as client:
        outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    async with LightfieldClient.for_asgi_app(emu.app, FULL_KEY, rates=None) as counted:
        lucas = [
            r
            async for r in counted.iterate("opportunities")
            if r.related_ids("$owner") == ["mem_cmvwysoyh2nuc8j"]
        ]
    assert len(lucas) > 25
    assert len(outcome.plan.records) == len(lucas)
