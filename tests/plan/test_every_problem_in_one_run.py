"""One run lists every problem of every file (issue 13, item 1), through the CLI against a served
emulator: a shape error in one file does not hide the value error of another, nor that the
reference error of a third; a YAML syntax error carries its column; problems finding a record
point at its `id:` / `match:` line; an unknown member email names the nearest member."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.runs.plan import run_plan
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, INITECH, WriteManifest, opportunity

SHAPE = opportunity("shape", ACME_RENEWAL, "feilds:\n  $amount: 1")
VALUE = opportunity("value", INITECH, "fields:\n  $stage: Nonsense")
REFERENCE = (
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: reference\n"
    "  match: {$name: Brand new deal}\nspec:\n  fields:\n    $name: Brand new deal\n"
    # $stage: the strict-0.20 profile requires it on create (docs/api-contract.md §4).
    "    $stage: Prospecting\n"
    "  relationships:\n    $account: {name: No Such Account Inc}\n"
    "    $owner: {email: jane@acme-sales.exampel}\n"
)
SYNTAX = "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: syntax, id: opp_x\n"


def _three_broken(write: WriteManifest) -> None:
    write("a-shape.yaml", SHAPE)
    write("b-value.yaml", VALUE)
    write("c-reference.yaml", REFERENCE)


def test_validate_lists_shape_value_and_reference_problems_of_three_files_together(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    _three_broken(write)
    result = lfr(["validate", str(manifest_dir)], server)
    assert result.exit_code == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("manifests/")]
    # Grouped by file, ordered by line: each file as far as its own checks went.
    assert [line.split(": ")[0] for line in problems] == [
        "manifests/a-shape.yaml:7",
        "manifests/b-value.yaml:8",
        "manifests/c-reference.yaml:11",
        "manifests/c-reference.yaml:12",
    ]
    assert "unknown key 'spec.feilds' (did you mean 'fields'?)" in problems[0]
    assert "'Nonsense' is not an option of $stage" in problems[1]
    assert "$account: no account with name 'No Such Account Inc'" in problems[2]
    assert (
        "$owner: no member with email 'jane@acme-sales.exampel' "
        "(did you mean 'jane@acme-sales.example'?)" in problems[3]
    )
    assert "4 problems in 3 files; nothing was sent." in result.stderr


def test_plan_reports_them_all_and_sends_nothing(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    _three_broken(write)
    write("d-syntax.yaml", SYNTAX)
    write("fine.yaml", opportunity("fine", ACME_RENEWAL, "fields:\n  $amount: 5"))
    result = lfr(["plan", str(manifest_dir)], server)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "5 problems in 4 files; nothing was sent." in result.stderr
    # A syntax error is at a character: line and column.
    assert "manifests/d-syntax.yaml:4:1: invalid YAML:" in result.stderr
    assert [r for r in emu.requests() if r["method"] != "GET"] == []
    annotated = lfr(["plan", str(manifest_dir)], server, env={"GITHUB_ACTIONS": "true"})
    assert "::error file=manifests/d-syntax.yaml,line=4,col=1,title=lfr::invalid YAML" in (
        annotated.stdout
    )


def test_offline_validate_still_lists_every_file_it_can_check_offline(
    write: WriteManifest, manifest_dir: Path
) -> None:
    _three_broken(write)
    write("d-syntax.yaml", SYNTAX)
    result = lfr(["validate", str(manifest_dir), "--offline"], "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "2 problems in 2 files" in result.stderr  # shape and syntax: no org needed


def test_a_record_that_cannot_be_found_is_reported_at_its_id_line(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("gone.yaml", opportunity("gone", "opp_doesnotexist1", "fields:\n  $amount: 5"))
    write(
        "strict.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: strict\n  onMissing: error\n"
        "  match: {$name: Nothing like this}\n",
    )
    result = lfr(["plan", str(manifest_dir)], server)
    assert result.exit_code == 1
    assert "manifests/gone.yaml:5: opportunity opp_doesnotexist1 (gone) does not exist" in (
        result.stderr
    )
    assert "manifests/strict.yaml:6: strict: no opportunity matches metadata.match" in (
        result.stderr
    )


def test_a_missing_identity_is_reported_at_the_metadata_key(
    write: WriteManifest, manifest_dir: Path
) -> None:
    header = "# a comment\n\napiVersion: lfr/v1\nkind: Opportunity\n"
    write("noid.yaml", header + "metadata:\n  name: x\n")
    result = lfr(["validate", str(manifest_dir), "--offline"], "http://127.0.0.1:9")
    assert "manifests/noid.yaml:5: metadata: give exactly one of 'id'" in result.stderr


@pytest.mark.anyio
async def test_a_plan_reports_its_phases_as_it_goes(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    write("b.yaml", opportunity("b", INITECH, "fields:\n  $amount: 6"))
    heard: list[tuple[str, int, int]] = []
    outcome = await run_plan(
        client, manifest_dir, target="t", progress=lambda *step: heard.append(step)
    )
    assert outcome.plan is not None
    assert heard[0] == ("reading", 0, 2)
    assert ("reading", 2, 2) in heard
    assert heard[-1] == ("fetching", 2, 2)
    assert [phase for phase, _, _ in heard].index("fetching") > heard.index(("reading", 2, 2))
