"""Fixtures of the plan tests: a demo emulator in-process and a client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reconciler.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.schema import OrgSchema
from tests.demo import FULL_KEY


@pytest.fixture
def emu() -> Emulator:
    return Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[LightfieldClient]:
    async with LightfieldClient.for_asgi_app(
        emu.app, FULL_KEY, base_url="http://emulator", rates=None
    ) as c:
        yield c


@pytest.fixture
async def schema(client: LightfieldClient) -> OrgSchema:
    return OrgSchema(await client.definitions("opportunities"))
