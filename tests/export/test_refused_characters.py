"""Export never writes what the loader refuses: a CRM value holding a character no manifest may
hold (U+2028, U+202E, a control character, ...) leaves that key out of the manifest, with a
note naming the record, the key and the character; the rest of the record is exported, and
`lfr plan` right after reads every file and is empty. A related record whose name holds one is
referenced by its id."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.loader import load_tree
from tests.export.conftest import Export, Plan
from tests.support.demo import ACME_RENEWAL

pytestmark = pytest.mark.anyio

# One of each kind the loader refuses (manifests._REFUSED_CHARACTERS), inside ordinary text.
HOSTILE = {
    "\u2028": "U+2028",
    "\u2029": "U+2029",
    "\u202e": "U+202E",
    "\u200f": "U+200F",
    "\x1b": "U+001B",
    "\x00": "U+0000",
    "\x85": "U+0085",
    "\u200b": "U+200B",
    "\ufeff": "U+FEFF",
    "\U000e0041": "U+E0041",
}


@pytest.mark.parametrize("char", list(HOSTILE))
async def test_a_value_the_loader_refuses_is_left_out_with_a_note(
    client: LightfieldClient, export: Export, plan: Plan, manifest_dir: Path, char: str
) -> None:
    fields = {
        "$nextSteps": f"call{char}back",
        "competitor": "Globex",
        "signatory": {"firstName": "Ada", "lastName": f"Love{char}lace"},
    }
    await client.update("opportunities", ACME_RENEWAL, {"fields": fields}, idempotency_key=None)
    account = await client.create(
        "accounts", {"fields": {"$name": f"Evil{char}Corp"}}, idempotency_key=None
    )
    await client.update(
        "opportunities",
        ACME_RENEWAL,
        {"relationships": {"partners": {"add": [account.id]}}},
        idempotency_key=None,
    )
    result = await export([ACME_RENEWAL])
    loaded = load_tree(manifest_dir)
    assert loaded.problems == []
    (document,) = loaded.documents
    written = document.data["spec"]
    assert written["fields"]["competitor"] == "Globex"
    assert "$nextSteps" not in written["fields"] and "signatory" not in written["fields"]
    assert account.id in written["relationships"]["partners"]  # by id, not by its name
    notes = [n for n in result.notes if HOSTILE[char] in n]
    assert len(notes) == 2 and all(ACME_RENEWAL in n for n in notes), result.notes
    assert any("$nextSteps" in n for n in notes) and any("signatory" in n for n in notes)
    outcome = await plan()
    assert outcome.problems == [] and outcome.plan is not None
    assert {r.action for r in outcome.plan.records} == {"noop"}
