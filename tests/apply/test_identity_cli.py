"""Identity after a create, through the CLI against a served emulator: a `match` written with
other whitespace finds its record, apply suggests `lfr pin` after a create, `lfr pin` writes
`metadata.id` in place of `match` (comments kept), and a create the API answers with a replay of
an earlier one whose record was renamed since is reported as not created."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig
from tests.support.cli import api, lfr
from tests.support.demo import WriteManifest

GLOBEX_RENEWAL = "opp_cm6gx0b03ek8pgt"
UMBRELLA = "acc_cmec7wkfwc7u14s"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    """The demo org on a manual clock (2026-01-01), so a replay's age is under the test's
    control; served by the `server` fixture."""
    emulator = Emulator(
        db=":memory:", seed="demo", clock=clock, rate_limits=RateLimitConfig(enabled=False)
    )
    yield emulator
    emulator.close()


def named(server: str, name: str) -> list[str]:
    listed = api("GET", server, "/v1/opportunities?limit=25")["data"]
    listed += api("GET", server, "/v1/opportunities?limit=25&offset=25")["data"]
    return [r["id"] for r in listed if r["fields"]["$name"]["value"] == name]


def test_a_match_and_a_reference_written_with_other_whitespace_find_their_records(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    write(
        "globex.yaml",
        """
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: globex
          match: {$name: "Globex  renewal"}
          onMissing: error
        spec:
          relationships:
            partners: {include: [{name: "Umbrella   Health"}]}
        """,
    )
    result = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)["records"]
    # The record that exists, not a duplicate to create.
    assert (record["action"], record["id"]) == ("update", GLOBEX_RENEWAL)
    (link,) = record["relationships"]
    assert link["add"] == [UMBRELLA]


def test_apply_suggests_pin_and_pin_ties_the_manifest_to_its_record(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    path = write(
        "deal.yaml",
        """
        # A deal made from git.
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: pinned-deal  # the logical key
          match: {$name: Pinned deal, $account: {name: Initech}}
          onMissing: create
        spec:
          fields:
            $amount: 5000   # agreed in March
        """,
    )
    applied = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    assert f"run `lfr pin {manifest_dir.as_posix()}`" in applied.stderr
    (record_id,) = named(server, "Pinned deal")

    dry = lfr(["pin", str(manifest_dir), "--dry-run"], server)
    assert dry.exit_code == 0, dry.output
    assert f"+  id: {record_id}" in dry.stdout.splitlines()
    assert "match:" in path.read_text()  # nothing written

    pinned = lfr(["pin", str(manifest_dir)], server)
    assert pinned.exit_code == 0, pinned.output
    assert f"pinned    {path.as_posix()}  pinned-deal ({record_id})" in pinned.stdout
    assert path.read_text() == (
        "# A deal made from git.\n"
        "apiVersion: lfr/v1\n"
        "kind: Opportunity\n"
        "metadata:\n"
        "  name: pinned-deal  # the logical key\n"
        f"  id: {record_id}\n"
        "spec:\n"
        "  fields:\n"
        "    $amount: 5000   # agreed in March\n"
    )
    # Renamed in the CRM: still the same record, so the plan is not a create.
    api("POST", server, f"/v1/opportunities/{record_id}", {"fields": {"$name": "Renamed"}})
    planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert planned.exit_code == 0, planned.output
    (record,) = json.loads(planned.stdout)["records"]
    assert (record["action"], record["id"]) == ("noop", record_id)
    again = lfr(["pin", str(manifest_dir)], server)
    assert again.stdout.splitlines()[-1] == "Pin: 0 manifests pinned, 0 not matching a record."


def test_a_replayed_create_whose_record_was_renamed_is_reported_as_not_created(
    write: WriteManifest, manifest_dir: Path, server: str, clock: ManualClock
) -> None:
    write(
        "deal.yaml",
        """
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: replayed-deal
          match: {$name: Replayed deal, $account: {name: Initech}}
        """,
    )
    assert lfr(["apply", str(manifest_dir), "--auto-approve"], server).exit_code == 0
    (record_id,) = named(server, "Replayed deal")
    # Renamed in the CRM ten minutes later, within the API's 24 h idempotency window: the match
    # no longer finds it, and the same create (same key) is answered with the first one's replay.
    clock.advance(600)
    api("POST", server, f"/v1/opportunities/{record_id}", {"fields": {"$name": "Renamed deal"}})
    result = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert result.exit_code == 1, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("! replayed-deal"))
    assert line.startswith(
        f"! replayed-deal ({record_id})  unverified: not created: the API replayed the create "
        f"of {record_id}"
    )
    assert "no longer holds the planned value of $name" in line
    assert f"(`lfr pin`, or metadata.id: {record_id})" in line
    assert "Apply: 0 applied, 1 not verified." in result.stdout
    assert named(server, "Replayed deal") == []  # nothing was created
    assert "lfr pin" not in result.stderr  # no create to pin


def test_a_replayed_create_that_still_holds_says_so(
    write: WriteManifest, manifest_dir: Path, server: str, clock: ManualClock
) -> None:
    write(
        "deal.yaml",
        """
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: twice
          match: {$name: Twice deal, $account: {name: Initech}, $amount: 10}
        """,
    )
    assert lfr(["apply", str(manifest_dir), "--auto-approve"], server).exit_code == 0
    (record_id,) = named(server, "Twice deal")
    clock.advance(600)
    # Someone changes the amount: the match misses, the create is replayed, and the record the
    # replay names still holds every planned value but the amount.
    api("POST", server, f"/v1/opportunities/{record_id}", {"fields": {"$amount": 11}})
    result = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert "not created: the API replayed the create" in result.stdout
    api("POST", server, f"/v1/opportunities/{record_id}", {"fields": {"$amount": 10}})
    # Back as planned: the match finds it, nothing to create.
    planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert json.loads(planned.stdout)["summary"] == {"create": 0, "update": 0, "noop": 1}


def test_a_create_near_an_existing_record_on_the_same_account_is_flagged(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    path = write(
        "deals.yaml",
        """
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: near
          match: {$name: Globex renewals, $account: {name: Globex}}
        ---
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: far
          match: {$name: Globex data platform, $account: {name: Globex}}
        """,
    )
    result = lfr(["plan", str(manifest_dir)], server)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        f"Warning: {path.relative_to(Path.cwd()).as_posix()}:1: near: creates 'Globex "
        f"renewals', but the same account has {GLOBEX_RENEWAL} ('Globex renewal'); if that is "
        "the record meant, set metadata.id to it (or fix the match) instead of creating another"
    ]
    assert "Plan: 2 to create" in result.stdout
    # apply says it too, before anything is written
    applied = lfr(["apply", str(manifest_dir)], server, stdin="no\n")
    assert "Warning:" in applied.stderr and "Apply cancelled; nothing was sent." in applied.stderr
