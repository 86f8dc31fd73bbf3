"""Speaking to an emulator in-process, for tests/emulator and tests/emulator_infra: the auth
and version headers, and an httpx client on the app through ``httpx.ASGITransport``; and the
demo emulator of the end-to-end suites, under the contract profile they run against."""

from __future__ import annotations

import os
from typing import Any

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


# The contract profile the end-to-end suites run against (reconciler/emulator/profiles.py):
# `.ci/run` runs tests/plan, tests/apply and tests/reliability once more with
# LFR_EMULATOR_PROFILE=strict-0.20. Tests of one profile's behaviour name it themselves.
PROFILE = os.environ.get("LFR_EMULATOR_PROFILE", "default")


def demo_emulator(**options: Any) -> Emulator:
    """The demo org in memory, served under ``PROFILE`` unless ``options`` names one."""
    options.setdefault("profile", PROFILE)
    return Emulator(db=":memory:", seed="demo", **options)
