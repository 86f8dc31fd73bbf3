"""Speaking to an emulator in-process, for tests/emulator and tests/emulator_infra: the auth
and version headers, and an httpx client on the app through ``httpx.ASGITransport``."""

from __future__ import annotations

import httpx

from reconciler.emulator import Emulator
from tests.support.demo import FULL_KEY

VERSION = "2026-03-01"


def headers(key: str = FULL_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Lightfield-Version": VERSION}


def client_for(emu: Emulator, key: str = FULL_KEY) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator", headers=headers(key)
    )
