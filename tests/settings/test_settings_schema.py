"""lfr.yaml's JSON Schema (`lfr schema --lfr-yaml`), kept equal to the committed file and checked
with a real draft 2020-12 validator against the same files lfr accepts and refuses; and the
ignore globs' rules, as a table on the pure core."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from reconciler.adapters.loader import load_bytes
from reconciler.cli import app
from reconciler.core.json_schema import render_schema, settings_schema
from reconciler.core.settings import glob_pattern, parse_settings

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schema" / "lfr.schema.json"
VALIDATOR = Draft202012Validator(settings_schema())

# Line 1 is empty (the string starts with a newline): `version` is on line 2.
FULL = """
version: 1
manifests:
  paths: [manifests]
  ignore: ["**/kustomization.yaml"]
rails:
  max_changed_fraction: 0.30
  min_records: 10
write_rate: 4.5
default_environment: sandbox
environments:
  sandbox:
    base_url: https://api.lightfield.app
    api_key_env: LIGHTFIELD_SANDBOX_API_KEY
    manifests: {paths: [manifests/sandbox]}
  production:
    base_url: https://api.lightfield.app
    api_key_env: LIGHTFIELD_PRODUCTION_API_KEY
"""


def loaded(text: str) -> tuple[Any, list[str]]:
    """The data and what lfr says of it."""
    result = load_bytes(textwrap.dedent(text).encode(), "lfr.yaml")
    assert result.problems == []
    (document,) = result.documents
    _, problems = parse_settings(document)
    return document.data, [str(problem) for problem in problems]


def test_the_committed_schema_is_the_generated_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Draft202012Validator.check_schema(settings_schema())
    assert COMMITTED.read_text() == render_schema(settings_schema())
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": "true"})
    printed = runner.invoke(app, ["schema", "--lfr-yaml"])
    assert printed.exit_code == 0
    assert printed.stdout == COMMITTED.read_text()
    written = runner.invoke(app, ["schema", "--lfr-yaml", "--out", "schema/lfr.schema.json"])
    assert written.exit_code == 0
    assert (tmp_path / "schema/lfr.schema.json").read_text() == COMMITTED.read_text()


def test_the_schema_and_lfr_accept_the_documented_file() -> None:
    data, problems = loaded(FULL)
    assert problems == []
    assert list(VALIDATOR.iter_errors(data)) == []
    assert loaded("version: 1\n")[1] == []  # everything else has a default


@pytest.mark.parametrize(
    ("edit", "lfr_says"),
    [
        (("version: 1", "version: 2"), "lfr.yaml:2: version must be 1"),
        (("  sandbox:", "  Sandbox:"), "lfr.yaml:12: environment name 'Sandbox' must be"),
        (("write_rate: 4.5", "write_rate: 0"), "lfr.yaml:9: write_rate must be greater than 0"),
        (("min_records: 10", "min_records: -1"), "lfr.yaml:8: rails.min_records must be at least"),
        (("min_records: 10", "min_records: 1.5"), "lfr.yaml:8: rails.min_records must be a whole"),
        (("paths: [manifests]", "paths: [/etc]"), "lfr.yaml:4: manifests.paths.0 must be a path"),
        (("paths: [manifests]", "paths: []"), "lfr.yaml:4: manifests.paths must list at least"),
        (
            ("api_key_env: LIGHTFIELD_SANDBOX_API_KEY", "api_key_env: $SANDBOX"),
            "lfr.yaml:14: environments.sandbox.api_key_env must be the NAME",
        ),
        (
            ("    base_url: https://api.lightfield.app\n    api_key_env: LIGHTFIELD_S",
             "    base_url: https://u:p@api.lightfield.app\n    api_key_env: LIGHTFIELD_S"),
            "lfr.yaml:13: environments.sandbox.base_url must be an http(s) URL",
        ),
        (("rails:", "rail:"), "lfr.yaml:6: unknown key 'rail' (did you mean 'rails'?)"),
        (
            ("manifests: {paths: [manifests/sandbox]}", "manifest: {paths: [x]}"),
            "lfr.yaml:15: unknown key 'environments.sandbox.manifest' (did you mean 'manifests'?)",
        ),
        (
            ("    manifests: {paths", "    api_key_env: X\n    manifests: {paths"),
            "lfr.yaml:15: duplicate key",
        ),
    ],
)  # fmt: skip
def test_the_schema_refuses_what_lfr_refuses(edit: tuple[str, str], lfr_says: str) -> None:
    text = FULL.replace(*edit)
    assert text != FULL
    result = load_bytes(textwrap.dedent(text).encode(), "lfr.yaml")
    if result.problems:  # a YAML problem (a duplicate key): no schema ever sees the data
        assert any(str(problem).startswith(lfr_says) for problem in result.problems)
        return
    data, problems = loaded(text)
    assert any(problem.startswith(lfr_says) for problem in problems), problems
    assert list(VALIDATOR.iter_errors(data)) != []


@pytest.mark.parametrize(
    ("glob", "path", "ignored"),
    [
        ("**/kustomization.yaml", "kustomization.yaml", True),
        ("**/kustomization.yaml", "manifests/a/b/kustomization.yaml", True),
        ("**/kustomization.yaml", "manifests/kustomization.yaml.bak", False),
        ("kustomization.yaml", "manifests/kustomization.yaml", True),  # no `/`: any depth
        ("manifests/ci/*.yml", "manifests/ci/values.yml", True),
        ("manifests/ci/*.yml", "manifests/ci/deep/values.yml", False),  # `*` stays in one dir
        ("manifests/ci/**", "manifests/ci/deep/values.yml", True),
        ("manifests/?.yaml", "manifests/a.yaml", True),
        ("manifests/?.yaml", "manifests/ab.yaml", False),
        ("manifests/a.yaml", "manifests/a-yaml", False),  # `.` is a dot
        ("manifests/[ab].yaml", "manifests/a.yaml", False),  # no character classes: literal
    ],
)
def test_ignore_globs(glob: str, path: str, ignored: bool) -> None:
    assert bool(glob_pattern(glob).match(path)) is ignored


@pytest.mark.parametrize(
    ("path", "refused"),
    [("../shared", True), ("manifests/../../etc", True), ("manifests/../other", False),
     ("./manifests", False), ("a/./../b/..", False)],
)  # fmt: skip
def test_manifest_paths_stay_inside_the_directory_of_lfr_yaml(path: str, refused: bool) -> None:
    _, problems = loaded(f"version: 1\nmanifests:\n  paths: [{path}]\n")
    expected = ["lfr.yaml:3: manifests.paths.0 leads outside the directory of lfr.yaml"]
    assert problems == (expected if refused else [])


def test_the_readme_example_is_valid_for_lfr_and_the_schema() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## lfr.yaml and environments", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    data, problems = loaded(example)
    assert problems == []
    assert list(VALIDATOR.iter_errors(data)) == []
    assert data["environments"]["production"] == {"api_key_env": "LIGHTFIELD_PRODUCTION_API_KEY"}
