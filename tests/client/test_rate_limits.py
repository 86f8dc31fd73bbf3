"""Client-side buckets against the emulator's real rate limiter, on simulated time."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.adapters.buckets import RateConfig
from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from tests.support.client import FakeClock

from .conftest import ClientFactory


def limit(emu: Emulator, **per_second: float) -> None:
    rates = {"read": 25.0, "search": 25.0, "write": 25.0} | per_second
    emu.rate_limits.configure(RateLimitConfig(per_second=rates))  # type: ignore[arg-type]


def statuses(emu: Emulator) -> list[int]:
    return [int(r["status"]) for r in emu.requests()]


@pytest.mark.anyio
async def test_100_concurrent_reads_meet_no_429(
    make_client: ClientFactory, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    limit(emu)
    client = make_client(rates=RateConfig())  # the defaults: 25/s per category
    start = clock.monotonic()
    records = await asyncio.gather(*(client.retrieve("opportunities", opp_id) for _ in range(100)))
    assert len(records) == 100
    assert statuses(emu) == [200] * 100
    assert client.stats.rate_limited == 0
    assert client.stats.requests["read"] == 100
    assert clock.monotonic() - start >= (100 - 25) / 25


@pytest.mark.anyio
async def test_n_requests_take_at_least_n_minus_capacity_over_rate(
    make_client: ClientFactory, clock: FakeClock, opp_id: str
) -> None:
    client = make_client(rates=RateConfig(read=10.0))
    start = clock.monotonic()
    for _ in range(40):
        await client.retrieve("opportunities", opp_id)
    assert clock.monotonic() - start >= (40 - 10) / 10
    assert client.stats.throttled_seconds >= (40 - 10) / 10


@pytest.mark.anyio
async def test_the_client_adapts_to_a_lower_server_limit(
    make_client: ClientFactory, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    limit(emu, search=5.0)
    client = make_client(rates=RateConfig())
    start = clock.monotonic()
    for _ in range(20):
        await client.list_page("opportunities", limit=1)
    assert statuses(emu) == [200] * 20
    bucket = client.buckets.get("search")
    assert bucket is not None and bucket.rate == 5.0
    assert clock.monotonic() - start >= (20 - 5) / 5
    read = client.buckets.get("read")
    assert read is not None and read.rate == 25.0  # only the category the server named


@pytest.mark.anyio
async def test_concurrent_bursts_over_a_lower_server_limit_all_succeed(
    make_client: ClientFactory, emu: Emulator, opp_id: str
) -> None:
    limit(emu, read=5.0)
    client = make_client(rates=RateConfig())
    records = await asyncio.gather(*(client.retrieve("opportunities", opp_id) for _ in range(30)))
    assert len(records) == 30
    # Whatever 429s the first burst met were retried; the rest of the run met none.
    assert statuses(emu).count(200) == 30
    assert client.stats.rate_limited == statuses(emu).count(429)


@pytest.mark.anyio
async def test_a_429_storm_is_waited_out(
    make_client: ClientFactory, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="status", status=429, retry_after=1, times=3)])
    )
    client = make_client(rates=RateConfig())
    await client.retrieve("opportunities", opp_id)
    assert statuses(emu) == [429, 429, 429, 200]
    assert client.stats.rate_limited == 3
    assert all(delay >= 1 for delay in clock.sleeps[:3])


@pytest.mark.anyio
async def test_unlimited_categories_never_wait(
    client: LightfieldClient, clock: FakeClock, opp_id: str
) -> None:
    await asyncio.gather(*(client.retrieve("opportunities", opp_id) for _ in range(60)))
    assert clock.sleeps == []


@pytest.mark.anyio
async def test_queueing_for_tokens_does_not_eat_the_retry_deadline(
    make_client: ClientFactory, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    # At 1 read/s the 80th call waits ~79 s for its first token, beyond the 60 s deadline;
    # its 503 must still be retried.
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="status", status=503, skip=79, times=1)])
    )
    client = make_client(rates=RateConfig(read=1.0))
    start = clock.monotonic()
    records = await asyncio.gather(*(client.retrieve("opportunities", opp_id) for _ in range(80)))
    assert len(records) == 80
    assert statuses(emu) == [200] * 79 + [503, 200]
    assert client.stats.retries == 1
    assert clock.monotonic() - start >= 79
