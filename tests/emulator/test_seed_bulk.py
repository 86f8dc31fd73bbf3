"""Bulk-seeded opportunities carry values of several types and both relationship kinds.

The benchmark (benchmarks/) manages $amount, $stage, priority, strategic, region, products,
$owner and $contact of bulk records; their seeded values must be real API values, the ones a
write of the same values would store.
"""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.seed import DEMO_ORG


@pytest.mark.anyio
async def test_bulk_opportunities_hold_valid_values_of_every_managed_kind(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    emu.seed_bulk(opportunities=40, contacts=10)
    definitions = (await api.get("/v1/opportunities/definitions")).json()["fieldDefinitions"]
    option_ids = {
        key: {o["id"] for o in definitions[key]["typeConfiguration"]["options"]}
        for key in ("region", "products")
    }
    contacts = {c.id for c in emu.store.records(DEMO_ORG, "contact") if not c.trashed}
    listed = await api.get("/v1/opportunities", params={"$name[startsWith]": "Bulk", "limit": 25})
    records = listed.json()["data"]
    assert len(records) == 25
    for record in records:
        fields = {key: entry["value"] for key, entry in record["fields"].items()}
        assert isinstance(fields["strategic"], bool)
        assert fields["region"] in option_ids["region"]
        assert 1 <= len(fields["products"]) <= 3
        assert set(fields["products"]) <= option_ids["products"]
        links = record["relationships"]["$contact"]["values"]
        assert 1 <= len(links) <= 2
        assert set(links) <= contacts
    assert {r["fields"]["strategic"]["value"] for r in records} == {True, False}

    # Writing a record's own values back is accepted and changes nothing.
    sample = records[0]
    body = {
        "fields": {k: sample["fields"][k]["value"] for k in ("strategic", "region", "products")},
        "relationships": {"$contact": {"replace": sample["relationships"]["$contact"]["values"]}},
    }
    written = await api.post(f"/v1/opportunities/{sample['id']}", json=body)
    assert written.status_code == 200, written.text
    after = written.json()
    assert {k: after["fields"][k] for k in body["fields"]} == {
        k: sample["fields"][k] for k in body["fields"]
    }
    assert (
        after["relationships"]["$contact"]["values"]
        == sample["relationships"]["$contact"]["values"]
    )
