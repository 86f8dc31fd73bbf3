"""Fixtures of the emulator suite: a demo emulator on a ManualClock, spoken to in-process.

Requests go through ``httpx.ASGITransport`` into the real app (the whole pipeline, SQLite in
memory). Rate limiting is off here because a ManualClock never refills the buckets; the tests of
rate limiting build their own emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.seed import DEMO_ORG, demo_id
from tests.support.demo import FULL_KEY, READ_KEY
from tests.support.emulator import VERSION, client_for, headers

__all__ = ["FULL_KEY", "READ_KEY", "VERSION", "client_for", "headers"]


def opp(key: str) -> str:
    return demo_id(DEMO_ORG, "opp", key)


def acc(key: str) -> str:
    return demo_id(DEMO_ORG, "acc", key)


def con(email: str) -> str:
    return demo_id(DEMO_ORG, "con", email)


def mem(email: str) -> str:
    return demo_id(DEMO_ORG, "mem", email)


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert isinstance(err["type"], str), body
    assert err["message"], body
    return err


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Emulator:
    return Emulator(
        db=":memory:", seed="demo", clock=clock, rate_limits=RateLimitConfig(enabled=False)
    )


@pytest.fixture
async def api(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu) as client:
        yield client


@pytest.fixture
async def read_api(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emu, READ_KEY) as client:
        yield client


async def create_opportunity(
    api: httpx.AsyncClient, name: str = "Test deal", **fields: Any
) -> dict[str, Any]:
    response = await api.post(
        "/v1/opportunities",
        json={"fields": {"$name": name, **fields}, "relationships": {"$account": acc("globex")}},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
