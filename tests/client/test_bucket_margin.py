"""The client's default pace leaves the server's bucket a margin, so arrival jitter is no 429.

A client that spends the server's whole bucket and then sends at exactly the server's rate keeps
that bucket at zero: any request that reaches the server a little later than the one after it
(a busy event loop, a slow network hop) finds no token. The benchmark measured this as 8 × 429
and 1-s stalls in an apply of 200 writes. The default burst is below one second of tokens, so
the server's bucket never drops under the difference.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from reconciler.adapters.buckets import Buckets, RateConfig
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig, RateLimiter
from tests.support.client import FakeClock

JITTER_SECONDS = 0.08  # how much later than it was sent a request may reach the server


async def _send_times(config: RateConfig, count: int) -> list[float]:
    """When a client with ``config`` sends ``count`` concurrent reads (simulated time)."""
    clock = FakeClock(ManualClock())
    buckets = Buckets(config, clock)
    times: list[float] = []

    async def one() -> None:
        await buckets.acquire("read")
        times.append(clock.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))
    return times


def _refused(send_times: list[float], seed: int) -> int:
    """429s the emulator's limiter (25/s, capacity 25) gives when each request arrives up to
    ``JITTER_SECONDS`` after it was sent."""
    rng = random.Random(seed)
    arrivals = sorted(t + rng.uniform(0, JITTER_SECONDS) for t in send_times)
    clock = ManualClock(0.0)
    limiter = RateLimiter(RateLimitConfig(), clock)
    refused = 0
    for at in arrivals:
        clock.set(at)
        refused += not limiter.take("org", "read").allowed
    return refused


@pytest.mark.anyio
async def test_the_default_pace_meets_no_429_under_arrival_jitter() -> None:
    sends = await _send_times(RateConfig(), 200)
    # Still the server's rate: the margin costs 2.5 tokens of the first burst, then nothing.
    assert max(sends) - min(sends) <= (200 - 22) / 25 + 1e-3
    assert [_refused(sends, seed) for seed in range(20)] == [0] * 20


@pytest.mark.anyio
async def test_a_bucket_as_large_as_the_servers_would_meet_429s() -> None:
    # The same client with a full second of burst: the jitter above does cost 429s.
    sends = await _send_times(RateConfig(burst=1.0), 200)
    assert sum(_refused(sends, seed) for seed in range(20)) > 0
