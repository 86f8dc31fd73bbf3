"""`lfr apply --stamp` through the CLI against a served emulator: one note per record apply
changed, naming the commit and pull request with links; no second note on a re-run, a replay or
a re-applied change whose key expired; a failing note endpoint never changes apply's exit code
or report; hostile values, commit messages and file names reach the note inert; the API key
never appears."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from reconciler.workspace import LOCAL_DB_NAME, LOCAL_WORKSPACE_DIR
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, WriteManifest, opportunity
from tests.support.emulator import demo_emulator

from .conftest import writes

GITHUB = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/crm",
    "GITHUB_RUN_ID": "9001",
}
MERGE = "Merge pull request #42 from acme/q3-pricing\n\nRaise Acme for Q3"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Emulator:
    return demo_emulator(rate_limits=RateLimitConfig(enabled=False), clock=clock)


@pytest.fixture
def server(emu: Emulator) -> Iterator[str]:
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        yield base_url


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def notes(emu: Emulator, record_id: str) -> list[dict[str, Any]]:
    listed = emu.records.list_records("org_demo", "note", [("$opportunity", record_id)])
    data: list[dict[str, Any]] = listed["data"]
    return data


def content(note: dict[str, Any]) -> str:
    value: str = note["fields"]["$content"]["value"]
    return value


def stamped(server: str, manifest_dir: Path, *extra: str, **env: str) -> Any:
    return lfr(
        ["apply", str(manifest_dir), "--auto-approve", "--stamp", *extra],
        server,
        env={**GITHUB, **env},
    )


def two_changes(write: WriteManifest) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $stage: Discovery"))


def test_a_stamped_apply_writes_one_note_per_changed_record_with_commit_and_pr_links(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    two_changes(write)
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: fresh\n"
        "  match: {$name: Stamp test, $account: {name: Initech}}\n"
        "spec:\n  fields: {$amount: 5000, $stage: Prospecting}\n",
    )
    sha = commit(manifest_dir.parent, MERGE)
    before = {r["id"] for r in emu.records.list_records("org_demo", "opportunity", [])["data"]}

    result = stamped(server, manifest_dir)

    assert result.exit_code == 0, result.output
    assert "Notes: 3 written." in result.stderr
    created = {
        r["id"] for r in emu.records.list_records("org_demo", "opportunity", [])["data"]
    } - before
    assert len(created) == 1
    acme = notes(emu, ACME_RENEWAL)
    assert len(acme) == 1
    assert acme[0]["fields"]["$title"]["value"] == "lfr: updated from PR #42"
    text = content(acme[0])
    assert "[#42](https://github.com/acme/crm/pull/42)" in text
    assert f"[`{sha[:12]}`](https://github.com/acme/crm/commit/{sha})" in text
    assert "[workflow run](https://github.com/acme/crm/actions/runs/9001)" in text
    assert "- `$amount`: 120,000 → 150,000" in text
    assert "Manifest: `manifests/acme.yaml`" in text
    assert "- `$stage`: " in content(notes(emu, INITECH)[0])
    (new,) = created
    fresh = notes(emu, new)
    assert len(fresh) == 1
    assert fresh[0]["fields"]["$title"]["value"] == "lfr: created from PR #42"


GLOBEX = ["opp_cm6gx0b03ek8pgt", "opp_cmjftirrzryr3rj", "opp_cmr2snmcnldykx0"]


def test_a_sets_records_each_get_their_own_note(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    """A set's records share its name: each note must still describe its own record's change
    under its own key (keyed by name alone, the last change's note was replayed for all)."""
    write(
        "globex.yaml",
        "apiVersion: lfr/v1\nkind: OpportunitySet\nmetadata:\n  name: globex-region\n"
        "spec:\n  selector:\n    $account: {name: Globex}\n"
        "  relationships:\n    $owner: {email: mei@acme-sales.example}\n",
    )
    commit(manifest_dir.parent, MERGE)
    owners = {
        record: api("GET", server, f"/v1/opportunities/{record}")["relationships"]["$owner"]
        for record in GLOBEX
    }
    changed = [record for record in GLOBEX if owners[record]["values"] != ["mem_cmpkgu1udtwuqqr"]]
    assert len(changed) == 2  # mei owns the third already

    result = stamped(server, manifest_dir, "--force")

    assert result.exit_code == 0, result.output
    assert "Notes: 2 written." in result.stderr
    texts = []
    for record in changed:
        (note,) = notes(emu, record)
        texts.append(content(note))
        assert "- `$owner`: " in texts[-1]
    assert texts[0] != texts[1]  # each says its own record's change (its own marker)


def test_unchanged_records_get_no_note_and_a_rerun_writes_none(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    live = api("GET", server, f"/v1/opportunities/{INITECH}")["fields"]["$amount"]["value"]
    write("initech.yaml", opportunity("initech", INITECH, f"fields:\n  $amount: {live}"))
    commit(manifest_dir.parent, MERGE)
    assert stamped(server, manifest_dir).exit_code == 0
    count = len(emu.records.list_records("org_demo", "note", [])["data"])
    assert count == 1
    assert notes(emu, INITECH) == []

    rerun = stamped(server, manifest_dir)

    assert rerun.exit_code == 0, rerun.output
    assert "Notes:" not in rerun.stderr
    assert len(emu.records.list_records("org_demo", "note", [])["data"]) == count


def test_the_same_change_applied_again_gets_no_second_note_even_after_its_key_expired(
    server: str, emu: Emulator, clock: ManualClock, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    commit(manifest_dir.parent, MERGE)
    assert stamped(server, manifest_dir).exit_code == 0
    for hours in (0, 25):  # within the key's 24 hours: a replay; after: the marker
        clock.advance(hours * 3600)
        # Someone puts the old value back by hand: the plan is the same change, same keys.
        api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$amount": 120000}})

        again = stamped(server, manifest_dir)

        assert again.exit_code == 0, again.output
        assert "1 applied" in again.stdout
        assert len(notes(emu, ACME_RENEWAL)) == 1
    assert "Notes: 0 written, 1 already there." in again.stderr


def test_a_note_committed_but_answered_with_an_error_is_not_written_twice_on_rerun(
    server: str, emu: Emulator, clock: ManualClock, write: WriteManifest, manifest_dir: Path
) -> None:
    """A crash between the note's commit and its answer, injected as a fault: the first run
    warns, the note is there; the re-run of the same change finds it."""
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    commit(manifest_dir.parent, MERGE)
    emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(action="commit_then_status", method="POST", path="/v1/notes", status=400)
            ]
        )
    )
    first = stamped(server, manifest_dir)
    assert first.exit_code == 0, first.output
    assert "Warning: no note on acme" in first.stderr
    assert len(notes(emu, ACME_RENEWAL)) == 1  # it was committed all the same
    clock.advance(25 * 3600)
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$amount": 120000}})

    rerun = stamped(server, manifest_dir)

    assert rerun.exit_code == 0, rerun.output
    assert "Notes: 0 written, 1 already there." in rerun.stderr
    assert len(notes(emu, ACME_RENEWAL)) == 1


def test_a_note_whose_answer_is_lost_is_retried_with_its_key_and_written_once(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    commit(manifest_dir.parent, MERGE)
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="commit_then_drop", method="POST", path="/v1/notes")])
    )

    result = stamped(server, manifest_dir)

    assert result.exit_code == 0, result.output
    assert "Notes: 1 written." in result.stderr
    assert len(notes(emu, ACME_RENEWAL)) == 1
    note_posts = [r for r in writes(emu) if r["path"] == "/v1/notes"]
    assert len(note_posts) == 2
    assert len({r["idempotency_key"] for r in note_posts}) == 1


@pytest.mark.parametrize("status", [500, 403, 422])
def test_a_failing_note_endpoint_leaves_the_apply_exit_code_and_report_unchanged(
    status: int, write: WriteManifest, manifest_dir: Path
) -> None:
    two_changes(write)
    commit(manifest_dir.parent, MERGE)
    outputs = []
    for stamp in (False, True):
        emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
        emu.faults.configure(
            FaultConfig(
                rules=[
                    FaultRule(
                        action="status", method="POST", path="/v1/notes", status=status, times=None
                    )
                ]
            )
        )
        with running_server(emu, host="127.0.0.1", port=0) as url:
            flag = "--stamp" if stamp else "--no-stamp"
            result = lfr(["apply", str(manifest_dir), "--auto-approve", flag], url, env=GITHUB)
        assert result.exit_code == 0, result.output
        assert emu.records.list_records("org_demo", "note", [])["data"] == []
        outputs.append((result.stdout.replace(url, "URL"), result.stderr))

    # The same report (its lines in any order: records complete concurrently).
    assert sorted(outputs[1][0].splitlines()) == sorted(outputs[0][0].splitlines())
    warned = [line for line in outputs[1][1].splitlines() if line.startswith("Warning:")]
    assert len(warned) == 2
    assert f"Warning: no note on acme ({ACME_RENEWAL}): " in outputs[1][1]
    assert "Notes: 0 written, 2 not written." in outputs[1][1]
    assert FULL_KEY not in outputs[1][1]


def test_a_key_without_the_notes_scope_warns_once_and_applies(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    two_changes(write)
    commit(manifest_dir.parent, MERGE)
    key = "sk_lf_noNotesScope0000000000000000"
    emu.store.add_key(
        "org_demo",
        key,
        [
            "opportunities:read",
            "opportunities:update",
            "accounts:read",
            "contacts:read",
            "members:read",
        ],
    )

    result = lfr(["apply", str(manifest_dir), "--auto-approve", "--stamp"], server, key=key)

    assert result.exit_code == 0, result.output
    assert "Apply: 2 applied." in result.stdout
    assert "lacks the notes:create, notes:read scope; no note was written" in result.stderr
    assert "noNotesScope" not in result.output
    assert [r for r in writes(emu) if r["path"] == "/v1/notes"] == []


def test_hostile_values_commit_messages_and_file_names_reach_the_note_inert(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    # Each value is cut at 80 characters: the hazards sit in the first 80 of each.
    hostile = {
        "competitor": "@octocat <script>x</script> [click](https://evil.example) `c` | d",
        "$nextSteps": "**bold** ![x](https://evil.example/p.png)\n## heading \x1b[31m\u202e "
        + FULL_KEY
        + " "
        + "A" * 300,
    }
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": hostile})
    write(
        "a_[x](https:evil)*`.yaml",
        opportunity("acme", ACME_RENEWAL, "fields:\n  competitor: Clean\n  $nextSteps: Clean"),
    )
    commit(
        manifest_dir.parent,
        "Merge pull request #7 from x/y\n\n<img src=x onerror=alert(1)> [pr](https://evil.example)",
    )

    result = stamped(server, manifest_dir)

    assert result.exit_code == 0, result.output
    (note,) = notes(emu, ACME_RENEWAL)
    text = content(note)
    for raw in (
        "<script>",
        "<img",
        "![x]",
        "\n## heading",
        "\x1b",
        "\u202e",
        "@octocat",
        "**bold**",
        FULL_KEY,
        "sk_lf_",
    ):
        assert raw not in text, raw
    assert "A" * 100 not in text  # the value is cut
    assert "&lt;script&gt;" in text
    assert "\\[click\\]" in text
    # The only links are lfr's own: the PR, the commit, the workflow run.
    # (a code span is no link: the file name's brackets are inside one)
    prose = re.sub(r"(`+).*?\1", "", text)
    links = re.findall(r"(?<!\\)\]\((\S+?)\)", prose)
    assert [url.split("/")[5] for url in links] == ["pull", "commit", "actions"]
    assert "@&#8203;octocat" in text
    assert "[#7](https://github.com/acme/crm/pull/7)" in text
    assert len(text) <= 4000
    assert all(
        line.startswith(("**", "- ", "Manifest: ", "lfr-stamp:")) or not line
        for line in text.splitlines()
    )
    assert FULL_KEY not in result.output


def test_pr_flag_number_url_and_refused_values(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    commit(manifest_dir.parent, "Rebased: no PR in this message")

    refused = stamped(server, manifest_dir, "--pr", "javascript:alert(1)")
    assert refused.exit_code == 1
    assert "--pr takes a pull request number" in refused.stderr
    assert writes(emu) == []

    by_url = lfr(
        [
            "apply",
            str(manifest_dir),
            "--auto-approve",
            "--stamp",
            "--pr",
            "https://github.example.com/acme/crm/pull/77",
        ],
        server,
    )
    assert by_url.exit_code == 0, by_url.output
    text = content(notes(emu, ACME_RENEWAL)[0])
    assert "[#77](https://github.example.com/acme/crm/pull/77)" in text
    assert "commit [" not in text  # no repository address to link the commit to
    assert "at commit `" in text


def test_without_a_pr_or_commit_the_note_says_uncommitted_manifests(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))

    result = stamped(server, manifest_dir)

    assert result.exit_code == 0, result.output
    (note,) = notes(emu, ACME_RENEWAL)
    assert note["fields"]["$title"]["value"] == "lfr: updated from uncommitted manifests"
    assert "from uncommitted manifests (`sha256:" in content(note)


def test_lfr_yaml_stamp_turns_it_on_and_no_stamp_wins(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    (manifest_dir.parent / "lfr.yaml").write_text("version: 1\nstamp: true\n")
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    off = lfr(["apply", str(manifest_dir), "--auto-approve", "--no-stamp"], server)
    assert off.exit_code == 0, off.output
    assert notes(emu, ACME_RENEWAL) == []
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 160000"))

    on = lfr(["apply", str(manifest_dir), "--auto-approve"], server)

    assert on.exit_code == 0, on.output
    assert "- `$amount`: 150,000 → 160,000" in content(notes(emu, ACME_RENEWAL)[0])


def test_a_refused_notes_listing_still_writes_the_note_under_its_key(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    """The relationship filter on notes is not spelled out in the docs: if the API refuses it,
    the marker is unknown and the create goes out, deduplicated by its key."""
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    commit(manifest_dir.parent, MERGE)
    emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(action="status", method="GET", path="/v1/notes", status=400, times=None)
            ]
        )
    )

    result = stamped(server, manifest_dir)

    assert result.exit_code == 0, result.output
    assert "Notes: 1 written." in result.stderr
    assert len(notes(emu, ACME_RENEWAL)) == 1


def test_the_local_workspace_keeps_its_notes_in_its_file(
    write: WriteManifest, manifest_dir: Path
) -> None:
    """No key: the embedded workspace serves the notes too, kept in `.lfr/` across runs."""
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    runner = CliRunner(
        env={"LIGHTFIELD_API_KEY": None, "LIGHTFIELD_BASE_URL": None, "CI": None, **GITHUB}
    )
    command = ["apply", str(manifest_dir), "--auto-approve", "--stamp"]

    first = runner.invoke(app, command, catch_exceptions=False)
    again = runner.invoke(app, command, catch_exceptions=False)

    assert first.exit_code == 0, first.output
    assert "Notes: 1 written." in first.stderr
    assert again.exit_code == 0, again.output
    assert "Notes:" not in again.stderr
    database = manifest_dir.parent / LOCAL_WORKSPACE_DIR / LOCAL_DB_NAME
    local = Emulator(db=str(database), seed="demo")
    try:
        (note,) = notes(local, ACME_RENEWAL)
    finally:
        local.close()
    assert "- `$amount`: 120,000 → 150,000" in content(note)
