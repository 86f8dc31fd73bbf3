"""`lfr plan` and `lfr validate` through typer's CliRunner: output, files and exit codes.

Remote runs target a real uvicorn emulator on loopback (so the request log shows what was
sent); local runs use the embedded workspace in a temporary directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli import app
from reconciler.core.plan import plan_from_dict
from reconciler.emulator import Emulator
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, WriteManifest, opportunity

REPO = Path(__file__).resolve().parents[2]


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": None, **(env or {})})
    return runner.invoke(app, args, catch_exceptions=False)


def remote(base_url: str) -> dict[str, str]:
    return {"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": base_url}


def test_plan_prints_changes_and_detailed_exit_code(
    emu: Emulator, server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    base_url = server
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 135000"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 75000"))
    result = invoke(["plan", str(manifest_dir), "--detailed-exitcode"], remote(base_url))
    assert result.exit_code == 2, result.output
    assert "~ acme (opp_cmr3idcbxmiev5v)  manifests/acme.yaml:1" in result.stdout
    assert "~ $amount: 120,000 → 135,000" in result.stdout
    assert "initech" not in result.stdout  # unchanged records are summarised, not listed
    assert result.stdout.rstrip().endswith("Plan: 0 to create, 1 to update, 1 unchanged.")
    assert f"Target: {base_url}" in result.stderr
    assert FULL_KEY not in result.output
    assert [r for r in emu.requests() if r["method"] != "GET"] == []
    # Without --detailed-exitcode a plan with changes is still a success.
    assert invoke(["plan", str(manifest_dir)], remote(base_url)).exit_code == 0


def test_plan_of_a_synced_record_exits_zero_with_detailed_exitcode(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    base_url = server
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 75000"))
    result = invoke(["plan", str(manifest_dir), "--detailed-exitcode"], remote(base_url))
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout


def test_invalid_manifests_exit_one_with_file_line_and_annotations(
    emu: Emulator, server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    base_url = server
    write("bad.yaml", opportunity("bad", ACME_RENEWAL, "fields:\n  $amount: 12k"))
    env = {**remote(base_url), "GITHUB_ACTIONS": "true"}
    result = invoke(["plan", str(manifest_dir)], env)
    assert result.exit_code == 1
    assert "manifests/bad.yaml:8: $amount: expected a number, got text '12k'" in result.stderr
    assert "1 problem in 1 file; nothing was sent." in result.stderr
    assert result.stdout.startswith("::error file=manifests/bad.yaml,line=8,title=lfr::$amount")
    assert [r for r in emu.requests() if r["method"] != "GET"] == []


def test_saved_plan_round_trips_and_json_output_is_versioned(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    base_url = server
    spec = "fields:\n  $amount: 135000\nrelationships:\n  $owner: {email: priya@acme-sales.example}"
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, spec))
    saved = tmp_path / "plan.json"
    result = invoke(
        ["plan", str(manifest_dir), "-f", "json", "--out", str(saved)], remote(base_url)
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert json.loads(saved.read_text()) == printed
    assert printed["format_version"] == 1
    assert printed["summary"] == {"create": 0, "update": 1, "noop": 0}
    (record,) = printed["records"]
    assert [r["body"] for r in record["requests"]] == [
        {
            "fields": {"$amount": 135000},
            "relationships": {"$owner": {"replace": "mem_cmbc9vx9tsac0mp"}},
        }
    ]
    assert record["planned_from"] == {"$amount": 120000, "$owner": ["mem_cmc1u2x5v2x4ljb"]}
    # Reading it back gives the same plan (what `lfr apply plan.json` will rely on).
    plan = plan_from_dict(printed)
    assert plan.records[0].requests[0].idempotency_key == record["requests"][0]["idempotency_key"]
    assert plan.records[0].planned_from["$owner"] == ("mem_cmc1u2x5v2x4ljb",)
    assert FULL_KEY not in saved.read_text()


def test_markdown_plan_has_marker_summary_and_link(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    base_url = server
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 135000"))
    result = invoke(["plan", str(manifest_dir), "-f", "markdown"], remote(base_url))
    assert result.exit_code == 0
    assert result.stdout.startswith("<!-- lfr-plan -->\n### lfr plan\n")
    assert "| `$amount` | 120,000 | 135,000 |" in result.stdout
    assert f"/opportunities/{ACME_RENEWAL})" in result.stdout


def test_demo_manifests_plan_against_the_local_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's first command: the example manifests against the embedded workspace."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    result = invoke(["plan", "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Target: local workspace (.lfr/workspace.sqlite3")
    assert (tmp_path / ".lfr" / "workspace.sqlite3").exists()
    assert "Plan: 1 to create, 2 to update, 1 unchanged." in result.stdout
    # `validate` checks the same manifests without planning.
    checked = invoke(["validate"])
    assert (checked.exit_code, checked.stdout) == (0, "4 manifests valid.\n")


def test_ci_without_a_key_refuses_the_local_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    result = invoke(["plan"], {"CI": "true"})
    assert result.exit_code == 1
    assert "No LIGHTFIELD_API_KEY under CI=true" in result.stderr
    assert not (tmp_path / ".lfr").exists()


def test_validate_offline_needs_no_target(write: WriteManifest, manifest_dir: Path) -> None:
    write("bad.yaml", "apiVersion: lfr/v1\nkind: Opportunity\nmetdata: {name: x}\n")
    result = invoke(["validate", str(manifest_dir), "--offline"], {"CI": "true"})
    assert result.exit_code == 1
    assert "manifests/bad.yaml:3: unknown key 'metdata' (did you mean 'metadata'?)" in result.stderr
