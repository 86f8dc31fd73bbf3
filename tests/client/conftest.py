"""Fixtures of the client tests: the real emulator in-process, clients wired to it, and a clock.

The client under test talks to ``reconciler.emulator`` through ``httpx.ASGITransport``, wrapped in
``RecordingTransport`` so tests can also see exactly what went on the wire. Client and emulator
share one ``ManualClock``: the client's sleeps advance it (and are recorded), so rate limits,
backoff and Retry-After run on simulated time and no test waits for real.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from reconciler.adapters.buckets import RateConfig
from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig
from tests.support.client import FakeClock, RecordingTransport
from tests.support.demo import FULL_KEY

ClientFactory = Callable[..., LightfieldClient]
UNLIMITED = RateConfig(read=None, search=None, write=None)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clock(manual_clock: ManualClock) -> FakeClock:
    return FakeClock(manual_clock)


@pytest.fixture
def emu(manual_clock: ManualClock) -> Emulator:
    """A fresh demo-seeded emulator; its rate limiter is off unless a test configures it."""
    emulator = Emulator(db=":memory:", seed="demo", clock=manual_clock)
    emulator.rate_limits.configure(RateLimitConfig(enabled=False))
    return emulator


@pytest.fixture
def wire(emu: Emulator) -> RecordingTransport:
    return RecordingTransport(httpx.ASGITransport(app=emu.app))


@pytest.fixture
async def make_client(wire: RecordingTransport, clock: FakeClock) -> AsyncIterator[ClientFactory]:
    """Build clients on the emulator (no client-side limits, seeded jitter unless overridden);
    every one is closed at the end of the test."""
    made: list[LightfieldClient] = []

    def factory(api_key: str = FULL_KEY, **overrides: Any) -> LightfieldClient:
        options: dict[str, Any] = {
            "base_url": "http://emulator.test",
            "transport": wire,
            "clock": clock,
            "rates": UNLIMITED,
            "retry": RetryPolicy(rng=random.Random(7)),
        }
        options.update(overrides)
        client = LightfieldClient(api_key, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> LightfieldClient:
    return make_client()


@pytest.fixture
async def opp_id(client: LightfieldClient, emu: Emulator, wire: RecordingTransport) -> str:
    """An active demo opportunity; the logs are cleared after finding it."""
    page = await client.list_page("opportunities", limit=1)
    emu.reset_logs()
    wire.requests.clear()
    return page.data[0].id
