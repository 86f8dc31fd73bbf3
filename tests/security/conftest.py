"""The security tests' shared fixture: a saved plan as hostile as a fork could hand it over."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.core.diff import rebuilt
from reconciler.core.plan import DiffOptions, FieldChange, plan_from_dict, plan_to_dict
from reconciler.core.vocabulary import Origin
from tests.security.hostile import HOSTILE, HOSTILE_FILE, HOSTILE_TEXT
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, WriteManifest, opportunity


@pytest.fixture
def hostile_saved_plan(server: str, write: WriteManifest, manifest_dir: Path) -> Path:
    """A saved plan as a fork could hand it over (a PR artifact), as hostile as reading it lets
    through: a hostile CRM value (shown as the before), a hostile file name, and a close date
    the API rejects, quoting it. The file is made self-consistent with lfr's own rebuild (so its
    bodies and keys are those of what it shows), as anyone can; a hostile record name or a body
    member the plan does not show is refused on reading (test_saved_plan_hostile.py)."""
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$nextSteps": HOSTILE}})
    # $closeDate managed as it is (2027-03-31): the plan holds its live value to plan from.
    spec = "fields:\n  $nextSteps: Legal review\n  $closeDate: 2027-03-31"
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, spec))
    saved = manifest_dir.parent / "plan.json"
    assert lfr(["plan", str(manifest_dir), "--out", str(saved)], server).exit_code == 0
    plan = plan_from_dict(json.loads(saved.read_text(encoding="utf-8")))
    (record,) = plan.records
    origin = Origin(HOSTILE_FILE, 7)
    date = FieldChange("$closeDate", None, HOSTILE_TEXT, origin)
    shown = replace(record, origin=origin, fields=(*record.fields, date))
    forged = rebuilt(shown, DiffOptions(plan.revision, plan.target))
    saved.write_text(json.dumps(plan_to_dict(replace(plan, records=(forged,)))), encoding="utf-8")
    return saved
