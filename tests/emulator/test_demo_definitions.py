"""The frozen demo definitions (tests/support/demo_definitions.json) are the emulator's: a change
to the demo seed's fields fails here, not as a puzzling difference in a pure-core table."""

from __future__ import annotations

import pytest

from reconciler.core.org import OrgSchema
from reconciler.core.records import Definitions
from tests.support.definitions import FROZEN, demo_schema, render, served_definitions


@pytest.mark.anyio
async def test_the_frozen_definitions_are_what_the_demo_emulator_serves() -> None:
    served = await served_definitions()
    assert FROZEN.read_text(encoding="utf-8") == render(served), (
        "regenerate: python3 -m uv run python -m tests.support.definitions"
    )
    assert demo_schema() == OrgSchema(Definitions.model_validate(served))
