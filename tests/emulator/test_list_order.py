"""Lists are newest first (createdAt, then insertion), however the records arrived.

The store keeps each type's ids sorted between list calls (a plan pages through thousands of
records 25 at a time); these tests hold that order true after every way a record arrives or
changes, through the list endpoint itself.
"""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.seed import DEMO_ORG
from reconciler.emulator.stored import Record


def _contact(emu: Emulator, name: str, created_at: float) -> Record:
    return Record(
        id=f"con_order_{name}",
        org=DEMO_ORG,
        object_type="contact",
        seq=emu.store.next_seq(),
        created_at=created_at,
        updated_at=created_at,
        fields={"$name": {"firstName": name, "lastName": "Order"}},
    )


async def _listed(api: httpx.AsyncClient) -> list[str]:
    ids: list[str] = []
    while True:
        page = (await api.get("/v1/contacts", params={"limit": 25, "offset": len(ids)})).json()
        ids += [record["id"] for record in page["data"]]
        if len(ids) >= page["totalCount"]:
            return ids


def _expected(emu: Emulator) -> list[str]:
    live = [r for r in emu.store.records(DEMO_ORG, "contact") if not r.trashed]
    return [r.id for r in sorted(live, key=lambda r: (r.created_at, r.seq), reverse=True)]


@pytest.mark.anyio
async def test_the_list_order_follows_every_new_record(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    emu.seed_bulk(contacts=60)
    before = await _listed(api)
    newest, oldest = max(_contact_times(emu)), min(_contact_times(emu))

    emu.store.insert(_contact(emu, "late", newest + 10), newest + 10)
    emu.store.insert(
        _contact(emu, "backdated", oldest - 10), newest + 11
    )  # seq newest, date oldest
    after_insert = await _listed(api)
    assert after_insert[0] == "con_order_late"
    assert after_insert[-1] == "con_order_backdated"
    assert after_insert[1:-1] == before

    emu.store.insert_many([_contact(emu, "bulk", (newest + oldest) / 2)])
    after_bulk = await _listed(api)
    assert "con_order_bulk" in after_bulk
    assert after_bulk == _expected(emu)

    # An update keeps a record's place.
    created = await api.post(
        "/v1/contacts", json={"fields": {"$name": {"firstName": "Via", "lastName": "Api"}}}
    )
    assert created.status_code == 200, created.text
    updated = await api.post(
        f"/v1/contacts/{before[-1]}", json={"fields": {"$name": {"firstName": "Renamed"}}}
    )
    assert updated.status_code == 200, updated.text
    final = await _listed(api)
    assert final[0] == created.json()["id"]
    assert final == _expected(emu)


def _contact_times(emu: Emulator) -> list[float]:
    return [r.created_at for r in emu.store.records(DEMO_ORG, "contact")]
