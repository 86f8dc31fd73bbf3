"""`--target` / `--exclude` and several paths on plan, apply, drift and validate (issue 13, item
6), through the CLI against a served emulator; and a folder with no manifest is an error."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.emulator import Emulator
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, INITECH, WriteManifest, opportunity


def _records(stdout: str) -> list[str]:
    return sorted(record["name"] for record in json.loads(stdout)["records"])


def _two(write: WriteManifest) -> None:
    write("acme-renewal.yaml", opportunity("acme-renewal", ACME_RENEWAL, "fields:\n  $amount: 5"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 6"))


def test_plan_targets_and_excludes_by_name_glob(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    _two(write)
    every = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert _records(every.stdout) == ["acme-renewal", "initech"]
    targeted = lfr(["plan", str(manifest_dir), "--target", "acme-*", "-f", "json"], server)
    assert targeted.exit_code == 0, targeted.output
    assert _records(targeted.stdout) == ["acme-renewal"]
    excluded = lfr(["plan", str(manifest_dir), "--exclude", "acme-*", "-f", "json"], server)
    assert _records(excluded.stdout) == ["initech"]
    both = lfr(
        ["plan", str(manifest_dir), "--target", "*", "--exclude", "initech", "-f", "json"], server
    )
    assert _records(both.stdout) == ["acme-renewal"]


def test_a_target_that_matches_nothing_is_an_error(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    _two(write)
    result = lfr(["plan", str(manifest_dir), "--target", "acme", "--target", "initech"], server)
    assert result.exit_code == 1
    assert "--target 'acme' matches no manifest's metadata.name" in result.stderr
    left_none = lfr(["validate", str(manifest_dir), "--exclude", "*", "--offline"], server)
    assert left_none.exit_code == 1
    assert "--target / --exclude leave no manifest to work on" in left_none.stderr


def test_a_value_problem_outside_the_target_does_not_block_it(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    _two(write)
    write("broken.yaml", opportunity("broken", INITECH, "fields:\n  $stage: Nonsense"))
    result = lfr(["validate", str(manifest_dir), "--target", "acme-renewal"], server)
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 manifest valid.\n"


def test_several_paths_are_read_together(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    _two(write)
    other = manifest_dir.parent / "team-b"
    other.mkdir()
    (other / "c.yaml").write_text(opportunity("c", INITECH, "fields:\n  $amount: 7"))
    result = lfr(["plan", "manifests/acme-renewal.yaml", str(other), "-f", "json"], server)
    assert result.exit_code == 0, result.output
    assert _records(result.stdout) == ["acme-renewal", "c"]
    # The same file named twice (its directory and itself) is read once.
    twice = lfr(["validate", str(manifest_dir), "manifests/initech.yaml", "--offline"], server)
    assert twice.stdout == "2 manifests valid.\n"


def test_a_folder_with_no_manifest_fails_plan_validate_and_drift(
    server: str, manifest_dir: Path
) -> None:
    for command in (["plan"], ["validate"], ["validate", "--offline"], ["drift"]):
        result = lfr([*command, str(manifest_dir)], server)
        assert result.exit_code == 1, (command, result.output)
        assert "manifests: no manifests here (no *.yaml or *.yml file)" in result.stderr


def test_apply_writes_only_the_targeted_records(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    _two(write)
    result = lfr(["apply", str(manifest_dir), "--target", "initech", "--auto-approve"], server)
    assert result.exit_code == 0, result.output
    posted = [r["path"] for r in emu.requests() if r["method"] == "POST"]
    assert posted == [f"/v1/opportunities/{INITECH}"]
    acme = api("GET", server, f"/v1/opportunities/{ACME_RENEWAL}")
    assert acme["fields"]["$amount"]["value"] != 5


def test_a_saved_plan_is_applied_whole_and_refuses_a_selection(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    _two(write)
    saved = tmp_path / "plan.json"
    made = lfr(["plan", str(manifest_dir), "--target", "initech", "--out", str(saved)], server)
    assert made.exit_code == 0, made.output
    refused = lfr(["apply", str(saved), "--target", "acme-*", "--auto-approve"], server)
    assert refused.exit_code == 1
    assert "a saved plan is already a selection" in refused.stderr
    applied = lfr(["apply", str(saved), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    assert [r["path"] for r in emu.requests() if r["method"] == "POST"] == [
        f"/v1/opportunities/{INITECH}"
    ]


def test_drift_is_limited_to_the_target(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    _two(write)
    drifted = lfr(["drift", str(manifest_dir), "--target", "initech", "-f", "json"], server)
    assert drifted.exit_code == 2, drifted.output
    assert "acme-renewal" not in drifted.stdout
    assert "initech" in drifted.stdout


def test_the_mass_change_rail_counts_the_chosen_records(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    ids = [r["id"] for r in api("GET", server, "/v1/opportunities?limit=14")["data"]]
    assert len(ids) == 14
    # 14 managed records, the first 4 change: 29 % of the whole set, under the 30 % threshold.
    for index, record_id in enumerate(ids):
        spec = "fields:\n  priority: 4" if index < 4 else "fields: {}"
        write(f"m{index:02}.yaml", opportunity(f"m{index:02}", record_id, spec))

    def posts() -> int:
        return len([r for r in emu.requests() if r["method"] == "POST"])

    # Chosen m00..m09: the plan applied changes 4 of 10 records (40 %): refused.
    refused = lfr(["apply", str(manifest_dir), "--target", "m0*", "--auto-approve"], server)
    assert refused.exit_code == 1
    assert "changes 4 of 10 managed records (40%, over the 30% safety threshold)" in (
        refused.stderr
    )
    assert posts() == 0
    # Chosen m00, m01: 2 records, below --min-records (10): applied.
    few = lfr(["apply", str(manifest_dir), "--target", "m0[01]", "--auto-approve"], server)
    assert few.exit_code == 0, few.output
    assert posts() == 2
    # The whole set: 2 more of 14 change: applied.
    whole = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert whole.exit_code == 0, whole.output
    assert posts() == 4
