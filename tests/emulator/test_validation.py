"""Write validation per value type, relationship operations and the documented error codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig

from .conftest import acc, client_for, con, create_opportunity, error, mem, opp

pytestmark = pytest.mark.anyio

TARGET = opp("initech-support")

# (field, value written, value read back)
ACCEPTED: list[tuple[str, Any, Any]] = [
    ("$name", "Renamed", "Renamed"),
    ("$nextSteps", None, None),
    ("priority", 42, 42),
    ("priority", 1.25, 1.25),
    ("priority", 7.0, 7),
    ("priority", -9007199254740991, -9007199254740991),
    ("$amount", 120000.5, 120000.5),
    ("strategic", False, False),
    ("$closeDate", "2026-03-16T12:00:00+02:00", "2026-03-16T10:00:00.000Z"),
    ("$closeDate", "2026-03-16T12:00:00.123Z", "2026-03-16T12:00:00.123Z"),
    ("billingEmails", "ap@initech.example", ["ap@initech.example"]),
    (
        "billingEmails",
        ["a@x.example", "b@x.example", "A@x.example"],
        ["a@x.example", "b@x.example"],
    ),
    ("legalEmail", "legal@x.example", "legal@x.example"),
    ("legalEmail", ["legal@x.example"], "legal@x.example"),
    ("phone", "+44 20 7946 0958", "+442079460958"),
    ("phone", "(202) 555-0143", "+12025550143"),
    ("phone", "1-202-555-0143 x100", "+12025550143;ext=100"),
    ("phone", "202.555.0143 ext: 7", "+12025550143;ext=7"),
    ("phone", "202-555-0143#12", "+12025550143;ext=12"),
    ("phone", "5550143", "5550143"),
    ("supportPhones", ["2025550143", "+1 202 555 0188"], ["+12025550143", "+12025550188"]),
    ("docsUrl", "https://initech.example/docs", "https://initech.example/docs"),
    ("competitorUrls", "initrode.example", ["initrode.example"]),
    ("shippingAddress", {"city": "Austin", "country": "us"}, {"city": "Austin", "country": "US"}),
    ("signatory", {"firstName": "Peter"}, {"firstName": "Peter"}),
    ("twitter", "https://x.com/initech", "https://x.com/initech"),
    ("twitter", "https://twitter.com/initech?lang=en", "https://twitter.com/initech?lang=en"),
    ("products", ["platform", "Analytics", "PLATFORM"], "labels:Platform,Analytics"),
    ("products", [], None),
    ("region", "emea", "label:EMEA"),
    ("$stage", "Renewal Review", "label:Renewal Review"),
]

# (field, bad value, status, code)
REJECTED: list[tuple[str, Any, int, str]] = [
    ("bogus", 1, 400, "unknown_field"),
    ("$opportunityStatus", "Won", 400, "read_only_field"),
    ("$aiSummary", "hello", 400, "read_only_field"),
    ("$name", 5, 400, "invalid_type"),
    ("$name", None, 400, "invalid_type"),
    ("priority", "12", 400, "invalid_type"),
    ("priority", True, 400, "invalid_type"),
    ("priority", 1.234, 400, "invalid_type"),
    ("priority", 9007199254740992, 400, "invalid_type"),
    ("$amount", "100", 400, "invalid_type"),
    ("strategic", "yes", 400, "invalid_type"),
    ("$closeDate", "2026-03-16", 400, "invalid_type"),
    ("$closeDate", "2026-03-16T12:00:00", 400, "invalid_type"),
    ("$closeDate", 1767225600, 400, "invalid_type"),
    ("billingEmails", "not-an-email", 400, "invalid_type"),
    ("billingEmails", [1], 400, "invalid_type"),
    ("legalEmail", ["a@x.example", "b@x.example"], 400, "invalid_type"),
    ("phone", "call me", 400, "invalid_type"),
    ("phone", "+0123", 400, "invalid_type"),
    ("docsUrl", "not a url", 400, "invalid_type"),
    ("shippingAddress", "Austin, TX", 400, "invalid_type"),
    ("shippingAddress", {"country": "USA"}, 400, "invalid_type"),
    ("shippingAddress", {"planet": "Earth"}, 400, "invalid_type"),
    ("shippingAddress", {"latitude": "north"}, 400, "invalid_type"),
    ("signatory", "Peter Gibbons", 400, "invalid_type"),
    ("signatory", {"middleName": "R"}, 400, "invalid_type"),
    ("twitter", "https://facebook.com/initech", 400, "invalid_type"),
    ("twitter", "@initech", 400, "invalid_type"),
    ("products", "Platform", 400, "invalid_type"),
    ("products", ["Blockchain"], 400, "invalid_type"),
    ("region", "Antarctica", 400, "invalid_type"),
    ("region", 3, 400, "invalid_type"),
    ("$stage", "Negotiation", 422, "ambiguous_stage_label"),
    ("$stage", "Won-ish", 400, "invalid_type"),
    ("$stage", None, 400, "invalid_type"),
    ("$pipeline", "Renewals", 422, "parameter_missing"),
]


def _expected(definitions: dict[str, Any], key: str, expected: Any) -> Any:
    if isinstance(expected, str) and expected.startswith(("label:", "labels:")):
        options = definitions["fieldDefinitions"][key]["typeConfiguration"]["options"]
        by_label = {o["label"]: o["id"] for o in options}
        kind, _, labels = expected.partition(":")
        ids = [by_label[label] for label in labels.split(",")]
        return ids[0] if kind == "label" else ids
    return expected


@pytest.mark.parametrize(("key", "value", "expected"), ACCEPTED)
async def test_field_write_is_coerced(
    api: httpx.AsyncClient, key: str, value: Any, expected: Any
) -> None:
    definitions = (await api.get("/v1/opportunities/definitions")).json()
    response = await api.post(f"/v1/opportunities/{TARGET}", json={"fields": {key: value}})
    assert response.status_code == 200, response.text
    assert response.json()["fields"][key]["value"] == _expected(definitions, key, expected)


@pytest.mark.parametrize(("key", "value", "status", "code"), REJECTED)
async def test_field_write_is_rejected(
    api: httpx.AsyncClient, emu: Emulator, key: str, value: Any, status: int, code: str
) -> None:
    before = (await api.get(f"/v1/opportunities/{TARGET}")).json()
    response = await api.post(f"/v1/opportunities/{TARGET}", json={"fields": {key: value}})
    assert response.status_code == status, response.text
    err = error(response)
    assert err["code"] == code
    assert err["type"] == ("bad_request" if status == 400 else "unprocessable_content")
    assert err["param"].startswith(("fields.", "fields")), err
    assert (await api.get(f"/v1/opportunities/{TARGET}")).json() == before
    assert emu.mutations() == []


async def test_partial_address_and_name_merge(api: httpx.AsyncClient) -> None:
    path = f"/v1/opportunities/{opp('umbrella-research')}"
    response = await api.post(
        path,
        json={
            "fields": {
                "shippingAddress": {"street": "2 Hive Way", "street2": None},
                "signatory": {"lastName": "Wesker"},
            }
        },
    )
    fields = response.json()["fields"]
    assert fields["shippingAddress"]["value"] == {
        "street": "2 Hive Way",
        "city": "Raccoon City",
        "state": "MO",
        "postalCode": "65801",
        "country": "US",
    }
    assert fields["signatory"]["value"] == {"firstName": "Alice", "lastName": "Wesker"}
    cleared = await api.post(path, json={"fields": {"shippingAddress": None}})
    assert cleared.json()["fields"]["shippingAddress"]["value"] is None


async def test_ambiguous_stage_lists_candidates_and_pipeline_hint_resolves(
    api: httpx.AsyncClient,
) -> None:
    path = f"/v1/opportunities/{TARGET}"
    ambiguous = error(await api.post(path, json={"fields": {"$stage": "negotiation"}}))
    assert {c["pipelineName"] for c in ambiguous["candidates"]} == {"Sales", "Renewals"}
    assert all(
        c["stageOptionId"].startswith("opt_") and c["pipelineId"].startswith("pd_")
        for c in ambiguous["candidates"]
    )
    hinted = await api.post(
        path, json={"fields": {"$stage": "Negotiation", "$pipeline": "renewals"}}
    )
    assert hinted.status_code == 200
    renewals = next(c for c in ambiguous["candidates"] if c["pipelineName"] == "Renewals")
    assert hinted.json()["fields"]["$stage"]["value"] == renewals["stageOptionId"]
    assert hinted.json()["fields"]["$pipeline"]["value"] == renewals["pipelineId"]
    by_id = await api.post(path, json={"fields": {"$stage": renewals["stageOptionId"]}})
    assert by_id.status_code == 200
    unresolved = await api.post(
        path, json={"fields": {"$stage": "Proposal", "$pipeline": renewals["pipelineId"]}}
    )
    assert unresolved.status_code == 422
    assert error(unresolved)["code"] == "stage_unresolved_in_pipeline"
    assert error(unresolved)["pipelineId"] == renewals["pipelineId"]
    unknown = await api.post(path, json={"fields": {"$stage": "Proposal", "$pipeline": "Nope"}})
    assert unknown.status_code == 422
    assert error(unknown)["code"] == "unknown_pipeline"
    assert len(error(unknown)["activePipelineIds"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"relationships": {"$account": acc("acme")}}, 422, "parameter_missing", "fields"),
        (
            {"fields": {}, "relationships": {"$account": acc("acme")}},
            422,
            "parameter_missing",
            "fields.$name",
        ),
        (
            {"fields": {"$name": "  "}, "relationships": {"$account": acc("acme")}},
            422,
            "parameter_missing",
            "fields.$name",
        ),
        ({"fields": {"$name": "X"}}, 422, "parameter_missing", "relationships.$account"),
        (
            {"fields": {"$name": "X"}, "relationships": {"$account": "acc_cmdoesnotexist1"}},
            422,
            "relationship_entity_missing",
            "relationships.$account",
        ),
        (
            {"fields": {"$name": "X"}, "relationships": {"$account": con("alex@acme.com")}},
            422,
            "relationship_entity_missing",
            "relationships.$account",
        ),
        (
            {"fields": {"$name": "X"}, "relationships": {"$account": [acc("acme"), acc("hooli")]}},
            400,
            "invalid_type",
            "relationships.$account",
        ),
        (
            {"fields": {"$name": "X"}, "relationships": {"$account": acc("acme"), "$task": []}},
            400,
            "read_only_relationship",
            "relationships.$task",
        ),
        (
            {"fields": {"$name": "X"}, "relationships": {"$account": acc("acme"), "bogus": "x"}},
            400,
            "unknown_relationship",
            "relationships.bogus",
        ),
        (
            {"fields": {"$name": "X"}, "relationships": {"$account": acc("acme")}, "extra": 1},
            400,
            "unknown_parameter",
            "extra",
        ),
        (
            {"fields": "X", "relationships": {"$account": acc("acme")}},
            400,
            "invalid_type",
            "fields",
        ),
    ],
)
async def test_create_validation(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    response = await api.post("/v1/opportunities", json=body)
    assert response.status_code == status, response.text
    assert (error(response)["code"], error(response)["param"]) == (code, param)


async def test_create_accepts_relationship_arrays_and_labels(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/opportunities",
        json={
            "fields": {"$name": "Full create", "$stage": "Proposal", "products": ["Support"]},
            "relationships": {
                "$account": [acc("acme")],
                "$contact": [con("alex@acme.com"), con("sam@acme.com")],
                "$owner": mem("mei@acme-sales.example"),
            },
        },
    )
    assert response.status_code == 200, response.text
    rels = response.json()["relationships"]
    assert rels["$contact"]["values"] == [con("alex@acme.com"), con("sam@acme.com")]
    assert rels["$account"]["values"] == [acc("acme")]


async def test_org_can_require_stage_on_create(clock: ManualClock) -> None:
    emu = Emulator(clock=clock, rate_limits=RateLimitConfig(enabled=False))
    emu.add_org("org_strict", require_stage_on_create=True)
    emu.add_key("org_strict", "sk_lf_strict", [])
    emu.records.create(
        None, "org_strict", "account", {"fields": {"$name": "A"}}, record_id="acc_cmstrictaccount1"
    )
    async with client_for(emu, "sk_lf_strict") as strict_api:
        response = await strict_api.post(
            "/v1/opportunities",
            json={
                "fields": {"$name": "No stage"},
                "relationships": {"$account": "acc_cmstrictaccount1"},
            },
        )
        assert response.status_code == 422
        assert error(response)["param"] == "fields.$stage"


def _rel_update(key: str, op: dict[str, Any]) -> dict[str, Any]:
    return {"relationships": {key: op}}


# (relationship operation on acme-renewal-2027, expected values, or (status, code))
ALEX, SAM, NINA = con("alex@acme.com"), con("sam@acme.com"), con("nina@acme.com")
RELATIONSHIP_CASES: list[tuple[str, Any, Any]] = [
    ("$contact", {"add": SAM}, [ALEX, SAM]),
    ("$contact", {"add": [SAM, NINA, SAM]}, [ALEX, SAM, NINA]),
    ("$contact", {"remove": ALEX}, []),
    ("$contact", {"add": SAM, "remove": [ALEX]}, [SAM]),
    ("$contact", {"remove": NINA}, [ALEX]),  # not linked: no-op
    ("$contact", {"replace": SAM}, [SAM]),
    ("$contact", {"replace": [SAM, NINA]}, [SAM, NINA]),
    ("$contact", {"replace": None}, []),
    ("$contact", {"add": SAM, "remove": SAM}, (400, "invalid_type")),
    ("$contact", {"replace": SAM, "add": NINA}, (400, "invalid_type")),
    ("$contact", {"set": SAM}, (400, "invalid_type")),
    ("$contact", {}, (400, "invalid_type")),
    ("$contact", {"add": "con_cmdoesnotexist1"}, (422, "relationship_entity_missing")),
    ("$contact", {"add": acc("acme")}, (422, "relationship_entity_missing")),
    ("$owner", {"replace": mem("mei@acme-sales.example")}, [mem("mei@acme-sales.example")]),
    ("$owner", {"replace": None}, []),
    ("$owner", {"replace": [mem("mei@acme-sales.example")]}, (400, "invalid_type")),
    ("$owner", {"add": mem("mei@acme-sales.example")}, (400, "invalid_type")),
    ("$owner", {"add": mem("jane@acme-sales.example")}, [mem("jane@acme-sales.example")]),
    ("$owner", {"remove": mem("jane@acme-sales.example")}, []),
    ("$evaluator", {"add": NINA}, [NINA]),
    ("$account", {"replace": None}, (422, "parameter_missing")),
    ("$account", {"remove": acc("acme")}, (422, "parameter_missing")),
    ("$task", {"add": "task_1"}, (400, "read_only_relationship")),
    ("$note", {"add": "note_1"}, (400, "read_only_relationship")),
    ("$meeting", {"add": "mtg_1"}, (400, "read_only_relationship")),
    ("$opportunity", {"add": "x"}, (400, "unknown_relationship")),
    ("$contact", SAM, (400, "invalid_type")),
]


@pytest.mark.parametrize(("key", "op", "expected"), RELATIONSHIP_CASES)
async def test_relationship_operations(
    api: httpx.AsyncClient, key: str, op: Any, expected: Any
) -> None:
    path = f"/v1/opportunities/{opp('acme-renewal-2027')}"
    response = await api.post(path, json={"relationships": {key: op}})
    if isinstance(expected, tuple):
        assert response.status_code == expected[0], response.text
        assert error(response)["code"] == expected[1]
        assert error(response)["param"] == f"relationships.{key}"
    else:
        assert response.status_code == 200, response.text
        assert response.json()["relationships"][key]["values"] == expected


async def test_link_to_trashed_record_is_inactive(api: httpx.AsyncClient) -> None:
    await api.delete(f"/v1/contacts/{NINA}")
    response = await api.post(
        f"/v1/opportunities/{opp('acme-renewal-2027')}",
        json={"relationships": {"$contact": {"add": NINA}}},
    )
    assert response.status_code == 422
    assert error(response)["code"] == "relationship_entity_inactive"


async def test_array_replace_can_be_turned_off_per_org(clock: ManualClock) -> None:
    emu = Emulator(clock=clock, rate_limits=RateLimitConfig(enabled=False))
    emu.add_org("org_new_api", allow_array_replace=False)
    emu.add_key("org_new_api", "sk_lf_new", None)
    account = emu.records.create(None, "org_new_api", "account", {"fields": {"$name": "A"}})
    contacts = [
        emu.records.create(None, "org_new_api", "contact", {"fields": {}})["id"] for _ in range(2)
    ]
    async with client_for(emu, "sk_lf_new") as new_api:
        created = await new_api.post(
            "/v1/opportunities",
            json={"fields": {"$name": "O"}, "relationships": {"$account": account["id"]}},
        )
        path = f"/v1/opportunities/{created.json()['id']}"
        refused = await new_api.post(path, json=_rel_update("$contact", {"replace": contacts}))
        assert refused.status_code == 400
        assert (error(refused)["code"], error(refused)["param"]) == (
            "invalid_type",
            "relationships.$contact",
        )
        single = await new_api.post(path, json=_rel_update("$contact", {"replace": contacts[0]}))
        assert single.json()["relationships"]["$contact"]["values"] == [contacts[0]]


async def test_relationship_write_limits(api: httpx.AsyncClient, emu: Emulator) -> None:
    contacts = [
        emu.records.create(None, "org_demo", "contact", {"fields": {}})["id"] for _ in range(26)
    ]
    created = await create_opportunity(api)
    path = f"/v1/opportunities/{created['id']}"
    ok = await api.post(path, json=_rel_update("$contact", {"add": contacts[:25]}))
    assert ok.status_code == 200
    too_many_ids = await api.post(path, json=_rel_update("$contact", {"add": contacts}))
    assert too_many_ids.status_code == 422
    assert error(too_many_ids)["code"] == "relationship_write_limit_exceeded"
    # Ids count per occurrence, on update as on create: one id 26 times is 26 referenced.
    repeated = await api.post(path, json=_rel_update("$contact", {"add": [contacts[25]] * 26}))
    assert (repeated.status_code, error(repeated)["code"]) == (
        422,
        "relationship_write_limit_exceeded",
    )
    # 13 removals + 13 additions = 26 link changes from 26 referenced... split across keys
    changes = await api.post(
        path,
        json={
            "relationships": {
                "$contact": {"replace": contacts[25:]},  # 25 removed + 1 added = 26 changes, 1 id
            }
        },
    )
    assert changes.status_code == 422
    assert error(changes)["code"] == "relationship_write_limit_exceeded"
    create_many = await api.post(
        "/v1/opportunities",
        json={
            "fields": {"$name": "Too many"},
            "relationships": {"$account": acc("acme"), "$contact": contacts[:25]},
        },
    )
    assert create_many.status_code == 422
