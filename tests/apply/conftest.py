"""Fixtures of the apply tests: a demo emulator (in-process or over loopback HTTP), a client on
it, manifest writing helpers, and the log queries that prove what was written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.emulator import Emulator
from tests.support.demo import FULL_KEY


class InstantSleep:
    """The client's clock for tests: real time, but backoff sleeps return at once (recorded)."""

    def __init__(self) -> None:
        import time

        self._monotonic = time.monotonic
        self._time = time.time
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._monotonic()

    def time(self) -> float:
        return self._time()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[LightfieldClient]:
    transport = httpx.ASGITransport(app=emu.app)
    async with LightfieldClient(
        FULL_KEY,
        base_url="http://emulator",
        transport=transport,
        rates=None,
        retry=RetryPolicy(),
        clock=InstantSleep(),
    ) as c:
        yield c


def writes(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["method"] == "POST"]


def changes_applied(emu: Emulator) -> list[tuple[str, str, str]]:
    """(record, key, new value) for every change in the mutation log, to find duplicates."""
    applied = []
    for m in emu.mutations():
        for key, change in m["changes"].get("fields", {}).items():
            applied.append((m["record_id"], key, repr(change["after"])))
        for key, change in m["changes"].get("relationships", {}).items():
            for added in change.get("added", []):
                applied.append((m["record_id"], key, f"+{added}"))
            for removed in change.get("removed", []):
                applied.append((m["record_id"], key, f"-{removed}"))
    return applied
