"""Idempotency-Key end to end (lightfield-api.md §7): every rule seen from an HTTP client of the
emulator."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.seed import DEMO_ORG

from .conftest import OPP, MakeEmulator, client_for, new_opportunity

pytestmark = pytest.mark.anyio

CREATE = "/v1/opportunities"
DAY = 24 * 3600.0


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def creates(mutations: list[dict[str, object]]) -> list[dict[str, object]]:
    return [m for m in mutations if m["operation"] == "create"]


async def test_a_replay_returns_the_identical_body_and_applies_once(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator()
    async with client_for(emu) as api:
        first = await api.post(CREATE, json=new_opportunity(), headers=keyed("create-1"))
        second = await api.post(CREATE, json=new_opportunity(), headers=keyed("create-1"))

    assert first.status_code == second.status_code == 200
    assert second.content == first.content  # byte for byte, not just the same id
    assert second.headers["content-type"] == first.headers["content-type"]
    assert "X-RateLimit-Limit" in second.headers  # the replay is still a metered response
    assert [m["idempotency_key"] for m in creates(emu.mutations())] == ["create-1"]
    assert [r["status"] for r in emu.requests()] == [200, 200]


async def test_a_request_without_a_key_is_never_deduplicated(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    async with client_for(emu) as api:
        first = await api.post(CREATE, json=new_opportunity())
        second = await api.post(CREATE, json=new_opportunity())
    assert first.json()["id"] != second.json()["id"]
    assert len(creates(emu.mutations())) == 2


async def test_the_same_key_in_flight_answers_409(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    # Another request holding the key: begin() is exactly what the app does on arrival.
    emu.idempotency.begin(DEMO_ORG, f"POST {CREATE}", "busy", "fingerprint-of-that-request")
    async with client_for(emu) as api:
        busy = await api.post(CREATE, json=new_opportunity(), headers=keyed("busy"))
        assert busy.status_code == 409
        assert busy.json()["error"]["type"] == "conflict"
        assert busy.json()["error"]["code"] == "idempotency_conflict"
        assert emu.mutations() == []
        # the holder finishes: the waiting client's retry gets the holder's answer
        emu.idempotency.finish(
            DEMO_ORG, f"POST {CREATE}", "busy", 200, b'{"id":"opp_from_holder"}', {}
        )
        retry = await api.post(CREATE, json=new_opportunity(), headers=keyed("busy"))
    assert retry.status_code == 200
    assert retry.json() == {"id": "opp_from_holder"}
    assert emu.mutations() == []


async def test_concurrent_duplicates_with_latency_get_409(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=FaultConfig(latency_ms=20))
    async with client_for(emu) as api:
        responses = await asyncio.gather(
            *(api.post(CREATE, json=new_opportunity(), headers=keyed("race")) for _ in range(2))
        )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert len(creates(emu.mutations())) == 1


async def test_concurrent_duplicates_apply_once(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=FaultConfig(latency_ms=5))
    async with client_for(emu) as api:
        responses = await asyncio.gather(
            *(api.post(CREATE, json=new_opportunity(), headers=keyed("race")) for _ in range(5))
        )
    assert all(r.status_code in (200, 409) for r in responses)
    ids = {r.json()["id"] for r in responses if r.status_code == 200}
    assert len(ids) == 1
    assert len(creates(emu.mutations())) == 1


async def test_keys_longer_than_255_characters_are_refused(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    async with client_for(emu) as api:
        too_long = await api.post(CREATE, json=new_opportunity(), headers=keyed("k" * 256))
        longest = await api.post(CREATE, json=new_opportunity(), headers=keyed("k" * 255))
    assert too_long.status_code == 400
    error = too_long.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "bad_request",
        "idempotency_key_too_long",
        "Idempotency-Key",
    )
    assert longest.status_code == 200
    assert len(creates(emu.mutations())) == 1  # the refused request changed nothing


async def test_an_injected_5xx_is_not_cached(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(
        faults=FaultConfig(rules=[FaultRule(action="status", status=503, method="POST")])
    )
    async with client_for(emu) as api:
        failed = await api.post(CREATE, json=new_opportunity(), headers=keyed("k5"))
        retried = await api.post(CREATE, json=new_opportunity(), headers=keyed("k5"))
        replayed = await api.post(CREATE, json=new_opportunity(), headers=keyed("k5"))
    assert failed.status_code == 503
    assert retried.status_code == 200
    assert replayed.content == retried.content
    assert len(creates(emu.mutations())) == 1


async def test_a_failed_operation_is_not_cached(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    invalid = {"fields": {"$name": "No account"}, "relationships": {}}
    async with client_for(emu) as api:
        failed = await api.post(CREATE, json=invalid, headers=keyed("k4"))
        retried = await api.post(CREATE, json=new_opportunity(), headers=keyed("k4"))
    assert 400 <= failed.status_code < 500
    assert retried.status_code == 200
    assert len(creates(emu.mutations())) == 1


async def test_a_committed_write_answered_500_replays_on_retry(
    make_emulator: MakeEmulator,
) -> None:
    # The operation commits, the client sees a 500 and retries with the same key: the API must
    # answer with the committed result, not apply the write a second time.
    emu = make_emulator(
        faults=FaultConfig(rules=[FaultRule(action="commit_then_status", method="POST")])
    )
    async with client_for(emu) as api:
        failed = await api.post(CREATE, json=new_opportunity(), headers=keyed("k500"))
        retried = await api.post(CREATE, json=new_opportunity(), headers=keyed("k500"))
    assert failed.status_code == 500
    assert retried.status_code == 200
    [created] = creates(emu.mutations())
    assert retried.json()["id"] == created["record_id"]


async def test_keys_expire_after_24_hours(make_emulator: MakeEmulator, clock: ManualClock) -> None:
    emu = make_emulator()
    async with client_for(emu) as api:
        first = await api.post(CREATE, json=new_opportunity(), headers=keyed("daily"))
        clock.advance(DAY - 1)
        same = await api.post(CREATE, json=new_opportunity(), headers=keyed("daily"))
        clock.advance(1)
        fresh = await api.post(CREATE, json=new_opportunity(), headers=keyed("daily"))
    assert same.json()["id"] == first.json()["id"]
    assert fresh.json()["id"] != first.json()["id"]
    assert len(creates(emu.mutations())) == 2


async def test_keys_are_scoped_by_operation_and_record(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    async with client_for(emu) as api:
        opportunity = await api.post(CREATE, json=new_opportunity(), headers=keyed("shared"))
        account = await api.post(
            "/v1/accounts",
            json={"fields": {"$name": "Shared key Ltd"}, "relationships": {}},
            headers=keyed("shared"),
        )
        update = await api.post(
            f"/v1/opportunities/{OPP}",
            json={"fields": {"priority": 3}},
            headers=keyed("shared"),
        )
        other = await api.post(
            f"/v1/opportunities/{opportunity.json()['id']}",
            json={"fields": {"priority": 3}},
            headers=keyed("shared"),
        )
    assert [r.status_code for r in (opportunity, account, update, other)] == [200] * 4
    assert opportunity.json()["id"].startswith("opp_")
    assert account.json()["id"].startswith("acc_")
    assert update.json()["id"] == OPP
    assert other.json()["id"] == opportunity.json()["id"]
    assert len(emu.mutations()) == 4


async def test_keys_are_scoped_by_org(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    emu.add_org("org_other")
    emu.add_key("org_other", "sk_lf_other_full")
    account = {"fields": {"$name": "Same key Inc"}, "relationships": {}}
    async with client_for(emu) as demo, client_for(emu, "sk_lf_other_full") as other:
        ours = await demo.post("/v1/accounts", json=account, headers=keyed("org-key"))
        theirs = await other.post("/v1/accounts", json=account, headers=keyed("org-key"))
    assert ours.status_code == theirs.status_code == 200
    assert ours.json()["id"] != theirs.json()["id"]
    assert sorted(m["org"] for m in emu.mutations()) == ["org_demo", "org_other"]


async def test_lenient_mode_replays_even_for_another_body(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    async with client_for(emu) as api:
        first = await api.post(CREATE, json=new_opportunity("One"), headers=keyed("k"))
        other = await api.post(CREATE, json=new_opportunity("Two"), headers=keyed("k"))
    assert other.content == first.content
    assert len(creates(emu.mutations())) == 1


async def test_strict_mode_refuses_another_body(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(strict_idempotency=True)
    async with client_for(emu) as api:
        first = await api.post(CREATE, json=new_opportunity("One"), headers=keyed("k"))
        other = await api.post(CREATE, json=new_opportunity("Two"), headers=keyed("k"))
        # key order and whitespace do not make a body "different"
        same = await api.post(
            CREATE,
            content=json.dumps(new_opportunity("One"), indent=2, sort_keys=True),
            headers={**keyed("k"), "Content-Type": "application/json"},
        )
    assert first.status_code == 200
    assert other.status_code == 422
    assert other.json()["error"]["param"] == "Idempotency-Key"
    assert same.content == first.content
    assert len(creates(emu.mutations())) == 1


async def test_a_dropped_connection_after_commit_is_safe_to_retry(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(
        faults=FaultConfig(rules=[FaultRule(action="commit_then_drop", method="POST")])
    )
    async with client_for(emu) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            await api.post(CREATE, json=new_opportunity(), headers=keyed("drop"))
        retried = await api.post(CREATE, json=new_opportunity(), headers=keyed("drop"))
    [created] = creates(emu.mutations())
    assert retried.json()["id"] == created["record_id"]
