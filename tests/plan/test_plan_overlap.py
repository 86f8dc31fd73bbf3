"""A plan's first round trips overlap (issue 16): a plan that may scan the opportunity list asks
for its first page beside the definitions, not after them and the references. Observed in the
order requests reach the API, not in time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.runs.plan import run_plan
from tests.support.demo import FULL_KEY, WriteManifest, opportunity

# Generous: reached only when the page waits for the definitions (the behaviour this test
# refuses), so that the test then fails instead of hanging.
GIVE_UP_SECONDS = 10.0


class HoldDefinitions(httpx.AsyncBaseTransport):
    """Holds the definitions' answer until the list's first page is asked for, and records
    whether it was while the definitions were held."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.list_asked = asyncio.Event()
        self.asked_while_held = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/opportunities":
            self.list_asked.set()
        elif path == "/v1/opportunities/definitions":
            try:
                await asyncio.wait_for(self.list_asked.wait(), GIVE_UP_SECONDS)
                self.asked_while_held = True
            except TimeoutError:
                pass
        return await self.inner.handle_async_request(request)


@pytest.mark.anyio
async def test_the_first_list_page_is_asked_for_beside_the_definitions(
    emu: Emulator, client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    emu.seed_bulk(opportunities=20)
    ids = [record.id for record in await client.list_all("opportunities")][:30]
    for n, record_id in enumerate(ids):
        write(f"o{n}.yaml", opportunity(f"o{n}", record_id, "fields:\n  priority: 1"))
    transport = HoldDefinitions(httpx.ASGITransport(app=emu.app))
    emu.reset_logs()
    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator", transport=transport, rates=None
    ) as held:
        outcome = await run_plan(held, manifest_dir, target="t")
    assert transport.asked_while_held
    assert outcome.problems == [] and outcome.plan is not None and outcome.fetch_strategy == "scan"
    # Asked for once: the fetch uses the page asked for early.
    pages = [r for r in emu.requests() if r["path"] == "/v1/opportunities"]
    assert len(pages) == 2  # 37 opportunities: the first page and the second


@pytest.mark.anyio
async def test_a_plan_of_a_few_records_asks_for_no_page(
    emu: Emulator, client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    ids = [record.id for record in await client.list_all("opportunities")][:3]
    for n, record_id in enumerate(ids):
        write(f"o{n}.yaml", opportunity(f"o{n}", record_id, "fields:\n  priority: 1"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None
    assert [r for r in emu.requests() if r["path"] == "/v1/opportunities"] == []
