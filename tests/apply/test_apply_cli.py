"""`lfr apply` through CliRunner against a real uvicorn emulator: prompts, rails, saved plans,
scopes, output formats."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.emulator import Emulator
from reconciler.emulator.server import running_server
from tests.support.cli import api, lfr
from tests.support.demo import (
    ACME_RENEWAL,
    ALEX,
    FULL_KEY,
    INITECH,
    INITECH_ACCOUNT,
    JANE,
    NINA,
    PRIYA,
    READ_KEY,
    SAM,
    WriteManifest,
    opportunity,
)

from .conftest import writes


def save_plan(manifest_dir: Path, server: str, tmp_path: Path, *options: str) -> Path:
    """``lfr plan --out``: the saved plan of ``manifest_dir``, as a reviewer would be handed it."""
    saved = tmp_path / "plan.json"
    made = lfr(["plan", str(manifest_dir), *options, "--out", str(saved)], server)
    assert made.exit_code == 0, made.output
    return saved


def test_confirmation_yes_applies_anything_else_cancels(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    cancelled = lfr(["apply", str(manifest_dir)], server, stdin="y\n")
    assert cancelled.exit_code == 1
    assert "Apply cancelled; nothing was sent." in cancelled.stderr
    assert writes(emu) == []
    applied = lfr(["apply", str(manifest_dir)], server, stdin="yes\n")
    assert applied.exit_code == 0, applied.output
    assert "✓ a (opp_cmr3idcbxmiev5v)  applied (1 request)" in applied.stdout
    assert applied.stdout.rstrip().endswith("Apply: 1 applied.")
    assert len(writes(emu)) == 1


def test_auto_approve_and_nothing_to_do(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    assert lfr(["apply", str(manifest_dir), "--auto-approve"], server).exit_code == 0
    again = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert again.exit_code == 0
    assert again.stdout.rstrip().endswith("Nothing to apply.")
    assert len(writes(emu)) == 1


def test_ci_without_auto_approve_refuses_instead_of_waiting(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    runner = CliRunner(
        env={"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": server, "CI": "true"}
    )
    result = runner.invoke(app, ["apply", str(manifest_dir)])
    assert result.exit_code == 1
    assert "pass --auto-approve" in result.stderr
    assert writes(emu) == []


def test_empty_manifest_set_is_refused(server: str, emu: Emulator, manifest_dir: Path) -> None:
    # A directory with no manifest never becomes a plan (the empty-set rail in core.plan stays
    # as the saved plan's guard).
    result = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert result.exit_code == 1
    assert f"{manifest_dir.name}: no manifests here (no *.yaml or *.yml file)" in result.stderr
    assert writes(emu) == []


def test_mass_change_needs_force(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    ids = [r["id"] for r in api("GET", server, "/v1/opportunities?limit=10")["data"]]

    def manage(changing: int, priority: int) -> None:
        for index, record_id in enumerate(ids):
            spec = f"fields:\n  priority: {priority}" if index < changing else "fields: {}"
            write(f"m{index}.yaml", opportunity(f"m{index}", record_id, spec))

    manage(changing=4, priority=4)  # 4 of 10 managed records: 40 % > 30 %
    refused = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert "changes 4 of 10 managed records (40%, over the 30% safety threshold)" in refused.stderr
    assert writes(emu) == []
    # The threshold is configurable...
    raised = lfr(["apply", str(manifest_dir), "--auto-approve", "--max-change", "0.5"], server)
    assert raised.exit_code == 0, raised.output
    # ...and --force overrides it.
    manage(changing=4, priority=5)
    forced = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server)
    assert forced.exit_code == 0, forced.output
    assert len(writes(emu)) == 8


def test_saved_plan_applies_and_a_stale_one_is_refused(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    write("b.yaml", opportunity("b", INITECH, "fields:\n  priority: 2"))
    saved = save_plan(manifest_dir, server, tmp_path)
    # Someone edits a planned-from value in the CRM after the plan was made.
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$amount": 99}})
    emu.reset_logs()
    refused = lfr(["apply", str(saved), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert "the saved plan" in refused.stderr and "is stale" in refused.stderr
    assert f"a ({ACME_RENEWAL}) $amount: planned from 120000, now 99" in refused.stderr
    assert writes(emu) == []
    # A fresh saved plan applies exactly what it says.
    assert lfr(["plan", str(manifest_dir), "--out", str(saved)], server).exit_code == 0
    planned = json.loads(saved.read_text())
    result = lfr(["apply", str(saved), "--auto-approve", "-f", "json"], server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index('{\n  "format_version"') :])
    assert report["summary"]["applied"] == 2
    sent = {w["idempotency_key"] for w in writes(emu)}
    assert sent == {r["idempotency_key"] for rec in planned["records"] for r in rec["requests"]}


def test_a_saved_plan_for_another_target_is_refused_before_any_request(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    saved = save_plan(manifest_dir, server, tmp_path)
    planned = json.loads(saved.read_text())
    planned["target"] = "https://api.lightfield.app"
    saved.write_text(json.dumps(planned))
    emu.reset_logs()
    refused = lfr(["apply", str(saved), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert f"was planned against https://api.lightfield.app, not {server}" in refused.stderr
    assert emu.requests() == []


def test_a_saved_create_is_refused_once_its_match_finds_a_record(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new-deal\n"
        f"  match: {{$name: Saved deal, $account: {INITECH_ACCOUNT}}}\n"
        "spec:\n  fields: {$stage: Prospecting}\n",
    )
    saved = save_plan(manifest_dir, server, tmp_path)
    (create,) = json.loads(saved.read_text())["records"]
    assert create["match"] == {"$name": "Saved deal", "$account": [INITECH_ACCOUNT]}
    # Someone makes the deal by hand before the apply.
    made = api(
        "POST",
        server,
        "/v1/opportunities",
        {
            "fields": {"$name": "Saved deal", "$stage": "Prospecting"},
            "relationships": {"$account": INITECH_ACCOUNT},
        },
    )
    emu.reset_logs()
    refused = lfr(["apply", str(saved), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert "is stale" in refused.stderr
    assert f"new-deal: planned as a create, but metadata.match now selects {made['id']}" in (
        refused.stderr
    )
    assert writes(emu) == []
    # Once that record is gone, the same saved plan creates the deal.
    api("DELETE", server, f"/v1/opportunities/{made['id']}")
    emu.reset_logs()
    applied = lfr(["apply", str(saved), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    assert [w["idempotency_key"] for w in writes(emu)] == [create["requests"][0]["idempotency_key"]]
    # A saved plan applies once: run again, it finds the record it made, and says so.
    again = lfr(["apply", str(saved), "--auto-approve"], server)
    assert again.exit_code == 1
    assert "by someone or by an earlier apply of this plan" in again.stderr


def test_read_only_key_fails_before_writing_and_names_the_scope(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    result = lfr(["apply", str(manifest_dir), "--auto-approve"], server, key=READ_KEY)
    assert result.exit_code == 1
    assert "lacks the 'opportunities:update' scope" in result.stderr
    assert writes(emu) == []
    assert READ_KEY not in result.output


def test_markdown_report(server: str, write: WriteManifest, manifest_dir: Path) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    result = lfr(["apply", str(manifest_dir), "--auto-approve", "-f", "markdown"], server)
    assert result.exit_code == 0
    assert "<!-- lfr-apply -->\n### lfr apply\n\n**Apply: 1 applied.**" in result.stdout


def test_a_saved_plan_that_is_not_a_plan_is_a_clear_error(server: str, tmp_path: Path) -> None:
    for text in ("[]", "{}", "not json"):
        saved = tmp_path / "plan.json"
        saved.write_text(text)
        result = lfr(["apply", str(saved), "--auto-approve"], server)
        assert result.exit_code == 1, text
        assert "(not a plan as `lfr plan --out` writes it)" in result.stderr
        assert "Traceback" not in result.output


def test_an_unwritable_output_path_is_a_clear_error(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    missing = tmp_path / "no" / "such" / "dir"
    for option in ("--out", "--report"):
        result = lfr(["plan", str(manifest_dir), option, str(missing / "x")], server)
        assert result.exit_code == 1
        assert f"cannot write {missing / 'x'}: No such file or directory" in result.stderr


def bulk_manifests(emu: Emulator, write: WriteManifest, count: int) -> list[str]:
    emu.seed_bulk(opportunities=60)
    ids = [r.id for r in emu.records.store.records("org_demo", "opportunity")][:count]
    for index, record_id in enumerate(ids):
        write(
            f"m{index}.yaml",
            opportunity(f"m{index}", record_id, f"fields:\n  priority: {index + 50}"),
        )
    return ids


def test_auto_approve_force_writes_while_it_still_reads(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    ids = bulk_manifests(emu, write, 40)  # more records than list pages: scan + confirm reads
    emu.reset_logs()
    result = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server)
    assert result.exit_code == 0, result.output
    assert "Apply: 40 applied." in result.stdout
    log = emu.requests()
    reads = [i for i, r in enumerate(log) if r["method"] == "GET" and "/opp_" in r["path"]]
    posts = [i for i, r in enumerate(log) if r["method"] == "POST"]
    assert len(posts) == len(ids) == 40
    assert posts[0] < reads[-1], "the first write must not wait for the last read"
    # Without --force (the threshold must see the whole plan first) nothing overlaps.
    ids = bulk_manifests(emu, write, 40)
    for index, record_id in enumerate(ids):
        write(f"m{index}.yaml", opportunity(f"m{index}", record_id, "fields:\n  priority: 3"))
    emu.reset_logs()
    waited = lfr(["apply", str(manifest_dir), "--auto-approve", "--max-change", "1"], server)
    assert waited.exit_code == 0, waited.output
    log = emu.requests()
    reads = [i for i, r in enumerate(log) if r["method"] == "GET" and "/opp_" in r["path"]]
    posts = [i for i, r in enumerate(log) if r["method"] == "POST"]
    assert reads[-1] < posts[0]


def test_a_missing_record_found_while_writing_fails_the_run_and_reports_the_writes(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    write("gone.yaml", opportunity("gone", "opp_doesnotexist1", "fields:\n  priority: 1"))
    result = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server)
    assert result.exit_code == 1
    assert (
        "manifests/gone.yaml:5: opportunity opp_doesnotexist1 (gone) does not exist"
        in result.stderr
    )
    # The valid record's write was already under way: it is reported, not hidden.
    assert "✓ a (opp_cmr3idcbxmiev5v)  applied (1 request)" in result.stdout
    assert len(writes(emu)) == 1


def test_streaming_apply_refused_a_create_still_reports_the_writes_made(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    reads = [f"{kind}:read" for kind in ("opportunities", "accounts", "contacts", "members")]
    emu.add_key("org_demo", "sk_lf_update_only_2", [*reads, "opportunities:update"])
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        "  match: {$name: Scoped deal, $account: {name: Initech}}\n"
        "spec:\n  fields: {$stage: Prospecting}\n",
    )
    result = lfr(
        ["apply", str(manifest_dir), "--auto-approve", "--force"], server, key="sk_lf_update_only_2"
    )
    assert result.exit_code == 1
    assert "lacks the 'opportunities:create' scope" in result.stderr
    assert "✓ a (opp_cmr3idcbxmiev5v)  applied (1 request)" in result.stdout
    assert [w["path"] for w in writes(emu)] == [f"/v1/opportunities/{ACME_RENEWAL}"]


def test_a_saved_plan_sends_only_what_it_shows(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    saved = save_plan(manifest_dir, server, tmp_path)
    planned = json.loads(saved.read_text())
    emu.reset_logs()
    # It shows `$amount: 120000 → 5` and would send an $owner change besides.
    forged = json.loads(json.dumps(planned))
    forged["records"][0]["requests"][0]["body"]["relationships"] = {"$owner": {"replace": JANE}}
    saved.write_text(json.dumps(forged))
    refused = lfr(["apply", str(saved), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert refused.stderr.endswith(
        f"Error: {saved}: records[0].requests[0].body: differs from what record 'a' shows "
        "(rebuilt from its changes and planned-from values); lfr sends only what a plan shows "
        "(not a plan as `lfr plan --out` writes it)\n"
    )
    # Another record's idempotency key would replay that record's write instead.
    forged = json.loads(json.dumps(planned))
    forged["records"][0]["requests"][0]["idempotency_key"] = "lfr1-" + "a" * 64
    saved.write_text(json.dumps(forged))
    refused = lfr(["apply", str(saved), "--auto-approve"], server)
    assert "records[0].requests[0].idempotency_key: differs from what record 'a'" in (
        refused.stderr
    )
    assert emu.requests() == []


def test_a_saved_plan_made_with_array_replace_applies_as_made(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, f"relationships:\n  $contact: [{SAM}, {NINA}]"))
    saved = save_plan(manifest_dir, server, tmp_path, "--array-replace")
    (planned,) = json.loads(saved.read_text())["records"][0]["requests"]
    emu.reset_logs()
    applied = lfr(["apply", str(saved), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    sent = writes(emu)
    assert sent[0]["body"] == {"relationships": {"$contact": {"replace": sorted([SAM, NINA])}}}
    assert sent[0]["idempotency_key"] == planned["idempotency_key"]
    if emu.profile.allow_array_replace:
        assert len(sent) == 1
        (record,) = [m for m in emu.mutations() if m["record_id"] == ACME_RENEWAL]
        assert record["changes"]["relationships"]["$contact"] == {
            "added": sorted([SAM, NINA]),
            "removed": [ALEX],
        }
    else:  # strict-0.20 refuses the array: the same change as add, then remove, under new keys
        assert [w["status"] for w in sent] == [400, 200, 200]
        assert [w["body"]["relationships"]["$contact"] for w in sent[1:]] == [
            {"add": [SAM, NINA]},
            {"remove": [ALEX]},
        ]
        assert planned["idempotency_key"] not in {w["idempotency_key"] for w in sent[1:]}
    live = api("GET", server, f"/v1/opportunities/{ACME_RENEWAL}")
    assert sorted(live["relationships"]["$contact"]["values"]) == sorted([SAM, NINA])


def test_an_org_that_refuses_array_replace_gets_add_remove_once(
    write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    """Opted in to array replace against a strict-0.20 org: the 400 naming the relationship
    turns the write into add/remove under a new key; a re-run replays nothing twice."""
    emu = Emulator(db=":memory:", seed="demo", profile="strict-0.20")
    write("a.yaml", opportunity("a", ACME_RENEWAL, f"relationships:\n  $contact: [{SAM}, {NINA}]"))
    with running_server(emu, host="127.0.0.1", port=0) as server:
        applied = lfr(["apply", str(manifest_dir), "--auto-approve", "--array-replace"], server)
        assert applied.exit_code == 0, applied.output
        again = lfr(["plan", str(manifest_dir), "--detailed-exitcode"], server)
    assert again.exit_code == 0, again.output
    sent = writes(emu)
    assert [(w["status"], list(w["body"]["relationships"]["$contact"])) for w in sent] == [
        (400, ["replace"]),
        (200, ["add"]),
        (200, ["remove"]),
    ]
    assert len({w["idempotency_key"] for w in sent}) == 3
    added, removed = (m["changes"]["relationships"]["$contact"] for m in emu.mutations())
    assert added["added"] == sorted([SAM, NINA]) and removed["removed"] == [ALEX]


def test_a_saved_plan_is_shown_with_the_orgs_labels_not_the_files(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write(
        "a.yaml",
        opportunity(
            "a", ACME_RENEWAL, f"fields:\n  $stage: Discovery\nrelationships:\n  $owner: {PRIYA}"
        ),
    )
    saved = save_plan(manifest_dir, server, tmp_path)
    planned = json.loads(saved.read_text())
    (stage,) = planned["records"][0]["fields"]
    # A select value is shown by its label alone: a forged one would show a stage not sent.
    planned["labels"][stage["after"]] = "Closed Won"
    planned["labels"][PRIYA] = "Trusted Reviewer"
    # The saved review (the deal is counted: its amount is read live) forged to agree.
    for row in (*planned["impact"]["stages"], *planned["impact"]["owners"]):
        key = row.get("stage") or row.get("owner")
        row["label"] = planned["labels"].get(key, row["label"])
    saved.write_text(json.dumps(planned))
    result = lfr(["apply", str(saved), "--auto-approve"], server)
    assert result.exit_code == 0, result.output
    assert "$stage: Proposal → Discovery" in result.stdout
    assert "Closed Won" not in result.output and "Trusted Reviewer" not in result.output
    assert f"$owner: {JANE} → {PRIYA}" in result.stdout  # ids: names in the file are unchecked


def test_a_saved_plan_of_a_record_with_control_characters_in_the_crm_applies(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    # Someone typed an escape into the CRM; the manifest puts the name right.
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$name": "Acme\x1b[2J"}})
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $name: Acme"))
    saved = save_plan(manifest_dir, server, tmp_path)
    applied = lfr(["apply", str(saved), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    assert "\x1b" not in applied.output
