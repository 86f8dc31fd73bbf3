"""`lfr export` through typer's CliRunner, against the embedded local workspace in a temporary
directory: output, exit codes, the `$schema` line, and `lfr plan` right after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli import app
from tests.support.demo import ACME_RENEWAL, INITECH

DEMO_OPPORTUNITIES = 17


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": None, **(env or {})})
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_export_all_then_plan_is_empty(workdir: Path) -> None:
    result = invoke(["export", "--all"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Target: local workspace")
    lines = result.stdout.splitlines()
    assert sum(line.startswith("created   manifests/") for line in lines) == DEMO_OPPORTUNITIES
    assert (
        f"created   manifests/acme-renewal-2027.yaml  acme-renewal-2027 ({ACME_RENEWAL})" in lines
    )
    assert lines[-1] == "Export: 17 records; files: 17 created, 0 updated, 0 unchanged."
    planned = invoke(["plan", "--detailed-exitcode", "-f", "json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["summary"] == {
        "create": 0,
        "update": 0,
        "noop": DEMO_OPPORTUNITIES,
    }
    again = invoke(["export", "--all"])
    assert again.stdout.splitlines()[-1] == (
        "Export: 17 records; files: 0 created, 0 updated, 17 unchanged."
    )


def test_new_files_point_editors_at_the_schema_when_the_repository_has_one(
    workdir: Path,
) -> None:
    assert invoke(["schema", "--out", "schema/manifest.schema.json"]).exit_code == 0
    result = invoke(["export", "--id", ACME_RENEWAL, "--id", INITECH, "--dir", "deals/2027"])
    assert result.exit_code == 0, result.output
    for name in ("acme-renewal-2027", "initech-analytics"):
        text = (workdir / "deals" / "2027" / f"{name}.yaml").read_text()
        assert text.startswith(
            "# yaml-language-server: $schema=../../schema/manifest.schema.json\n"
        )


def test_export_needs_ids_or_all(workdir: Path) -> None:
    for args in (["export"], ["export", "--all", "--id", ACME_RENEWAL]):
        result = invoke(args)
        assert result.exit_code == 1
        assert "give --id opp_... (one or more) or --all" in result.stderr
    assert not (workdir / "manifests").exists()


def test_an_unknown_id_fails_without_writing(workdir: Path) -> None:
    result = invoke(["export", "--id", "opp_doesnotexist"])
    assert result.exit_code == 1
    assert "no such opportunity (or it is in the trash): opp_doesnotexist" in result.stderr
    assert not (workdir / "manifests").exists()


def test_unreadable_manifests_are_reported_at_file_and_line(workdir: Path) -> None:
    (workdir / "manifests").mkdir()
    (workdir / "manifests" / "bad.yaml").write_text("apiVersion: lfr/v1\nx: &a 1\n")
    result = invoke(["export", "--all"], {"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    assert "manifests/bad.yaml:2: anchor '&a' is not allowed" in result.stderr
    assert "nothing was written" in result.stderr
    assert "::error file=manifests/bad.yaml,line=2" in result.stdout
    assert [p.name for p in (workdir / "manifests").iterdir()] == ["bad.yaml"]
