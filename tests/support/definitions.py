"""The demo org's opportunity definitions, frozen in ``demo_definitions.json`` (the API's JSON as
the emulator answers ``GET /v1/opportunities/definitions``), so that tests of the pure core
(``core/org``, ``core/value_types``, ``core/diff``, ``core/json_schema``) are plain synchronous
tables with no emulator. ``tests/emulator/test_demo_definitions.py`` keeps the file equal to the
emulator's seed; after an intended change to the seed, regenerate it with
``python3 -m uv run python -m tests.support.definitions``."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

from reconciler.core.org import OrgSchema
from reconciler.core.records import Definitions
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from tests.support.emulator import client_for

FROZEN = Path(__file__).with_name("demo_definitions.json")


@cache
def demo_schema() -> OrgSchema:
    """The frozen demo definitions, read once (``OrgSchema`` is immutable)."""
    return OrgSchema(Definitions.model_validate_json(FROZEN.read_bytes()))


async def served_definitions() -> Any:
    """What a fresh demo emulator answers for the opportunity definitions, as JSON."""
    emu = Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))
    async with client_for(emu) as api:
        response = await api.get("/v1/opportunities/definitions")
        response.raise_for_status()
        return response.json()


def render(definitions: Any) -> str:
    return json.dumps(definitions, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    FROZEN.write_text(render(asyncio.run(served_definitions())), encoding="utf-8")
