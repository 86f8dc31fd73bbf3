"""The live records a plan hands the guardrails (``Outcome.live``): those of the records it
changes, by id, and no others (a plan of 10,000 unchanged records keeps none of them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.runs.plan import run_plan
from tests.support.demo import ACME_RENEWAL, INITECH, WriteManifest, opportunity


@pytest.mark.anyio
async def test_only_the_changed_records_live_state_is_kept(
    client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 75000"))  # as is
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is not None
    assert [r.action for r in outcome.plan.records] == ["update", "noop"]
    assert list(outcome.live) == [ACME_RENEWAL]
    assert outcome.live[ACME_RENEWAL].value("$amount") == 120000
