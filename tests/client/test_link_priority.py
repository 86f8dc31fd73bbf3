"""The confirmation of an id a write waits for goes ahead of the bulk reads queued before it
(``runs.link_check.LinkCheck`` under ``adapters.buckets.ahead_of_queue``): on the emulator, with
simulated time, the order the requests reach the wire."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.adapters.buckets import RateConfig
from reconciler.core.model import DesiredRecord, DesiredRelationship
from reconciler.core.plan import RecordChange, RelationshipChange
from reconciler.core.vocabulary import Origin
from reconciler.runs.link_check import LinkCheck
from reconciler.runs.resolve import Resolution
from tests.support.client import RecordingTransport

from .conftest import ClientFactory

AT = Origin("deal.yaml", 3)


@pytest.mark.anyio
async def test_a_link_confirmation_overtakes_queued_reads(
    make_client: ClientFactory, wire: RecordingTransport, opp_id: str
) -> None:
    client = make_client(rates=RateConfig(read=2.0, search=2.0, write=2.0, burst=0.5))
    contact = (await client.list_page("contacts", limit=1)).data[0].id
    bulk = [asyncio.create_task(client.retrieve("opportunities", opp_id)) for _ in range(8)]
    await asyncio.sleep(0)  # the bulk reads queue (the first took the only token)
    link = DesiredRelationship("$contact", "HAS_MANY", "contact", False, (contact,), (), AT)
    desired = DesiredRecord(
        name="deal",
        origin=AT,
        id=opp_id,
        match_fields=(),
        match_relationships=(),
        on_missing="error",
        fields=(),
        relationships=(link,),
    )
    change = RecordChange(
        "update",
        "deal",
        opp_id,
        AT,
        relationships=(
            RelationshipChange("$contact", "HAS_MANY", (), (contact,), (contact,), (), AT),
        ),
    )
    checks = LinkCheck(client, Resolution())
    await checks.confirm(desired, change)
    assert checks.problems(desired, change) == []
    # Confirmed while most bulk reads still wait: in FIFO order it would have come after all 8.
    waiting = sum(1 for task in bulk if not task.done())
    assert waiting >= 4, waiting
    paths = [r.url.path for r in wire.requests]
    assert paths.count(f"/v1/opportunities/{opp_id}") == 8 - waiting
    await asyncio.gather(*bulk)
