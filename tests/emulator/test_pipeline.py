"""The request pipeline: auth, version, rate limits, faults, media type, scopes, idempotency,
the lagging list index, the mutation and request logs, and the admin endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig

from .conftest import FULL_KEY, acc, client_for, create_opportunity, error, headers, opp

pytestmark = pytest.mark.anyio

OPP = opp("acme-expansion")


@pytest.mark.parametrize(
    ("request_headers", "status", "code"),
    [
        ({}, 401, None),
        ({"Authorization": "Bearer sk_lf_wrong"}, 401, None),
        ({"Authorization": f"Basic {FULL_KEY}"}, 401, None),
        ({"Authorization": f"Bearer {FULL_KEY}"}, 400, "version_header"),
        (
            {"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2025-01-01"},
            400,
            "version_header",
        ),
    ],
)
async def test_auth_then_version(
    emu: Emulator, request_headers: dict[str, str], status: int, code: str | None
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator"
    ) as raw:
        response = await raw.get("/v1/opportunities", headers=request_headers)
    assert response.status_code == status
    err = error(response)
    assert err.get("code") == code
    assert err["type"] == ("unauthorized" if status == 401 else "bad_request")
    assert "sk_lf_wrong" not in response.text
    assert FULL_KEY not in response.text


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v1/opportunities", "opportunities:create"),
        ("POST", f"/v1/opportunities/{OPP}", "opportunities:update"),
        ("DELETE", f"/v1/opportunities/{OPP}", "opportunities:delete"),
        ("POST", f"/v1/opportunities/{OPP}/restore", "opportunities:restore"),
        ("POST", "/v1/accounts", "accounts:create"),
        ("POST", f"/v1/contacts/{OPP}", "contacts:update"),
    ],
)
async def test_read_key_lacks_write_scopes(
    read_api: httpx.AsyncClient, emu: Emulator, method: str, path: str, scope: str
) -> None:
    response = await read_api.request(method, path, json={"fields": {"$name": "x"}})
    assert response.status_code == 403
    assert error(response)["message"] == f"This API key lacks the '{scope}' scope."
    assert emu.mutations() == []


async def test_scoped_key_may_use_its_scopes(emu: Emulator) -> None:
    emu.add_key("org_demo", "sk_lf_members_only", ["members:read"])
    async with client_for(emu, "sk_lf_members_only") as members_api:
        assert (await members_api.get("/v1/members")).status_code == 200
        assert (await members_api.get("/v1/accounts")).status_code == 403
        assert (await members_api.get("/v1/auth/validate")).status_code == 200


async def test_body_media_type_and_json(api: httpx.AsyncClient) -> None:
    path = f"/v1/opportunities/{OPP}"
    as_text = await api.post(
        path, content=b'{"fields": {}}', headers={"Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415
    assert error(as_text)["type"] == "unsupported_media_type"
    broken = await api.post(
        path, content=b'{"fields": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert error(broken)["code"] == "invalid_json"
    not_object = await api.post(path, json=[1, 2])
    assert not_object.status_code == 400
    # the SDK sends Content-Type: application/json on bodiless GET/DELETE: fine
    get = await api.get(path, headers={"Content-Type": "application/json"})
    assert get.status_code == 200
    charset = await api.post(
        path,
        content=b'{"fields": {"priority": 3}}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 200


async def test_unknown_endpoint_is_404(api: httpx.AsyncClient) -> None:
    response = await api.put(f"/v1/opportunities/{OPP}", json={})
    assert response.status_code == 404
    assert error(response)["type"] == "not_found"


async def test_rate_limit_headers_and_429(clock: ManualClock) -> None:
    emu = Emulator(
        clock=clock,
        rate_limits=RateLimitConfig(per_second={"read": 2.0, "search": 25.0, "write": 25.0}),
    )
    async with client_for(emu) as api:
        first = await api.get(f"/v1/opportunities/{OPP}")
        assert first.headers["X-RateLimit-Limit"] == "2"
        assert first.headers["X-RateLimit-Remaining"] == "1"
        await api.get(f"/v1/opportunities/{OPP}")
        limited = await api.get(f"/v1/opportunities/{OPP}")
        assert limited.status_code == 429
        assert error(limited)["type"] == "too_many_requests"
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        # other categories have their own buckets; errors carry the headers too
        listed = await api.get("/v1/opportunities?bogus=1")
        assert listed.status_code == 400
        assert "X-RateLimit-Limit" in listed.headers
        clock.advance(1)
        assert (await api.get(f"/v1/opportunities/{OPP}")).status_code == 200
    statuses = [r["status"] for r in emu.requests()]
    assert statuses == [200, 200, 429, 400, 200]
    assert [r["category"] for r in emu.requests()][:4] == ["read", "read", "read", "search"]


async def test_idempotent_create_replays(api: httpx.AsyncClient, emu: Emulator) -> None:
    body = {"fields": {"$name": "Once"}, "relationships": {"$account": acc("acme")}}
    first = await api.post("/v1/opportunities", json=body, headers={"Idempotency-Key": "k1"})
    second = await api.post("/v1/opportunities", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert "X-RateLimit-Limit" in second.headers
    other = await api.post("/v1/opportunities", json=body, headers={"Idempotency-Key": "k2"})
    assert other.json()["id"] != first.json()["id"]
    creates = [m for m in emu.mutations() if m["operation"] == "create"]
    assert [m["idempotency_key"] for m in creates] == ["k1", "k2"]
    # a different body with a used key replays the first response (lenient mode)
    changed = await api.post(
        "/v1/opportunities",
        json={**body, "fields": {"$name": "Twice"}},
        headers={"Idempotency-Key": "k1"},
    )
    assert changed.json()["id"] == first.json()["id"]
    assert len(emu.mutations()) == 2
    logged = [r for r in emu.requests() if r["idempotency_key"] == "k1"]
    assert len(logged) == 3
    assert all(r["status"] == 200 for r in logged)


async def test_failed_keyed_request_is_not_cached(api: httpx.AsyncClient, emu: Emulator) -> None:
    bad = {"fields": {"$name": "X"}, "relationships": {"$account": "acc_cmdoesnotexist1"}}
    assert (
        await api.post("/v1/opportunities", json=bad, headers={"Idempotency-Key": "retry"})
    ).status_code == 422
    good = {"fields": {"$name": "X"}, "relationships": {"$account": acc("acme")}}
    assert (
        await api.post("/v1/opportunities", json=good, headers={"Idempotency-Key": "retry"})
    ).status_code == 200
    assert len(emu.mutations()) == 1


async def test_idempotency_key_too_long_and_strict_mismatch(clock: ManualClock) -> None:
    emu = Emulator(clock=clock, strict_idempotency=True, rate_limits=RateLimitConfig(enabled=False))
    async with client_for(emu) as api:
        path = f"/v1/opportunities/{OPP}"
        long_key = await api.post(path, json={}, headers={"Idempotency-Key": "k" * 256})
        assert long_key.status_code == 400
        assert (error(long_key)["code"], error(long_key)["param"]) == (
            "idempotency_key_too_long",
            "Idempotency-Key",
        )
        ok = await api.post(
            path, json={"fields": {"priority": 1}}, headers={"Idempotency-Key": "k" * 255}
        )
        assert ok.status_code == 200
        mismatch = await api.post(
            path, json={"fields": {"priority": 2}}, headers={"Idempotency-Key": "k" * 255}
        )
        assert mismatch.status_code == 422


async def test_update_keys_are_scoped_per_record(api: httpx.AsyncClient, emu: Emulator) -> None:
    body = {"fields": {"priority": 4}}
    for record in (OPP, opp("initech-support")):
        response = await api.post(
            f"/v1/opportunities/{record}", json=body, headers={"Idempotency-Key": "same"}
        )
        assert response.json()["id"] == record
    assert len(emu.mutations()) == 2


@pytest.mark.parametrize(
    ("rule", "status", "committed"),
    [
        ({"action": "status", "status": 503, "retry_after": 2}, 503, False),
        ({"action": "status", "status": 429, "should_retry": True}, 429, False),
        ({"action": "commit_then_status", "status": 500}, 500, True),
        ({"action": "redirect", "location": "http://elsewhere/v1"}, 307, False),
    ],
)
async def test_injected_status_faults(
    api: httpx.AsyncClient, emu: Emulator, rule: dict[str, Any], status: int, committed: bool
) -> None:
    emu.faults.configure(FaultConfig(rules=[FaultRule.from_dict({"method": "POST", **rule})]))
    response = await api.post(f"/v1/opportunities/{OPP}", json={"fields": {"priority": 5}})
    assert response.status_code == status
    if status != 307:
        assert error(response)["type"] in (
            "service_unavailable",
            "too_many_requests",
            "internal_server_error",
        )
    else:
        assert response.headers["location"] == "http://elsewhere/v1"
    if rule.get("retry_after"):
        assert response.headers["Retry-After"] == "2"
    if rule.get("should_retry"):
        assert response.headers["x-should-retry"] == "true"
    assert len(emu.mutations()) == (1 if committed else 0)
    assert emu.requests()[-1]["status"] == status
    assert emu.requests()[-1]["fault"] == rule["action"]
    # times=1: the next request goes through
    assert (await api.post(f"/v1/opportunities/{OPP}", json={})).status_code == 200


@pytest.mark.parametrize("action", ["drop", "commit_then_drop"])
async def test_connection_drops(api: httpx.AsyncClient, emu: Emulator, action: str) -> None:
    emu.faults.configure(
        FaultConfig(rules=[FaultRule.from_dict({"action": action, "method": "POST"})])
    )
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post(f"/v1/opportunities/{OPP}", json={"fields": {"priority": 5}})
    assert len(emu.mutations()) == (1 if action == "commit_then_drop" else 0)
    assert emu.requests()[-1]["fault"] == action


@pytest.mark.parametrize("action", ["malformed_body", "truncate_body"])
async def test_damaged_bodies_after_commit(
    api: httpx.AsyncClient, emu: Emulator, action: str
) -> None:
    emu.faults.configure(
        FaultConfig(rules=[FaultRule.from_dict({"action": action, "method": "POST"})])
    )
    response = await api.post(
        f"/v1/opportunities/{OPP}",
        json={"fields": {"priority": 5}},
        headers={"Idempotency-Key": "dmg"},
    )
    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
        response.json()
    assert len(emu.mutations()) == 1
    # the retry with the same key replays the committed result instead of applying it again
    retry = await api.post(
        f"/v1/opportunities/{OPP}",
        json={"fields": {"priority": 5}},
        headers={"Idempotency-Key": "dmg"},
    )
    assert retry.json()["fields"]["priority"]["value"] == 5
    assert len(emu.mutations()) == 1


async def test_lagging_list_index(
    api: httpx.AsyncClient, emu: Emulator, clock: ManualClock
) -> None:
    emu.faults.configure(FaultConfig(list_lag_seconds=30))
    created = await create_opportunity(api, "Lagging")
    await api.post(f"/v1/opportunities/{OPP}", json={"fields": {"$name": "Renamed expansion"}})
    listed = (await api.get("/v1/opportunities")).json()
    assert created["id"] not in [r["id"] for r in listed["data"]]
    assert listed["totalCount"] == 17
    stale = await api.get("/v1/opportunities", params={"$name": "Acme platform expansion"})
    assert [r["id"] for r in stale.json()["data"]] == [OPP]  # the old name still matches
    # retrieve is always fresh
    assert (await api.get(f"/v1/opportunities/{created['id']}")).status_code == 200
    clock.advance(31)
    listed = (await api.get("/v1/opportunities")).json()
    assert listed["data"][0]["id"] == created["id"]
    assert listed["totalCount"] == 18
    renamed = (await api.get("/v1/opportunities", params={"$name": "Renamed expansion"})).json()
    assert [r["id"] for r in renamed["data"]] == [OPP]


async def test_mutation_log_records_changes(api: httpx.AsyncClient, emu: Emulator) -> None:
    created = await create_opportunity(api, "Logged", priority=1)
    await api.post(
        f"/v1/opportunities/{created['id']}",
        json={
            "fields": {"priority": 2, "$nextSteps": "Call"},
            "relationships": {
                "$contact": {"add": [], "remove": []},
                "partners": {"add": acc("hooli")},
            },
        },
        headers={"Idempotency-Key": "u1"},
    )
    await api.delete(f"/v1/opportunities/{created['id']}")
    await api.delete(f"/v1/opportunities/{created['id']}")  # no-op, not logged
    await api.post(f"/v1/opportunities/{created['id']}/restore")
    log = emu.mutations()
    assert [m["operation"] for m in log] == ["create", "update", "delete", "restore"]
    assert [m["seq"] for m in log] == sorted(m["seq"] for m in log)
    create, update = log[0], log[1]
    assert create["changes"]["fields"]["$name"] == {"before": None, "after": "Logged"}
    assert create["changes"]["relationships"]["$account"] == {
        "added": [acc("globex")],
        "removed": [],
    }
    assert update["changes"]["fields"] == {
        "priority": {"before": 1, "after": 2},
        "$nextSteps": {"before": None, "after": "Call"},
    }
    assert update["changes"]["relationships"] == {
        "partners": {"added": [acc("hooli")], "removed": []}
    }
    assert update["idempotency_key"] == "u1"
    assert update["record_id"] == created["id"]
    assert update["method"] == "POST"
    assert update["path"] == f"/v1/opportunities/{created['id']}"
    assert update["org"] == "org_demo"
    assert update["object_type"] == "opportunity"


async def test_request_log_never_holds_the_key(api: httpx.AsyncClient, emu: Emulator) -> None:
    await api.get("/v1/opportunities", params={"limit": 1})
    await api.post(f"/v1/opportunities/{OPP}", json={"fields": {"priority": 1}})
    entries = emu.requests()
    assert [(r["method"], r["status"], r["category"]) for r in entries] == [
        ("GET", 200, "search"),
        ("POST", 200, "write"),
    ]
    assert entries[0]["query"] == "limit=1"
    assert entries[0]["body"] is None
    assert entries[1]["body"] == {"fields": {"priority": 1}}
    assert FULL_KEY not in repr(entries)
    assert FULL_KEY not in repr(emu)


async def test_admin_endpoints(emu: Emulator, clock: ManualClock) -> None:
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator"
        ) as admin,
        client_for(emu) as api,
    ):
        await api.post(f"/v1/opportunities/{OPP}", json={"fields": {"priority": 9}})
        mutations = (await admin.get("/_emulator/mutations")).json()
        assert [m["record_id"] for m in mutations] == [OPP]
        requests = (await admin.get("/_emulator/requests")).json()
        assert len(requests) == 1  # admin calls are not logged
        assert (
            await admin.get("/_emulator/requests", params={"since": requests[0]["seq"]})
        ).json() == []
        put = await admin.put(
            "/_emulator/faults",
            json={"rules": [{"action": "status", "status": 500, "path": "/v1/opportunities/.*"}]},
        )
        assert put.status_code == 200
        assert (await api.get(f"/v1/opportunities/{OPP}")).status_code == 500
        bad = await admin.put("/_emulator/faults", json={"rules": [{"action": "explode"}]})
        assert bad.status_code == 400
        before = clock.now()
        advanced = await admin.post("/_emulator/clock/advance", json={"seconds": 90})
        assert advanced.json()["now"] == before + 90 == clock.now()
        assert (await admin.post("/_emulator/reset-logs")).status_code == 200
        assert emu.mutations() == []
        assert emu.requests() == []
        assert (await admin.get("/_emulator/nothing")).status_code == 404


async def test_clock_advance_needs_a_manual_clock() -> None:
    emu = Emulator()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator"
    ) as admin:
        response = await admin.post("/_emulator/clock/advance", json={"seconds": 1})
    assert response.status_code == 409


async def test_sdk_style_headers_are_ignored(api: httpx.AsyncClient) -> None:
    response = await api.get(
        f"/v1/opportunities/{OPP}",
        headers={
            **headers(),
            "X-Stainless-Lang": "python",
            "User-Agent": "Lightfield/Python 0.20.0a2",
        },
    )
    assert response.status_code == 200
