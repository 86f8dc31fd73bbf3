"""A plan lets go of the manifests' documents once desired state is built.

A document (every value and the line of every path of one file) costs ~5 KB; a plan of
100,000 manifests held half a gigabyte of them while it fetched live state, which needs only
the desired records. Checked while the live records are being read.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.core.model import LoadedManifest
from reconciler.core.vocabulary import Document
from reconciler.runs.plan import run_plan
from tests.support.demo import ACME_RENEWAL, INITECH, WriteManifest, opportunity


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


@pytest.mark.anyio
async def test_no_manifest_document_is_held_while_live_state_is_read(
    client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 135000"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 75000"))
    before = (_alive(Document), _alive(LoadedManifest))
    during: list[tuple[int, int]] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "fetching":
            during.append((_alive(Document), _alive(LoadedManifest)))

    outcome = await run_plan(client, manifest_dir, target="test", progress=progress)
    assert outcome.plan is not None and outcome.plan.summary() == (
        "Plan: 0 to create, 1 to update, 1 unchanged."
    )
    assert during, "the fetch reported no progress"
    assert set(during) == {before}  # none of this plan's two documents or manifests
