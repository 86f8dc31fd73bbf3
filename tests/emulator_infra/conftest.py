"""Fixtures of the emulator-infra tests: rate limits, idempotency and faults, unit and end to end.

End-to-end tests speak to the real emulator app in-process (``httpx.ASGITransport``, SQLite in
memory) on a ManualClock, so time only moves when a test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.seed import DEMO_ORG, demo_id
from tests.support.emulator import client_for
from tests.support.emulator import headers as api_headers

__all__ = ["api_headers", "client_for"]

ACME = demo_id(DEMO_ORG, "acc", "acme")
OPP = demo_id(DEMO_ORG, "opp", "acme-expansion")


def new_opportunity(name: str = "Infra deal") -> dict[str, Any]:
    return {"fields": {"$name": name}, "relationships": {"$account": ACME}}


class MakeEmulator(Protocol):
    def __call__(self, **kwargs: Any) -> Emulator: ...


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_emulator(clock: ManualClock) -> Iterator[MakeEmulator]:
    """Demo emulators on the test's clock; rate limiting is off unless ``rate_limits`` is given."""
    made: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        kwargs.setdefault("rate_limits", RateLimitConfig(enabled=False))
        emu = Emulator(db=":memory:", seed="demo", clock=clock, **kwargs)
        made.append(emu)
        return emu

    yield make
    for emu in made:
        emu.close()
