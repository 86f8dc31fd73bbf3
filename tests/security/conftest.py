"""Fixtures of the security tests: a demo emulator served over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server


@pytest.fixture
def emu() -> Emulator:
    return Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
def server(emu: Emulator) -> Iterator[str]:
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        yield base_url
