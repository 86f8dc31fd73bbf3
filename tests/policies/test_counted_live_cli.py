"""Every changed record is counted by its live read, through the CLI against a served emulator:
a stage-only move to a lost stage shows the deal's live amount leaving the open pipeline (text,
markdown with its chart, JSON), `amount-change`'s `max_total_change` refuses such a plan made
or saved, a saved plan whose `planned_from` (or `selected_by`) leaves a key out is judged by
the fresh read at apply, and a deal with no amount is listed as not counted, with the reason."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.diff import rebuilt
from reconciler.core.impact import NO_AMOUNT
from reconciler.core.plan import DiffOptions, RecordChange, plan_from_dict, plan_to_dict
from reconciler.emulator import Emulator
from reconciler.render.review import SAVED
from tests.policies.conftest import WriteSettings, impact_lines, writes
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, WriteManifest, opportunity

# Acme renewal is live in Proposal at $120,000, Jane's (the demo org).
LOST = "fields:\n  $stage: Closed Lost"
TOTAL_LIMIT = """
version: 1
policies:
  - {rule: amount-change, severity: error, max_total_change: 50000}
"""
TOTAL_REFUSED = (
    "  error amount-change  lfr.yaml:3  the plan changes amounts by -$120,000 (open pipeline "
    "$120,000 → $0): more than $50,000"
)


def test_a_stage_only_move_to_lost_counts_the_live_amount_in_text_markdown_and_json(
    write: WriteManifest, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, LOST))
    assert impact_lines(lfr(["plan", "--no-color"], server)) == [
        "  open pipeline: $120,000 → $0 (-$120,000)",
        "  Closed Lost: $0 → $120,000 (in $120,000, out $0)",
        "  Proposal: $120,000 → $0 (in $0, out $120,000)",
        "  lost: 1 deal ($120,000): acme",
        "  owner mem_cmc1u2x5v2x4ljb: $120,000 → $0 (-$120,000)",
    ]
    md = lfr(["plan", "-f", "markdown"], server)
    assert "**Open pipeline: \\$120,000 → \\$0 (-\\$120,000)**" in md.stdout
    assert "**Lost:** 1 (\\$120,000): acme" in md.stdout
    assert '  s0["Proposal"] -->|"$120,000"| s1["Closed Lost"]\n```' in md.stdout
    assert "Not counted" not in md.stdout
    data = json.loads(lfr(["plan", "-f", "json"], server).stdout)["impact"]
    assert (data["open_before"], data["open_after"], data["counted"]) == (120000.0, 0.0, 1)
    assert [(d["name"], d["amount"]) for d in data["lost"]] == [("acme", 120000.0)]
    assert [(f["from"], f["to"], f["amount"]) for f in data["flows"]] == [
        (data["lost"][0]["from"], data["lost"][0]["to"], 120000.0)
    ]
    assert (data["uncounted"], data["uncounted_reasons"]) == ([], [])
    assert [(o["managed"], o["change"]) for o in data["owners"]] == [(True, -120000.0)]


def test_a_deal_with_no_amount_is_not_counted_and_says_why(
    write: WriteManifest, server: str
) -> None:
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$amount": None}})
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, LOST))
    text = lfr(["plan", "--no-color"], server)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert f"  not counted ({NO_AMOUNT}): acme" in lines
    assert "  lost: 1 deal (amount not in the manifest): acme" in lines
    md = lfr(["plan", "-f", "markdown"], server).stdout
    assert f"Not counted ({NO_AMOUNT}): acme" in md and "mermaid" not in md
    data = json.loads(lfr(["plan", "-f", "json"], server).stdout)["impact"]
    assert (data["counted"], data["uncounted"], data["uncounted_reasons"]) == (
        0,
        ["acme"],
        [NO_AMOUNT],
    )


def test_max_total_change_refuses_a_stage_only_move_in_plan_and_apply(
    write: WriteManifest, settings: WriteSettings, server: str, emu: Emulator
) -> None:
    settings(TOTAL_LIMIT)
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, LOST))
    planned = lfr(["plan", "--no-color"], server)
    assert planned.exit_code == 1, planned.output
    assert TOTAL_REFUSED in planned.stdout.splitlines()
    applied = lfr(["apply", "--auto-approve", "--no-color"], server)
    assert applied.exit_code == 1, applied.output
    assert TOTAL_REFUSED in applied.stdout.splitlines()
    assert "nothing was sent" in applied.stderr
    assert writes(emu) == []


def _saved(server: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The manifests planned and saved (the total allowed, so nothing blocks the file)."""
    saved = tmp_path / "plan.json"
    made = lfr(["plan", "--allow", "amount-change", "--out", str(saved)], server)
    assert made.exit_code == 0, made.output
    return saved, json.loads(saved.read_text(encoding="utf-8"))


def _forged(data: dict[str, Any], change: Any) -> dict[str, Any]:
    """``data`` with its record changed by ``change``, its keys and fingerprint made again as
    lfr makes them: a forgery every check of the file's own consistency passes."""
    plan = plan_from_dict(data)
    (record,) = plan.records
    forged = rebuilt(change(record), DiffOptions(plan.revision, plan.target))
    return {**data, **plan_to_dict(replace(plan, records=(forged,)))}


def _without_amount(record: RecordChange) -> RecordChange:
    planned = {k: v for k, v in record.planned_from.items() if k != "$amount"}
    return replace(record, planned_from=planned)


def _amount_selected_only(record: RecordChange) -> RecordChange:
    return replace(record, selected_by={"$amount": "a-set"})


@pytest.mark.parametrize(
    "forgery",
    [None, _without_amount, _amount_selected_only],
    ids=["as saved", "amount removed from planned_from", "amount moved to selected_by"],
)
def test_a_saved_plan_is_judged_by_the_fresh_read_whatever_it_leaves_out(
    write: WriteManifest,
    settings: WriteSettings,
    server: str,
    emu: Emulator,
    tmp_path: Path,
    forgery: Any,
) -> None:
    """The manifest manages the unchanged amount; a forger takes it out of what the file
    says the record was planned from, so the impact it implies has no amount to count."""
    settings(TOTAL_LIMIT)
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, f"{LOST}\n  $amount: 120000"))
    saved, data = _saved(server, tmp_path)
    assert data["records"][0]["planned_from"]["$amount"] == 120000
    if forgery is not None:
        data = _forged(data, forgery)
        assert "$amount" not in plan_from_dict(data).records[0].managed_from
        saved.write_text(json.dumps(data), encoding="utf-8")
    emu.reset_logs()
    refused = lfr(["apply", str(saved), "--auto-approve", "--no-color"], server)
    assert refused.exit_code == 1, refused.output
    assert TOTAL_REFUSED in refused.stdout.splitlines()
    assert writes(emu) == []
    live = api("GET", server, f"/v1/opportunities/{ACME_RENEWAL}")["fields"]["$amount"]
    assert live["value"] == 120000


def test_show_stays_offline_and_shows_the_review_saved_with_the_plan(
    write: WriteManifest, settings: WriteSettings, server: str, tmp_path: Path
) -> None:
    settings(TOTAL_LIMIT)
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, LOST))
    saved, _ = _saved(server, tmp_path)
    # The deal moves on in the CRM: show says what the review said when the plan was made.
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$amount": 1}})
    shown = lfr(["show", str(saved), "--no-color"], "http://127.0.0.1:9")  # nothing listens
    assert shown.exit_code == 0, shown.output
    assert SAVED in shown.stdout
    assert "  open pipeline: $120,000 → $0 (-$120,000)" in shown.stdout.splitlines()
    assert "error (allowed by --allow) amount-change  lfr.yaml:3" in shown.stdout
