"""A saved plan of an ``OpportunitySet`` re-checks its selection before apply: the live values of
the selector keys a set matched a record by are planned from (``selected_by`` names them), so
``lfr apply PLAN.json`` refuses a record that left the selection between ``plan --out`` and the
apply (its owner moved, the deal closed) and names the key and the set; nothing is written.
Those keys are out of the idempotency keys and the pipeline impact. Through the CLI against the
emulator, but for the forged plans (``core.saved_plan``'s rules) and the key recipe."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.diff import diff_record, rebuilt
from reconciler.core.model import DesiredField, DesiredRecord
from reconciler.core.org import OrgSchema
from reconciler.core.plan import DiffOptions, plan_from_dict, plan_to_dict
from reconciler.core.records import Definitions, Record
from reconciler.core.vocabulary import Origin
from reconciler.emulator import Emulator
from tests.support.cli import api, lfr
from tests.support.demo import WriteManifest

LUCAS = "mem_cmvwysoyh2nuc8j"
OMAR = "mem_cmoeodzf0wbayu1"
MEI = "mem_cmpkgu1udtwuqqr"
OPEN, WON = "opt_01cwx3gsq49scb4qzwqqqp3z9", "opt_01p21zy8dn3apdwpqacerpy1w"
CLOSED_WON = "opt_01hfctgke96vmk1rgwh36v8a3"
# Lucas's open deals in the demo org (his third, Globex training, is lost).
ACME_SERVICES = "opp_cmwjenmp4fp2zc5"  # Proposal, $30,000
UMBRELLA_REVIEW = "opp_cm35vpqiiuqr3jj"  # Discovery, $27,500.25
LUCAS_OPEN = sorted([ACME_SERVICES, UMBRELLA_REVIEW])


def handover(selector: str = "$owner: {email: lucas@acme-sales.example}\n    status: open") -> str:
    """A set that marks Lucas's open deals, managing neither of its selector keys."""
    return f"""\
apiVersion: lfr/v1
kind: OpportunitySet
metadata:
  name: lucas-handover
spec:
  selector:
    {selector}
  fields:
    competitor: Handover
"""


LUCAS_LEAVES = """\
apiVersion: lfr/v1
kind: OpportunitySet
metadata:
  name: lucas-leaves
spec:
  selector:
    $owner: {email: lucas@acme-sales.example}
    status: open
  relationships:
    $owner: {email: mei@acme-sales.example}
"""


def save(manifest_dir: Path, server: str, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    saved = tmp_path / "plan.json"
    made = lfr(["plan", str(manifest_dir), "--out", str(saved)], server)
    assert made.exit_code == 0, made.output
    return saved, json.loads(saved.read_text())["records"]


def writes(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["method"] == "POST"]


def competitor(server: str, record_id: str) -> object:
    return api("GET", server, f"/v1/opportunities/{record_id}")["fields"]["competitor"]["value"]


def test_a_saved_set_plan_records_the_selector_keys_it_selected_by_but_shows_nothing_more(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("handover.yaml", handover())
    saved, records = save(manifest_dir, server, tmp_path)
    assert sorted(r["id"] for r in records) == LUCAS_OPEN
    for record in records:
        assert record["planned_from"] == {
            "competitor": None,
            "$owner": [LUCAS],
            "$opportunityStatus": OPEN,
        }
        assert record["selected_by"] == {
            "$owner": "lucas-handover",
            "$opportunityStatus": "lucas-handover",
        }
    # The text shows the changes, not what they were planned from.
    shown = lfr(["show", str(saved)], server)
    assert shown.exit_code == 0, shown.output
    assert "$opportunityStatus" not in shown.stdout and "$owner" not in shown.stdout
    markdown = lfr(["show", str(saved), "-f", "markdown"], server)
    assert "$opportunityStatus" not in markdown.stdout and "owner" not in markdown.stdout


def _move_owner(server: str, record_id: str) -> None:
    api(
        "POST",
        server,
        f"/v1/opportunities/{record_id}",
        {"relationships": {"$owner": {"replace": OMAR}}},
    )


def _close(server: str, record_id: str) -> None:
    api("POST", server, f"/v1/opportunities/{record_id}", {"fields": {"$stage": CLOSED_WON}})


@pytest.mark.parametrize(
    ("move", "line"),
    [
        (
            _move_owner,
            f"{UMBRELLA_REVIEW}) $owner: planned from ['{LUCAS}'], now ['{OMAR}'] "
            "(set lucas-handover's selector: the record may no longer match)",
        ),
        (
            _close,
            f"{UMBRELLA_REVIEW}) $opportunityStatus: planned from '{OPEN}', now '{WON}' "
            "(set lucas-handover's selector: the record may no longer match)",
        ),
    ],
    ids=["owner-moved", "deal-closed"],
)
def test_a_saved_set_plan_whose_record_left_the_selector_is_refused_and_nothing_is_written(
    move: Any,
    line: str,
    server: str,
    emu: Emulator,
    write: WriteManifest,
    manifest_dir: Path,
    tmp_path: Path,
) -> None:
    write("handover.yaml", handover())
    saved, _ = save(manifest_dir, server, tmp_path)
    move(server, UMBRELLA_REVIEW)  # between plan --out and apply
    emu.reset_logs()
    refused = lfr(["apply", str(saved), "--auto-approve", "--force"], server)
    assert refused.exit_code == 1, refused.output
    assert f"the saved plan {saved} is stale" in refused.stderr
    assert f"  lucas-handover ({line}\n" in refused.stderr
    assert ACME_SERVICES not in refused.stderr  # the record that still matches is not named
    assert writes(emu) == []
    assert competitor(server, UMBRELLA_REVIEW) != "Handover"
    assert competitor(server, ACME_SERVICES) != "Handover"


def test_a_saved_set_plan_still_matching_applies_though_an_unselected_key_moved(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("handover.yaml", handover())
    saved, _ = save(manifest_dir, server, tmp_path)
    # Neither managed nor selected by: not what the plan was made from.
    api("POST", server, f"/v1/opportunities/{ACME_SERVICES}", {"fields": {"$amount": 31000}})
    emu.reset_logs()
    applied = lfr(["apply", str(saved), "--auto-approve", "--force"], server)
    assert applied.exit_code == 0, applied.output
    assert sorted(str(w["path"]).rsplit("/", 1)[1] for w in writes(emu)) == LUCAS_OPEN
    assert [competitor(server, i) for i in LUCAS_OPEN] == ["Handover", "Handover"]


def test_a_selector_key_the_set_also_manages_is_planned_from_once_and_refused_when_moved(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("leaves.yaml", LUCAS_LEAVES)
    saved, records = save(manifest_dir, server, tmp_path)
    assert sorted(r["id"] for r in records) == LUCAS_OPEN
    for record in records:
        assert record["planned_from"] == {"$owner": [LUCAS], "$opportunityStatus": OPEN}
        # $owner is managed (the set changes it): only the status is a selector-only key.
        assert record["selected_by"] == {"$opportunityStatus": "lucas-leaves"}
        assert record["relationships"][0]["before"] == [LUCAS]
    _move_owner(server, ACME_SERVICES)
    emu.reset_logs()
    refused = lfr(["apply", str(saved), "--auto-approve", "--force"], server)
    assert refused.exit_code == 1, refused.output
    assert (
        f"  lucas-leaves ({ACME_SERVICES}) $owner: planned from ['{LUCAS}'], now ['{OMAR}']\n"
        in refused.stderr
    )
    assert writes(emu) == []
    # Planned again, the deal Omar now owns is no longer Lucas's: only the other one moves.
    saved, records = save(manifest_dir, server, tmp_path)
    assert [r["id"] for r in records] == [UMBRELLA_REVIEW]
    applied = lfr(["apply", str(saved), "--auto-approve", "--force"], server)
    assert applied.exit_code == 0, applied.output
    owner = api("GET", server, f"/v1/opportunities/{UMBRELLA_REVIEW}")["relationships"]["$owner"]
    assert owner["values"] == [MEI]


def test_the_impact_of_a_set_does_not_depend_on_how_its_selector_spells_the_selection(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    """Lucas's open deals by status, or by their two stages: the same records, the same amounts.
    Counting the stage a selector happened to name would count one spelling's deals and not
    the other's."""
    amounts = "  fields:\n    $amount: 50000\n"
    impacts = []
    for selector in ("status: open", "$stage: [Proposal, Discovery]"):
        text = handover(f"$owner: {{email: lucas@acme-sales.example}}\n    {selector}")
        write("handover.yaml", text.replace("  fields:\n    competitor: Handover\n", amounts))
        planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
        assert planned.exit_code == 0, planned.output
        data = json.loads(planned.stdout)
        assert sorted(r["id"] for r in data["records"]) == LUCAS_OPEN
        impacts.append(data["impact"])
        grouped = lfr(["plan", str(manifest_dir), "--group-by", "stage", "--no-color"], server)
        assert "(not in the manifest)" in grouped.stdout, grouped.stdout
    assert impacts[0] == impacts[1]
    # The stage is not managed: each deal's is read live, so both are counted.
    assert impacts[0]["counted"] == 2
    assert impacts[0]["uncounted"] == []


def _definitions(server: str) -> OrgSchema:
    return OrgSchema(
        Definitions.model_validate(api("GET", server, "/v1/opportunities/definitions"))
    )


def test_selector_keys_leave_the_idempotency_keys_and_the_fingerprint_as_they_were(
    server: str,
) -> None:
    """A write's key is made of what it sends and the managed values it was computed from: a
    set's selection (or a set that also selects a record manifest's record) does not change it,
    so a re-plan after a crash replays the writes not yet landed."""
    schema = _definitions(server)
    live = Record.model_validate(api("GET", server, f"/v1/opportunities/{ACME_SERVICES}"))
    origin = Origin("manifests/handover.yaml", 1)
    desired = DesiredRecord(
        "lucas-handover", origin, ACME_SERVICES, (), (), "error",
        (DesiredField("competitor", "Handover", origin),), (),
    )  # fmt: skip
    selected = replace(
        desired,
        selected_by=(("$owner", "lucas-handover"), ("$opportunityStatus", "lucas-handover")),
    )
    options = DiffOptions("sha256:0", "https://api.lightfield.app")
    plain, by_set = (
        diff_record(desired, live, schema, options),
        diff_record(selected, live, schema, options),
    )
    assert by_set.planned_from == {
        **plain.planned_from,
        "$owner": (LUCAS,),
        "$opportunityStatus": OPEN,
    }
    assert [r.idempotency_key for r in by_set.requests] == [
        r.idempotency_key for r in plain.requests
    ]
    assert by_set.fingerprint == plain.fingerprint
    assert rebuilt(by_set, options) == by_set  # a saved plan of it checks


def _forge(plan: dict[str, Any], edit: Any, *, rebuild: bool = True) -> dict[str, Any]:
    """``plan`` with its first record edited and, as anyone can, made self-consistent with
    lfr's own rebuild (bodies, keys, fingerprint)."""
    parsed = plan_from_dict(plan)
    first = edit(parsed.records[0])
    options = DiffOptions(parsed.revision, parsed.target)
    records = (rebuilt(first, options) if rebuild else first, *parsed.records[1:])
    return plan_to_dict(replace(parsed, records=records))


def test_a_forged_selected_by_is_refused_by_path_and_nothing_is_sent(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("handover.yaml", handover())
    saved, _ = save(manifest_dir, server, tmp_path)
    plan = json.loads(saved.read_text())

    def selected(extra: dict[str, str], **planned: Any) -> Any:
        return lambda r: replace(
            r, selected_by={**r.selected_by, **extra}, planned_from={**r.planned_from, **planned}
        )

    cases = [
        (
            "a key the record changes",
            _forge(plan, selected({"competitor": "lucas-handover"})),
            "records[0].selected_by.competitor: competitor is changed by this record, not "
            "only selected by",
        ),
        (
            "a key not planned from",
            _forge(plan, selected({"$stage": "lucas-handover"})),
            'records[0].selected_by["$stage"]: $stage is not in planned_from',
        ),
        (
            "not a set's name",
            _forge(plan, selected({"$owner": "Lucas Handover!"})),
            'records[0].selected_by["$owner"]: not the names of sets',
        ),
        (
            "a key of no org",
            _forge(plan, selected({"$ghost": "lucas-handover"}, **{"$ghost": "x"})),
            'records[0].selected_by["$ghost"]: $ghost is not a field or relationship of this org',
        ),
        (
            "a relationship planned from as text",
            _forge(plan, selected({}, **{"$owner": "mem_x"})),
            'records[0].planned_from["$owner"]: a relationship\'s value is a list of ids',
        ),
        (
            # Moved out of the selector keys without new keys: the keys no longer match.
            "a selector key dropped, keys kept",
            _forge(plan, lambda r: replace(r, selected_by={}), rebuild=False),
            "records[0].requests[0].idempotency_key: differs from what record",
        ),
    ]
    emu.reset_logs()
    for case, forged, expected in cases:
        saved.write_text(json.dumps(forged))
        result = lfr(["apply", str(saved), "--auto-approve", "--force"], server)
        assert result.exit_code == 1, (case, result.output)
        assert f"{saved}: {expected}" in result.stderr, (case, result.stderr)
    assert writes(emu) == [] and emu.mutations() == []
