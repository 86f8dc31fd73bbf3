"""Field history: newest first, collapsed runs, displayValue, cursor pages, isCreate."""

from __future__ import annotations

import httpx
import pytest
from lightfield.types import OpportunityFieldHistoryResponse

from reconciler.emulator.clock import ManualClock

from .conftest import create_opportunity, error, opp

pytestmark = pytest.mark.anyio


def history_path(record_id: str, key: str) -> str:
    return f"/v1/opportunities/{record_id}/fields/{key.replace('$', '%24')}/history"


async def test_demo_stage_history_is_collapsed_with_labels(api: httpx.AsyncClient) -> None:
    response = await api.get(history_path(opp("acme-renewal-2027"), "$stage"))
    body = response.json()
    OpportunityFieldHistoryResponse.model_validate(body)
    # the seed wrote Prospecting, Discovery, Discovery, Proposal: the repeat is collapsed
    assert [e["displayValue"] for e in body["data"]] == ["Proposal", "Discovery", "Prospecting"]
    assert [e["isCreate"] for e in body["data"]] == [False, False, True]
    assert body["hasMore"] is False
    assert body["nextCursor"] is None
    recorded = [e["recordedAt"] for e in body["data"]]
    assert recorded == sorted(recorded, reverse=True)
    assert all(e["value"].startswith("opt_") for e in body["data"])


async def test_history_pages_with_cursor(api: httpx.AsyncClient, clock: ManualClock) -> None:
    created = await create_opportunity(api, "History", **{"$amount": 1})
    for amount in (2, 2, 3, 4, 5):
        clock.advance(60)
        await api.post(f"/v1/opportunities/{created['id']}", json={"fields": {"$amount": amount}})
    path = history_path(created["id"], "$amount")
    whole = (await api.get(path)).json()
    assert [e["value"] for e in whole["data"]] == [5, 4, 3, 2, 1]
    assert whole["data"][-1]["isCreate"] is True
    assert whole["data"][0]["displayValue"] == "$5.00"
    values, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"after": cursor} if cursor else {})}
        page = (await api.get(path, params=params)).json()
        pages += 1
        values += [e["value"] for e in page["data"]]
        assert not any(e["isCreate"] for e in page["data"])  # never on a paginated page
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        cursor = page["nextCursor"]
    assert values == [5, 4, 3, 2, 1]
    assert pages == 3


@pytest.mark.parametrize(
    ("key", "value", "display"),
    [
        ("strategic", True, "Yes"),
        ("priority", 2.5, "2.5"),
        ("billingEmails", ["a@x.example", "b@x.example"], "a@x.example, b@x.example"),
        ("signatory", {"firstName": "Ada", "lastName": "Lovelace"}, "Ada Lovelace"),
        (
            "shippingAddress",
            {"street": "1 Main St", "city": "Austin", "state": "TX", "country": "US"},
            "1 Main St, Austin, TX, US",
        ),
        ("products", ["Platform", "Training"], "Platform, Training"),
        ("$closeDate", "2026-05-01T00:00:00Z", "2026-05-01T00:00:00.000Z"),
    ],
)
async def test_display_values(
    api: httpx.AsyncClient, key: str, value: object, display: str
) -> None:
    created = await create_opportunity(api, "Display", **{key: value})
    body = (await api.get(history_path(created["id"], key))).json()
    assert body["data"][0]["displayValue"] == display
    assert body["data"][0]["isCreate"] is True


async def test_cleared_value_is_recorded(api: httpx.AsyncClient) -> None:
    created = await create_opportunity(api, "Clear", **{"$nextSteps": "Call"})
    await api.post(f"/v1/opportunities/{created['id']}", json={"fields": {"$nextSteps": None}})
    body = (await api.get(history_path(created["id"], "$nextSteps"))).json()
    assert [(e["value"], e["displayValue"]) for e in body["data"]] == [(None, ""), ("Call", "Call")]


@pytest.mark.parametrize(
    ("key", "params", "code"),
    [
        ("$name", {}, "history_unavailable"),  # column-backed
        ("bogus", {}, "unknown_field"),
        ("$stage", {"limit": "101"}, "invalid_parameter"),
        ("$stage", {"limit": "0"}, "invalid_parameter"),
        ("$stage", {"after": "garbage!"}, "invalid_parameter"),
    ],
)
async def test_history_errors(
    api: httpx.AsyncClient, key: str, params: dict[str, str], code: str
) -> None:
    response = await api.get(history_path(opp("acme-renewal-2027"), key), params=params)
    assert response.status_code == 400
    assert error(response)["code"] == code


async def test_history_of_trashed_record_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(history_path(opp("globex-poc"), "$stage"))
    assert response.status_code == 404
