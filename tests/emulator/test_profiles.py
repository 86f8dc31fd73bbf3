"""The emulator's contract profiles (reconciler/emulator/profiles.py): each serves the reading
docs/api-contract.md says it does, over the whole HTTP pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.profiles import profile_named
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.seed import DEMO_ORG
from tests.support.demo import ACME_COM, ACME_RENEWAL, ALEX, NINA, SAM
from tests.support.emulator import client_for

pytestmark = pytest.mark.anyio

CREATE = "/v1/opportunities"


def emulator(profile: str) -> Emulator:
    return Emulator(
        db=":memory:",
        seed="demo",
        clock=ManualClock(),
        rate_limits=RateLimitConfig(enabled=False),
        profile=profile,
    )


def new_opportunity(**fields: Any) -> dict[str, Any]:
    return {
        "fields": {"$name": "Profile deal", **fields},
        "relationships": {"$account": ACME_COM},
    }


async def test_strict_errors_are_not_enveloped_and_its_409_has_no_code() -> None:
    emu = emulator("strict-0.20")
    async with client_for(emu) as api:
        missing = await api.get("/v1/opportunities/opp_cm0000000000000")
        emu.idempotency.begin(DEMO_ORG, f"POST {CREATE}", "busy", "another body")
        busy = await api.post(CREATE, json=new_opportunity(), headers={"Idempotency-Key": "busy"})
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "not_found",
        "message": "No resource found in 'opportunities' with the given ID.",
    }
    assert busy.status_code == 409
    assert busy.json()["type"] == "conflict" and "code" not in busy.json()
    assert "error" not in busy.json()


async def test_the_default_profile_keeps_the_envelope_and_the_code() -> None:
    emu = emulator("default")
    async with client_for(emu) as api:
        emu.idempotency.begin(DEMO_ORG, f"POST {CREATE}", "busy", "another body")
        busy = await api.post(CREATE, json=new_opportunity(), headers={"Idempotency-Key": "busy"})
    assert busy.json()["error"] == {
        "type": "conflict",
        "message": busy.json()["error"]["message"],
        "code": "idempotency_conflict",
    }


async def test_strict_refuses_an_id_array_replace_but_takes_one_id() -> None:
    emu = emulator("strict-0.20")
    path = f"/v1/opportunities/{ACME_RENEWAL}"
    async with client_for(emu) as api:
        array = await api.post(path, json={"relationships": {"$contact": {"replace": [SAM, NINA]}}})
        one = await api.post(path, json={"relationships": {"$contact": {"replace": SAM}}})
    assert array.status_code == 400
    assert (array.json()["code"], array.json()["param"]) == (
        "invalid_type",
        "relationships.$contact",
    )
    assert one.status_code == 200
    assert one.json()["relationships"]["$contact"]["values"] == [SAM]
    assert ALEX not in one.json()["relationships"]["$contact"]["values"]


@pytest.mark.parametrize(("profile", "combined"), [("strict-0.20", 400), ("default", 200)])
async def test_strict_takes_one_verb_per_relationship_operation(
    profile: str, combined: int
) -> None:
    """SDK 0.20's "provide one of add, remove, or replace", read as exactly one."""
    emu = emulator(profile)
    path = f"/v1/opportunities/{ACME_RENEWAL}"
    both = {"relationships": {"$contact": {"add": [SAM], "remove": [ALEX]}}}
    async with client_for(emu) as api:
        refused = await api.post(path, json=both)
        added = await api.post(path, json={"relationships": {"$contact": {"add": [NINA]}}})
    assert refused.status_code == combined
    if combined == 400:
        assert (refused.json()["code"], refused.json()["param"]) == (
            "invalid_type",
            "relationships.$contact",
        )
    assert added.status_code == 200
    linked = set(added.json()["relationships"]["$contact"]["values"])
    assert linked == ({SAM, NINA} if combined == 200 else {ALEX, NINA})


async def test_strict_requires_stage_on_create_and_says_so_in_the_definitions() -> None:
    emu = emulator("strict-0.20")
    async with client_for(emu) as api:
        refused = await api.post(CREATE, json=new_opportunity())
        made = await api.post(CREATE, json=new_opportunity(**{"$stage": "Discovery"}))
        definitions = (await api.get("/v1/opportunities/definitions")).json()
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["param"]) == (
        "parameter_missing",
        "fields.$stage",
    )
    assert made.status_code == 200
    required = [k for k, d in definitions["fieldDefinitions"].items() if d.get("required")]
    assert required == ["$name", "$stage"]
    async with client_for(emulator("default")) as api:
        default = (await api.get("/v1/opportunities/definitions")).json()
    assert not [k for k, d in default["fieldDefinitions"].items() if "required" in d]


async def test_a_normalising_server_stores_its_own_forms() -> None:
    emu = emulator("normalising")
    fields = {
        "$nextSteps": "  Call the CFO \n",
        "docsUrl": "HTTPS://Docs.Acme.COM/Pricing/",
        "competitorUrls": ["acme.com", "http://Globex.com/"],
        "$amount": 1234.56,
        "$closeDate": "2027-03-31T17:30:00+02:00",
    }
    async with client_for(emu) as api:
        made = await api.post(CREATE, json=new_opportunity(**fields))
    stored = {k: made.json()["fields"][k]["value"] for k in fields}
    assert stored == {
        "$nextSteps": "Call the CFO",
        "docsUrl": "https://docs.acme.com/Pricing",
        "competitorUrls": ["https://acme.com", "http://globex.com"],
        "$amount": 1235,
        "$closeDate": "2027-03-31T00:00:00.000Z",
    }
    async with client_for(emulator("default")) as api:
        plain = await api.post(CREATE, json=new_opportunity(**fields))
    assert plain.json()["fields"]["docsUrl"]["value"] == "HTTPS://Docs.Acme.COM/Pricing/"


@pytest.mark.parametrize("profile", ["default", "strict-0.20"])
async def test_merge_is_routed_not_taken_for_a_record_called_merge(profile: str) -> None:
    emu = emulator(profile)
    body = {"primaryId": ACME_RENEWAL, "duplicateId": ACME_RENEWAL}
    async with client_for(emu) as api:
        merged = await api.post("/v1/opportunities/merge", json=body)
    assert merged.status_code == 404
    error = merged.json() if profile == "strict-0.20" else merged.json()["error"]
    assert error["code"] == "endpoint_not_served"
    assert "POST /v1/opportunities/merge" in error["message"]
    assert emu.mutations() == []


def test_an_unknown_profile_is_refused_with_the_names() -> None:
    with pytest.raises(ValueError, match=r"expected one of default, strict-0\.20, normalising"):
        profile_named("lenient")
