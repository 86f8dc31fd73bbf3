"""Fault knobs end to end (architecture.md §7): what a client of the emulator sees for each of
them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule, Faults

from .conftest import OPP, MakeEmulator, client_for, new_opportunity

pytestmark = pytest.mark.anyio

UPDATE = f"/v1/opportunities/{OPP}"
CHANGE = {"fields": {"priority": 5}}


def only(rule: dict[str, Any]) -> FaultConfig:
    return FaultConfig.from_dict({"rules": [rule]})


async def priority(api: httpx.AsyncClient) -> Any:
    return (await api.get(UPDATE)).json()["fields"]["priority"]["value"]


async def test_latency_delays_every_request(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=FaultConfig(latency_ms=40))
    async with client_for(emu) as api:
        started = time.perf_counter()
        response = await api.get("/v1/auth/validate")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed >= 0.04


async def test_status_answers_without_running_the_operation(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(
        faults=only(
            {
                "action": "status",
                "status": 503,
                "method": "POST",
                "retry_after": 2,
                "should_retry": False,
            }
        )
    )
    async with client_for(emu) as api:
        before = await priority(api)
        injected = await api.post(UPDATE, json=CHANGE)
        after_fault = await priority(api)
    assert injected.status_code == 503
    assert injected.json()["error"]["type"] == "service_unavailable"
    assert injected.headers["Retry-After"] == "2"
    assert injected.headers["x-should-retry"] == "false"
    assert "X-RateLimit-Limit" in injected.headers
    assert after_fault == before != 5
    assert emu.mutations() == []
    assert emu.requests()[1]["fault"] == "status"


async def test_commit_then_status_commits_yet_answers_500(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=only({"action": "commit_then_status", "method": "POST"}))
    async with client_for(emu) as api:
        response = await api.post(UPDATE, json=CHANGE)
        assert response.status_code == 500
        assert response.json()["error"]["type"] == "internal_server_error"
        assert await priority(api) == 5
    [mutation] = emu.mutations()
    assert (mutation["record_id"], mutation["operation"]) == (OPP, "update")
    assert mutation["changes"]["fields"]["priority"]["after"] == 5
    assert emu.requests()[0]["status"] == 500


async def test_commit_then_drop_commits_and_breaks_the_response(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(faults=only({"action": "commit_then_drop", "method": "POST"}))
    async with client_for(emu) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            await api.post(UPDATE, json=CHANGE)
        assert await priority(api) == 5
    assert len(emu.mutations()) == 1


async def test_drop_breaks_the_connection_without_committing(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=only({"action": "drop", "method": "POST"}))
    async with client_for(emu) as api:
        with pytest.raises(httpx.TransportError):
            await api.post(UPDATE, json=CHANGE)
        assert await priority(api) != 5
    assert emu.mutations() == []


async def test_malformed_body_commits_and_answers_200_with_garbage(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(faults=only({"action": "malformed_body", "method": "POST"}))
    async with client_for(emu) as api:
        response = await api.post(UPDATE, json=CHANGE)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()
        assert await priority(api) == 5
    assert len(emu.mutations()) == 1


async def test_truncate_body_commits_and_cuts_the_json(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=only({"action": "truncate_body", "method": "POST"}))
    async with client_for(emu) as api:
        response = await api.post(UPDATE, json=CHANGE)
        full = await api.get(UPDATE)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert response.content.startswith(b'{"id":"' + OPP.encode())
    assert 0 < len(response.content) < len(full.content)
    assert len(emu.mutations()) == 1


async def test_redirect_answers_307_without_running(make_emulator: MakeEmulator) -> None:
    target = "http://127.0.0.1:9/v1/opportunities"
    emu = make_emulator(faults=only({"action": "redirect", "location": target}))
    async with client_for(emu) as api:
        response = await api.post(UPDATE, json=CHANGE)
    assert response.status_code == 307
    assert response.headers["location"] == target
    assert emu.mutations() == []


async def test_list_lag_serves_an_old_snapshot(
    make_emulator: MakeEmulator, clock: ManualClock
) -> None:
    emu = make_emulator(faults=FaultConfig(list_lag_seconds=10))
    async with client_for(emu) as api:
        created = (await api.post("/v1/opportunities", json=new_opportunity("Lagged"))).json()
        lagged = (await api.get("/v1/opportunities")).json()
        retrieved = await api.get(f"/v1/opportunities/{created['id']}")
        clock.advance(9)
        still_lagged = (await api.get("/v1/opportunities")).json()
        clock.advance(2)
        caught_up = (await api.get("/v1/opportunities")).json()
    assert created["id"] not in {r["id"] for r in lagged["data"]}
    assert created["id"] not in {r["id"] for r in still_lagged["data"]}
    assert retrieved.status_code == 200  # retrieve is never lagged
    assert caught_up["data"][0]["id"] == created["id"]
    assert caught_up["totalCount"] == lagged["totalCount"] + 1


async def test_rules_match_method_and_full_path(make_emulator: MakeEmulator) -> None:
    # only creates fail: the collection path, not record updates below it, and not reads
    emu = make_emulator(
        faults=only(
            {"action": "status", "status": 500, "method": "POST", "path": "/v1/opportunities"}
            | {"times": None}
        )
    )
    async with client_for(emu) as api:
        create = await api.post("/v1/opportunities", json=new_opportunity())
        update = await api.post(UPDATE, json=CHANGE)
        listing = await api.get("/v1/opportunities")
    assert (create.status_code, update.status_code, listing.status_code) == (500, 200, 200)


async def test_skip_and_times_window_over_http(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(faults=only({"action": "status", "status": 502, "skip": 2, "times": 2}))
    async with client_for(emu) as api:
        statuses = [(await api.get("/v1/auth/validate")).status_code for _ in range(6)]
    assert statuses == [200, 200, 502, 502, 200, 200]
    assert emu.faults.counters() == [{"seen": 6, "fired": 2}]


async def test_a_seeded_storm_is_reproducible(make_emulator: MakeEmulator) -> None:
    config = FaultConfig.from_dict(
        {
            "seed": 2026,
            "rules": [{"action": "status", "status": 503, "probability": 0.4, "times": None}],
        }
    )
    reference = Faults(config)
    expected = [reference.before("GET", "/v1/auth/validate") is not None for _ in range(40)]
    emu = make_emulator(faults=config)
    async with client_for(emu) as api:
        statuses = [(await api.get("/v1/auth/validate")).status_code for _ in range(40)]
        emu.faults.configure(config)  # a reset replays the same storm
        again = [(await api.get("/v1/auth/validate")).status_code for _ in range(40)]
    assert statuses == [503 if hit else 200 for hit in expected]
    assert again == statuses
    assert 0 < statuses.count(503) < 40


async def test_faults_reconfigure_over_the_admin_endpoint(make_emulator: MakeEmulator) -> None:
    emu = make_emulator()
    spec = {"latency_ms": 0, "rules": [{"action": "status", "status": 418, "times": 1}]}
    async with client_for(emu) as api:
        put = await api.put("/_emulator/faults", json=spec)
        assert put.status_code == 200
        assert (await api.get("/v1/auth/validate")).status_code == 418
        shown = (await api.get("/_emulator/faults")).json()
        assert shown["counters"] == [{"seen": 1, "fired": 1}]
        assert shown["rules"][0]["status"] == 418
        # what GET shows can be PUT back (and resets the counters)
        again = await api.put("/_emulator/faults", json=shown)
        assert again.json()["counters"] == [{"seen": 0, "fired": 0}]
        bad = await api.put("/_emulator/faults", json={"rules": [{"action": "explode"}]})
    assert bad.status_code == 400
    assert "rules[0]: unknown action 'explode'" in bad.json()["error"]["message"]
    assert emu.faults.config.rules[0].status == 418  # a bad spec leaves the old one in place


async def test_a_fault_file_configures_an_emulator(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "storm.yaml"
    path.write_text(
        "rules:\n  - {action: status, status: 429, retry_after: 1, times: 2, method: GET}\n",
        encoding="utf-8",
    )
    emu = make_emulator(faults=FaultConfig.from_file(str(path)))
    async with client_for(emu) as api:
        statuses = [(await api.get("/v1/auth/validate")).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


def test_fault_rule_objects_and_dicts_mix() -> None:
    rule = FaultRule(action="drop")
    config = FaultConfig.from_dict({"rules": [rule, {"action": "drop"}]})
    assert config.rules == [rule, FaultRule(action="drop")]
