"""The pre-commit hook definition: what pre-commit reads, and that its command works offline."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from reconciler.cli import app

REPO = Path(__file__).resolve().parents[2]


def hooks() -> list[dict[str, object]]:
    """The hook list as pre-commit reads it (plain safe YAML)."""
    loaded = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(loaded, list)
    return loaded


def test_the_hook_is_defined_for_manifest_files() -> None:
    (hook,) = hooks()
    assert hook["id"] == "lfr-validate"
    assert hook["language"] == "python"  # pre-commit installs this repository, giving `lfr`
    assert hook["pass_filenames"] is False
    files = re.compile(str(hook["files"]))
    assert files.search("manifests/acme/acme-renewal-2027.yaml")
    assert files.search("manifests/x.yml")
    assert not files.search("README.md")
    assert not files.search("schema/manifest.schema.json")


def test_the_hook_command_validates_the_manifests_without_a_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (hook,) = hooks()
    program, *args = shlex.split(str(hook["entry"]))
    assert program == "lfr"
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    # No key and CI=true: a hook that needed a target would fail here.
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": "true"})
    result = runner.invoke(app, args)
    assert (result.exit_code, result.stdout) == (0, "4 manifests valid.\n")
    (tmp_path / "manifests" / "acme" / "acme-renewal-2027.yaml").write_text(
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: Bad Name, id: opp_x}\n"
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "manifests/acme/acme-renewal-2027.yaml:3: metadata.name 'Bad Name'" in result.stderr
    assert not (tmp_path / ".lfr").exists()
