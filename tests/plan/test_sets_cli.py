"""``kind: OpportunitySet`` through the CLI against the emulator (issue 17): a set converges,
agrees or conflicts with a record manifest, is validated at file:line, warns when it matches
nothing, is picked by ``--target``, and costs its filtered pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from tests.support.cli import api, lfr
from tests.support.demo import WriteManifest, opportunity

GLOBEX = ["opp_cm6gx0b03ek8pgt", "opp_cmjftirrzryr3rj", "opp_cmr2snmcnldykx0"]
MEI = "mem_cmpkgu1udtwuqqr"
GLOBEX_REGION = """\
apiVersion: lfr/v1
kind: OpportunitySet
metadata:
  name: globex-region
spec:
  selector:
    $account: {name: Globex}
  fields:
    region: APAC
  relationships:
    $owner: {email: mei@acme-sales.example}
"""


def _writes(emu: Emulator) -> list[dict[str, object]]:
    return [r for r in emu.requests() if r["method"] == "POST"]


def test_a_set_applied_converges(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    planned = lfr(["plan", str(manifest_dir), "--detailed-exitcode"], server)
    assert planned.exit_code == 2, planned.output
    assert "~ globex-region: 3 records  manifests/globex.yaml:1" in planned.stdout
    for record_id in GLOBEX:
        assert f"~ globex-region ({record_id})  manifests/globex.yaml:1" in planned.stdout
    # The one Globex deal mei already owns changes region only.
    assert planned.stdout.count("~ region: ") == 3
    assert planned.stdout.count("~ $owner: ") == 2
    assert "Plan: 0 to create, 3 to update, 0 unchanged." in planned.stdout

    applied = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server)
    assert applied.exit_code == 0, applied.output
    for record_id in GLOBEX:
        record = api("GET", server, f"/v1/opportunities/{record_id}")
        assert record["fields"]["region"]["value"] != "North America"
        assert record["relationships"]["$owner"]["values"] == [MEI]

    again = lfr(["plan", str(manifest_dir), "--detailed-exitcode"], server)
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
    emu.reset_logs()
    rerun = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert rerun.exit_code == 0 and rerun.stdout.rstrip().endswith("Nothing to apply.")
    assert _writes(emu) == []


def test_a_set_and_a_record_manifest_that_agree_plan_one_change(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    write("renewal.yaml", opportunity("renewal", GLOBEX[2], "fields:\n  region: APAC"))
    planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert planned.exit_code == 0, planned.output
    records = {r["id"]: r for r in json.loads(planned.stdout)["records"]}
    renewal = records[GLOBEX[2]]
    # The record manifest's record carries the set's owner, said to come from the set's line.
    assert renewal["name"] == "renewal" and "group" not in renewal
    owner = next(r for r in renewal["relationships"] if r["key"] == "$owner")
    assert owner["origin"] == {"file": "manifests/globex.yaml", "line": 11}
    region = next(f for f in renewal["fields"] if f["key"] == "region")
    assert region["origin"] == {"file": "manifests/renewal.yaml", "line": 8}
    assert {records[i]["group"] for i in GLOBEX[:2]} == {"globex-region"}
    text = lfr(["plan", str(manifest_dir)], server).stdout
    assert "~ $owner: " in text and "(from manifests/globex.yaml:11)" in text
    markdown = lfr(["plan", str(manifest_dir), "-f", "markdown"], server).stdout
    assert "**Set globex-region: 2 records** · `manifests/globex.yaml:1`" in markdown
    assert "| `$owner` (from `manifests/globex.yaml:11`) |" in markdown


def test_a_set_and_a_record_manifest_that_disagree_are_an_error_naming_both(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    write("renewal.yaml", opportunity("renewal", GLOBEX[0], "fields:\n  region: EMEA"))
    emu.reset_logs()
    planned = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server)
    assert planned.exit_code == 1
    assert (
        f"manifests/globex.yaml:9: region of opportunity {GLOBEX[0]} (Globex renewal): set "
        "globex-region and renewal (manifests/renewal.yaml:8) both manage it with different "
        "values" in planned.stderr
    )
    assert _writes(emu) == []


def test_two_sets_that_disagree_on_a_record_are_an_error(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    write(
        "training.yaml",
        GLOBEX_REGION.replace("globex-region", "training-emea")
        .replace("$account: {name: Globex}", "$name: [Globex training, Nothing like it]")
        .replace("region: APAC", "region: EMEA"),
    )
    planned = lfr(["plan", str(manifest_dir)], server)
    assert planned.exit_code == 1
    assert "manifests/training.yaml:9: region of opportunity opp_cmjftirrzryr3rj" in (
        planned.stderr
    )
    assert "globex-region (manifests/globex.yaml:9)" in planned.stderr


def test_selector_problems_are_reported_at_their_lines_offline(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("empty.yaml", GLOBEX_REGION.replace("    $account: {name: Globex}", "    {}"))
    write(
        "bad.yaml",
        GLOBEX_REGION.replace("globex-region", "bad")
        .replace("$account: {name: Globex}", "all: yes please")
        .replace("  fields:\n    region: APAC\n  relationships:\n", "  relationships:\n"),
    )
    shaped = lfr(["validate", str(manifest_dir), "--offline"], server)
    assert shaped.exit_code == 0, shaped.output  # the selector's grammar needs the org
    checked = lfr(["validate", str(manifest_dir)], server)
    assert checked.exit_code == 1
    assert "manifests/bad.yaml:7: selector 'all' can only be true" in checked.stderr
    assert (
        "manifests/empty.yaml:6: an empty selector would match every opportunity: write "
        "{all: true} to mean it" in checked.stderr
    )


def test_a_set_that_matches_nothing_is_a_warning_and_target_picks_a_set(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    write(
        "none.yaml",
        GLOBEX_REGION.replace("globex-region", "nobody")
        .replace("Globex}", "Initech}")
        .replace("$account:", "status: closed\n    $account:"),
    )
    only = lfr(["plan", str(manifest_dir), "--target", "nobody"], server)
    assert only.exit_code == 0, only.output
    assert "manifests/none.yaml:1: set nobody: the selector matches no opportunity" in only.output
    assert "globex-region" not in only.stdout


def test_a_set_costs_its_filtered_pages_and_one_read_a_record(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    emu.reset_logs()
    assert lfr(["plan", str(manifest_dir)], server).exit_code == 0
    lists = [r for r in emu.requests() if r["path"] == "/v1/opportunities"]
    reads = [r for r in emu.requests() if str(r["path"]).startswith("/v1/opportunities/opp_")]
    assert len(lists) == 1  # the Globex list, one page: never the whole list
    assert sorted(str(r["path"]).rsplit("/", 1)[1] for r in reads) == sorted(GLOBEX)


def test_applying_a_set_that_matches_nothing_sends_nothing_and_says_why(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write(
        "none.yaml",
        GLOBEX_REGION.replace("Globex}", "Initech}").replace(
            "$account:", "status: closed\n    $account:"
        ),
    )
    emu.reset_logs()
    applied = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    assert "set globex-region: the selector matches no opportunity" in applied.output
    assert applied.stdout.rstrip().endswith("Nothing to apply.")
    assert _writes(emu) == []


def test_drift_reports_a_set_managed_key_changed_by_hand_and_a_record_newly_matching(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    assert lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server).exit_code == 0
    assert lfr(["drift", str(manifest_dir)], server).exit_code == 0
    api("POST", server, f"/v1/opportunities/{GLOBEX[1]}", {"fields": {"region": "EMEA"}})
    created = api(
        "POST",
        server,
        "/v1/opportunities",
        {
            "fields": {"$name": "Globex expansion", "$stage": "Prospecting"},
            "relationships": {"$account": "acc_cmg5ahz3aeo8czy"},
        },
    )
    drift = lfr(["drift", str(manifest_dir)], server)
    assert drift.exit_code == 2, drift.output
    for record_id in (GLOBEX[1], created["id"]):
        assert f"~ globex-region ({record_id})  manifests/globex.yaml:1" in drift.stdout
    assert drift.stdout.count("(set globex-region: drifted, or newly matched by its selector)") == 2
    assert "    region: manifest APAC, live EMEA" in drift.stdout
    assert "Drift: 2 drifted, 2 in sync." in drift.stdout


def test_a_saved_plan_of_a_set_applies_as_shown(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    saved = tmp_path / "plan.json"
    assert lfr(["plan", str(manifest_dir), "--out", str(saved)], server).exit_code == 0
    shown = lfr(["show", str(saved)], server)
    assert "~ globex-region: 3 records" in shown.stdout, shown.output
    emu.reset_logs()
    applied = lfr(["apply", str(saved), "--auto-approve", "--force"], server)
    assert applied.exit_code == 0, applied.output
    assert sorted(str(w["path"]).rsplit("/", 1)[1] for w in _writes(emu)) == sorted(GLOBEX)


SELECTOR_PROBLEMS = [
    ("status: open\n    all: true", 8, "selector 'all: true' matches everything: give it alone"),
    ("status: won", 7, "selector 'status' is open or closed, not 'won'"),
    ("region: []", 7, "selector 'region': an empty list matches nothing"),
    ("regoin: EMEA", 7, "unknown field 'regoin' (did you mean 'region'?)"),
    ("region: [EMEA, Mars]", 7, "region: 'Mars' is not an option"),
    ("$owner: {name: Mei}", 7, "relationship '$owner' links members: use {email: ...}"),
    ("$owner: [7]", 7, "selector '$owner': expected an id or a reference like {name: ...}"),
]


@pytest.mark.parametrize(("selector", "line", "message"), SELECTOR_PROBLEMS)
def test_each_selector_problem_is_reported_at_its_line(
    server: str, write: WriteManifest, manifest_dir: Path, selector: str, line: int, message: str
) -> None:
    write("s.yaml", GLOBEX_REGION.replace("$account: {name: Globex}", selector))
    checked = lfr(["validate", str(manifest_dir)], server)
    assert checked.exit_code == 1
    assert f"manifests/s.yaml:{line}: {message}" in checked.stderr, checked.stderr


OWNER = "  relationships:\n    $owner: {email: mei@acme-sales.example}\n"


@pytest.mark.parametrize(
    ("selector", "matched"),
    [
        ("$name: [Globex renewal, globex  TRAINING]", 2),  # any of; text folded as match does
        ("$account: {name: Globex}\n    status: closed", 3),
        ("$owner: [{email: mei@acme-sales.example}, {email: jane@acme-sales.example}]", 7),
        ("$stage: [Sales / Prospecting]\n    status: open", 3),
    ],
)
def test_the_selector_grammar_matches_what_it_says(
    server: str, write: WriteManifest, manifest_dir: Path, selector: str, matched: int
) -> None:
    text = GLOBEX_REGION.replace("$account: {name: Globex}", selector).replace(OWNER, "")
    write("s.yaml", text)
    planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert planned.exit_code == 0, planned.output
    assert len(json.loads(planned.stdout)["records"]) == matched


def test_a_set_and_a_record_manifest_may_not_share_a_name(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    write("renewal.yaml", opportunity("globex-region", GLOBEX[0], "fields:\n  region: APAC"))
    checked = lfr(["validate", str(manifest_dir), "--offline"], server)
    assert checked.exit_code == 1
    assert (
        "manifests/globex.yaml:4: metadata.name 'globex-region' is used twice: here and at "
        "manifests/renewal.yaml:4" in checked.stderr
    )


def test_a_match_manifest_s_record_takes_the_set_s_keys_or_conflicts(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("globex.yaml", GLOBEX_REGION)
    matched = (
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: training\n"
        "  match: {$name: Globex training}\n  onMissing: error\nspec:\n  fields:\n"
        "    priority: 3\n"
    )
    write("training.yaml", matched)
    planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert planned.exit_code == 0, planned.output
    training = next(r for r in json.loads(planned.stdout)["records"] if r["name"] == "training")
    assert {f["key"] for f in training["fields"]} == {"priority", "region"}
    assert {r["key"] for r in training["relationships"]} == {"$owner"}
    body = training["requests"][0]["body"]
    assert set(body["fields"]) == {"priority", "region"} and "$owner" in body["relationships"]
    write("training.yaml", matched.replace("priority: 3", "region: EMEA"))
    refused = lfr(["plan", str(manifest_dir)], server)
    assert refused.exit_code == 1
    assert (
        "manifests/globex.yaml:9: region of opportunity opp_cmjftirrzryr3rj (Globex training): "
        "set globex-region and training (manifests/training.yaml:9)" in refused.stderr
    )
    # Found once every change is known: apply with --force (which streams the writes of
    # id-addressed records as they are read) sends nothing when sets are in play.
    write("acme.yaml", opportunity("acme", "opp_cmr3idcbxmiev5v", "fields:\n  priority: 4"))
    emu.reset_logs()
    applied = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server)
    assert applied.exit_code == 1
    assert _writes(emu) == []


def test_the_mass_change_rail_counts_a_set_s_records(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    every = GLOBEX_REGION.replace("$account: {name: Globex}", "all: true").replace(OWNER, "")
    write("every.yaml", every.replace("region: APAC", "competitor: Everyone"))
    emu.reset_logs()
    refused = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert "this plan changes 17 of 17 managed records" in refused.output
    assert _writes(emu) == []
