"""CRUD, trash / restore, members and definitions of the emulated API, checked against the SDK's
own response models (strict pydantic validation of every record the emulator returns)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lightfield.types import (
    AccountDefinitionsResponse,
    AccountListResponse,
    AuthValidateResponse,
    ContactDefinitionsResponse,
    ContactRetrieveResponse,
    MemberListResponse,
    MemberRetrieveResponse,
    OpportunityCreateResponse,
    OpportunityDefinitionsResponse,
    OpportunityListResponse,
    OpportunityRetrieveResponse,
)

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from tests.support.demo import WRITABLE_VALUE_TYPES

from .conftest import acc, con, create_opportunity, error, mem, opp

pytestmark = pytest.mark.anyio


def strict(model: Any, body: Any) -> Any:
    """Validate like the SDK in strict mode and also forbid silently ignored shape errors."""
    return model.model_validate(body, strict=False)


async def test_demo_opportunities_list_validates_and_is_newest_first(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/opportunities")
    assert response.status_code == 200
    body = response.json()
    strict(OpportunityListResponse, body)
    assert body["object"] == "list"
    assert body["totalCount"] == 17  # 18 demo opportunities, one of them trashed
    created = [r["createdAt"] for r in body["data"]]
    assert created == sorted(created, reverse=True)
    record = body["data"][-1]
    assert record["id"] == opp("acme-renewal-2027")
    # every defined field and relationship is present, unset ones as null / []
    definitions = (await api.get("/v1/opportunities/definitions")).json()
    assert set(record["fields"]) == set(definitions["fieldDefinitions"])
    assert set(record["relationships"]) == set(definitions["relationshipDefinitions"])
    assert record["fields"]["legalEmail"] == {"value": None, "valueType": "EMAIL"}
    assert record["relationships"]["partners"]["values"] == []


async def test_create_retrieve_update_opportunity(api: httpx.AsyncClient) -> None:
    created = await create_opportunity(api, "Initech upsell", **{"$amount": 1000})
    strict(OpportunityCreateResponse, created)
    assert created["id"].startswith("opp_")
    assert len(created["id"]) == 19
    definitions = (await api.get("/v1/opportunities/definitions")).json()
    stage = definitions["fieldDefinitions"]["$stage"]["typeConfiguration"]["options"]
    # no $stage given: the default pipeline's first stage
    assert created["fields"]["$stage"]["value"] == stage[0]["id"]
    assert created["relationships"]["$createdBy"]["values"] == [mem("jane@acme-sales.example")]

    updated = await api.post(
        f"/v1/opportunities/{created['id']}",
        json={
            "fields": {"$stage": "closed  WON", "$amount": None, "priority": 3},
            "relationships": {"$owner": {"replace": mem("omar@acme-sales.example")}},
        },
    )
    assert updated.status_code == 200, updated.text
    record = updated.json()
    closed_won = next(o for o in stage if o["label"] == "Closed Won")
    assert record["fields"]["$stage"]["value"] == closed_won["id"]
    assert record["fields"]["$pipeline"]["value"] == closed_won["parentId"]
    won = next(
        o["id"]
        for o in definitions["fieldDefinitions"]["$opportunityStatus"]["typeConfiguration"][
            "options"
        ]
        if o["label"] == "Won"
    )
    assert record["fields"]["$opportunityStatus"]["value"] == won
    assert record["fields"]["$amount"]["value"] is None
    assert record["fields"]["$name"]["value"] == "Initech upsell"  # untouched
    assert record["relationships"]["$owner"]["values"] == [mem("omar@acme-sales.example")]

    fetched = await api.get(f"/v1/opportunities/{created['id']}")
    strict(OpportunityRetrieveResponse, fetched.json())
    assert fetched.json() == record


async def test_account_side_of_an_opportunity_link_follows_writes(api: httpx.AsyncClient) -> None:
    created = await create_opportunity(api)
    globex = (await api.get(f"/v1/accounts/{acc('globex')}")).json()
    assert created["id"] in globex["relationships"]["$opportunity"]["values"]
    await api.post(
        f"/v1/opportunities/{created['id']}",
        json={"relationships": {"$account": {"replace": acc("initech")}}},
    )
    globex = (await api.get(f"/v1/accounts/{acc('globex')}")).json()
    initech = (await api.get(f"/v1/accounts/{acc('initech')}")).json()
    assert created["id"] not in globex["relationships"]["$opportunity"]["values"]
    assert created["id"] in initech["relationships"]["$opportunity"]["values"]


async def test_contact_moves_between_accounts_on_both_sides(api: httpx.AsyncClient) -> None:
    contact = con("dinesh@hooli.example")
    await api.post(
        f"/v1/contacts/{contact}", json={"relationships": {"$account": {"replace": acc("hooli")}}}
    )
    # adding the contact to another account re-points its HAS_ONE $account
    response = await api.post(
        f"/v1/accounts/{acc('initech')}", json={"relationships": {"$contact": {"add": contact}}}
    )
    assert response.status_code == 200, response.text
    fetched = (await api.get(f"/v1/contacts/{contact}")).json()
    assert fetched["relationships"]["$account"]["values"] == [acc("initech")]
    hooli = (await api.get(f"/v1/accounts/{acc('hooli')}")).json()
    assert contact not in hooli["relationships"]["$contact"]["values"]


async def test_accounts_and_contacts_crud(api: httpx.AsyncClient) -> None:
    account = await api.post(
        "/v1/accounts",
        json={
            "fields": {
                "$name": "Vandelay Industries",
                "$website": "vandelay.example",
                "$industry": ["retail"],
                "$headcount": "11-50",
            },
            "skipEnrichment": True,
        },
    )
    assert account.status_code == 200, account.text
    account_id = account.json()["id"]
    assert account_id.startswith("acc_")
    assert account.json()["fields"]["$website"]["value"] == ["vandelay.example"]
    contact = await api.post(
        "/v1/contacts",
        json={
            "fields": {
                "$name": {"firstName": "Art", "lastName": "Vandelay"},
                "$email": "art@vandelay.example",
                "$phone": "202 555 0100",
            },
            "relationships": {"$account": account_id},
        },
    )
    assert contact.status_code == 200, contact.text
    body = strict(ContactRetrieveResponse, contact.json())
    assert body.fields["$email"].value == ["art@vandelay.example"]
    assert body.fields["$phone"].value == ["+12025550100"]
    listed = (await api.get("/v1/accounts", params={"$name": "vandelay industries"})).json()
    strict(AccountListResponse, listed)
    assert [a["id"] for a in listed["data"]] == [account_id]
    assert listed["data"][0]["relationships"]["$contact"]["values"] == [contact.json()["id"]]
    missing_name = await api.post("/v1/accounts", json={"fields": {"$website": "x.example"}})
    assert missing_name.status_code == 422
    assert error(missing_name)["param"] == "fields.$name"


async def test_members_and_auth_validate(
    api: httpx.AsyncClient, read_api: httpx.AsyncClient
) -> None:
    members = (await api.get("/v1/members")).json()
    strict(MemberListResponse, members)
    assert members["totalCount"] == 5
    member = await api.get(f"/v1/members/{mem('jane@acme-sales.example')}")
    strict(MemberRetrieveResponse, member.json())
    assert member.json()["fields"]["$email"] == {
        "value": "jane@acme-sales.example",
        "valueType": "EMAIL",
    }
    full = strict(AuthValidateResponse, (await api.get("/v1/auth/validate")).json())
    assert full.scopes == []
    read = strict(AuthValidateResponse, (await read_api.get("/v1/auth/validate")).json())
    assert set(read.scopes) == {
        "opportunities:read",
        "accounts:read",
        "contacts:read",
        "members:read",
    }


@pytest.mark.parametrize(
    ("path", "model", "object_type"),
    [
        ("/v1/opportunities/definitions", OpportunityDefinitionsResponse, "opportunity"),
        ("/v1/accounts/definitions", AccountDefinitionsResponse, "account"),
        ("/v1/contacts/definitions", ContactDefinitionsResponse, "contact"),
    ],
)
async def test_definitions_validate(
    api: httpx.AsyncClient, path: str, model: Any, object_type: str
) -> None:
    body = (await api.get(path)).json()
    strict(model, body)
    assert body["objectType"] == object_type


async def test_opportunity_definitions_cover_every_writable_value_type(
    api: httpx.AsyncClient,
) -> None:
    fields = (await api.get("/v1/opportunities/definitions")).json()["fieldDefinitions"]
    writable = {f["valueType"] for f in fields.values() if not f["readOnly"]}
    assert writable >= WRITABLE_VALUE_TYPES
    assert fields["$opportunityStatus"]["readOnly"]
    assert fields["$aiSummary"]["readOnly"]
    stage = fields["$stage"]["typeConfiguration"]
    assert stage["parentFieldKey"] == "$pipeline"
    pipelines = {o["id"] for o in fields["$pipeline"]["typeConfiguration"]["options"]}
    assert all(o["parentId"] in pipelines for o in stage["options"])
    assert all(p.startswith("pd_") for p in pipelines)


async def test_definition_ids_are_per_org(clock: ManualClock) -> None:
    emu = Emulator(clock=clock)
    emu.add_org("org_other")
    emu.add_key("org_other", "sk_lf_other", None)
    demo = emu.records.definitions("org_demo", "opportunity")
    other = emu.records.definitions("org_other", "opportunity")
    assert demo["fieldDefinitions"]["$stage"]["id"] != other["fieldDefinitions"]["$stage"]["id"]
    # and a key only sees its own org
    from .conftest import client_for

    async with client_for(emu, "sk_lf_other") as other_api:
        assert (await other_api.get("/v1/opportunities")).json()["totalCount"] == 0
        missing = await other_api.get(f"/v1/opportunities/{opp('acme-renewal-2027')}")
        assert missing.status_code == 404


async def test_trash_and_restore(api: httpx.AsyncClient, read_api: httpx.AsyncClient) -> None:
    created = await create_opportunity(api, "Short-lived")
    path = f"/v1/opportunities/{created['id']}"
    for _ in range(2):  # delete is idempotent
        deleted = await api.delete(path)
        assert deleted.status_code == 200
        assert deleted.json()["id"] == created["id"]
    assert (await api.get(path)).status_code == 404
    update = await api.post(path, json={"fields": {"priority": 1}})
    assert update.status_code == 404
    assert error(update)["type"] == "not_found"
    active = (await api.get("/v1/opportunities", params={"$name": "Short-lived"})).json()
    assert active["totalCount"] == 0
    trashed = await api.get("/v1/opportunities", params={"status": "trashed"})
    assert created["id"] in [r["id"] for r in trashed.json()["data"]]
    assert opp("globex-poc") in [r["id"] for r in trashed.json()["data"]]
    denied = await read_api.get("/v1/opportunities", params={"status": "trashed"})
    assert denied.status_code == 403
    assert "opportunities:restore" in error(denied)["message"]
    for _ in range(2):  # restore is idempotent
        restored = await api.post(f"{path}/restore")
        assert restored.status_code == 200
    assert (await api.get(path)).status_code == 200


async def test_unknown_ids_and_wrong_type_ids_are_404(api: httpx.AsyncClient) -> None:
    for path in (
        "/v1/opportunities/opp_doesnotexist000",
        f"/v1/opportunities/{acc('acme')}",
        f"/v1/accounts/{opp('acme-renewal-2027')}",
        "/v1/members/mem_nope",
    ):
        response = await api.get(path)
        assert response.status_code == 404, path
        assert error(response)["type"] == "not_found"
    assert (await api.get("/v1/tasks")).status_code == 404
