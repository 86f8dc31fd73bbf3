"""Rate limits end to end (lightfield-api.md §8): buckets, headers and 429s as an HTTP client sees
them."""

from __future__ import annotations

import math

import httpx
import pytest

from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.seed import READ_KEY

from .conftest import OPP, MakeEmulator, api_headers, client_for, new_opportunity

pytestmark = pytest.mark.anyio

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


async def test_25_reads_pass_and_the_26th_is_429(
    make_emulator: MakeEmulator, clock: ManualClock
) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig())
    async with client_for(emu) as api:
        passed = [await api.get(f"/v1/opportunities/{OPP}") for _ in range(25)]
        limited = await api.get(f"/v1/opportunities/{OPP}")

    assert [r.status_code for r in passed] == [200] * 25
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in passed] == list(range(24, -1, -1))
    assert {r.headers["X-RateLimit-Limit"] for r in passed} == {"25"}
    assert limited.status_code == 429
    assert limited.json() == {
        "error": {
            "type": "too_many_requests",
            "message": "Rate limit exceeded. Please try again later.",
        }
    }
    assert limited.headers["Retry-After"] == "1"  # whole seconds, at least 1
    assert limited.headers["retry-after-ms"] == "40"  # what the SDK waits: one token at 25/s
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) == math.ceil(clock.now() + 1)
    assert emu.requests()[-1]["status"] == 429


async def test_the_bucket_refills_with_the_clock(
    make_emulator: MakeEmulator, clock: ManualClock
) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig())
    async with client_for(emu) as api:
        for _ in range(25):
            await api.get("/v1/opportunities")
        assert (await api.get("/v1/opportunities")).status_code == 429
        clock.advance(0.04)  # exactly one token
        assert (await api.get("/v1/opportunities")).status_code == 200
        assert (await api.get("/v1/opportunities")).status_code == 429
        clock.advance(1)  # a full bucket again
        statuses = [(await api.get("/v1/opportunities")).status_code for _ in range(26)]
    assert statuses == [200] * 25 + [429]


async def test_every_response_carries_the_headers(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig())
    async with client_for(emu) as api, client_for(emu, READ_KEY) as reader:
        responses = {
            "ok": await api.get(f"/v1/opportunities/{OPP}"),
            "not found": await api.get("/v1/opportunities/opp_cmdoesnotexist1"),
            "bad filter": await api.get("/v1/opportunities", params={"bogus[equal]": "1"}),
            "no scope": await reader.post(f"/v1/opportunities/{OPP}", json={"fields": {}}),
            "unknown route": await api.get("/v1/nothing-here/x/y"),
            "bad media type": await api.post(
                f"/v1/opportunities/{OPP}",
                content=b"{}",
                headers={"Content-Type": "text/plain"},
            ),
            "created": await api.post("/v1/opportunities", json=new_opportunity()),
        }
    for name, response in responses.items():
        missing = [h for h in RATE_HEADERS if h not in response.headers]
        assert not missing, f"{name} ({response.status_code}) lacks {missing}"
    assert responses["ok"].status_code == 200
    assert responses["not found"].status_code == 404
    assert responses["no scope"].status_code == 403
    assert responses["bad media type"].status_code == 415


async def test_unauthenticated_requests_take_no_tokens(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig(per_second={"read": 2.0}))
    async with client_for(emu) as api:
        for _ in range(5):
            refused = await api.get(f"/v1/opportunities/{OPP}", headers={"Authorization": "x"})
            assert refused.status_code == 401
        first = await api.get(f"/v1/opportunities/{OPP}")
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Remaining"] == "1"


async def test_categories_have_separate_buckets(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig(per_second={"read": 1.0, "search": 1.0}))
    async with client_for(emu) as api:
        assert (await api.get(f"/v1/opportunities/{OPP}")).status_code == 200
        assert (await api.get(f"/v1/opportunities/{OPP}")).status_code == 429
        assert (await api.get("/v1/opportunities/definitions")).status_code == 429  # also Read
        assert (await api.get("/v1/auth/validate")).status_code == 429  # also Read
        assert (await api.get("/v1/opportunities")).status_code == 200  # Search
        assert (await api.get("/v1/members")).status_code == 429  # Search, now empty
        write = await api.post(f"/v1/opportunities/{OPP}", json={"fields": {"priority": 2}})
    assert write.status_code == 200
    assert write.headers["X-RateLimit-Limit"] == "25"
    categories = [r["category"] for r in emu.requests()]
    assert categories == ["read", "read", "read", "read", "search", "search", "write"]


async def test_orgs_have_separate_buckets(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig(per_second={"read": 1.0}))
    emu.add_org("org_other")
    emu.add_key("org_other", "sk_lf_other_full")
    async with client_for(emu) as demo, client_for(emu, "sk_lf_other_full") as other:
        assert (await demo.get("/v1/auth/validate")).status_code == 200
        assert (await demo.get("/v1/auth/validate")).status_code == 429
        assert (await other.get("/v1/auth/validate")).status_code == 200
        # two keys of one org share the org's bucket
        shared = await demo.get("/v1/auth/validate", headers=api_headers(READ_KEY))
    assert shared.status_code == 429


async def test_a_limited_write_changes_nothing_and_keeps_its_key_free(
    make_emulator: MakeEmulator, clock: ManualClock
) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig(per_second={"write": 1.0}))
    key = {"Idempotency-Key": "limited"}
    async with client_for(emu) as api:
        missing = await api.post("/v1/opportunities/opp_cmdoesnotexist1", json={"fields": {}})
        assert missing.status_code == 404  # took the only write token
        limited = await api.post("/v1/opportunities", json=new_opportunity(), headers=key)
        assert limited.status_code == 429
        assert limited.headers["retry-after-ms"] == "1000"
        clock.advance(1)
        retried = await api.post("/v1/opportunities", json=new_opportunity(), headers=key)
    assert retried.status_code == 200
    assert [m["operation"] for m in emu.mutations()] == ["create"]


async def test_disabled_limits_never_refuse_but_still_report(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig(enabled=False))
    async with client_for(emu) as api:
        responses = [await api.get("/v1/auth/validate") for _ in range(60)]
    assert {r.status_code for r in responses} == {200}
    assert responses[-1].headers["X-RateLimit-Limit"] == "25"
    assert responses[-1].headers["X-RateLimit-Remaining"] == "25"


async def test_reconfigured_limits_apply_at_once(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limits=RateLimitConfig())
    emu.rate_limits.configure(RateLimitConfig(per_second={"read": 2.0}))
    async with client_for(emu) as api:
        statuses = [(await api.get("/v1/auth/validate")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_an_injected_429_storm_carries_retry_after(make_emulator: MakeEmulator) -> None:
    storm = FaultRule(action="status", status=429, retry_after=1, times=3)
    emu = make_emulator(rate_limits=RateLimitConfig(), faults=FaultConfig(rules=[storm]))
    async with client_for(emu) as api:
        responses: list[httpx.Response] = [await api.get("/v1/auth/validate") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert all(r.headers["Retry-After"] == "1" for r in responses[:3])
    assert all(r.json()["error"]["type"] == "too_many_requests" for r in responses[:3])
