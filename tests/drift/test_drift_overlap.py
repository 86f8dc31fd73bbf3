"""``lfr drift`` reads a record's field history as soon as its drift is known, beside the plan's
other reads, not after the whole plan (issue 16): observed in the order requests reach the API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.runs.drift import run_drift
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, WriteManifest, opportunity

# Generous: reached only when drift waits for the whole plan (the behaviour this test refuses),
# so that the test then fails instead of hanging.
GIVE_UP_SECONDS = 10.0


class HoldInitech(httpx.AsyncBaseTransport):
    """Holds the read of Initech until a history read of Acme arrives, and records whether one
    did while it was held."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.acme_history = asyncio.Event()
        self.history_while_held = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(f"/v1/opportunities/{ACME_RENEWAL}/") and "history" in path:
            self.acme_history.set()
        elif path == f"/v1/opportunities/{INITECH}":
            try:
                await asyncio.wait_for(self.acme_history.wait(), GIVE_UP_SECONDS)
                self.history_while_held = True
            except TimeoutError:
                pass
        return await self.inner.handle_async_request(request)


@pytest.mark.anyio
async def test_history_reads_start_while_the_plan_still_reads(
    emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 1"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 2"))
    transport = HoldInitech(httpx.ASGITransport(app=emu.app))
    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator", transport=transport, rates=None
    ) as client:
        run = await run_drift(client, manifest_dir, target="t")
    assert transport.history_while_held
    assert run.report is not None and run.outcome.problems == []
    # Both drifted fields are explained, Acme's read while Initech's live state was unknown.
    assert {key for key, _ in run.report.history} == {ACME_RENEWAL, INITECH}
