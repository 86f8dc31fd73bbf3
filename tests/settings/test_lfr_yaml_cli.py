"""lfr.yaml and environments, as a user meets them: through the CLI, against served emulators.

Two orgs are two emulators, each with a key the other does not know, so a run that read the
wrong environment's key or URL fails with 401 instead of passing by accident.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli import app
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.cli import api
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, opportunity

SANDBOX_KEY = "sk_lf_sandbox_only_0123456789"
PRODUCTION_KEY = "sk_lf_production_only_9876543210"
DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port: a run sent there fails


def invoke(args: list[str], **env: str | None) -> Result:
    """``lfr ARGS`` with none of lfr's variables set but those given."""
    variables: dict[str, str | None] = {
        "LIGHTFIELD_API_KEY": None,
        "LIGHTFIELD_BASE_URL": None,
        "LFR_ENV": None,
        "LFR_CONFIG": None,
        "CI": None,
        "GITHUB_ACTIONS": None,
    }
    runner = CliRunner(env={**variables, **env})
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository (the walk up for lfr.yaml stops at its root), the current directory."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def production() -> Iterator[str]:
    """A second org: the demo data, its own key."""
    emu = Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))
    emu.add_key("org_demo", PRODUCTION_KEY)
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        yield base_url


@pytest.fixture
def sandbox(emu: Emulator, server: str) -> str:
    emu.add_key("org_demo", SANDBOX_KEY, ["opportunities:read", "accounts:read"])
    return server


def two_environments(repo: Path, sandbox: str, production: str) -> None:
    write(
        repo / "lfr.yaml",
        f"""
        # yaml-language-server: $schema=schema/lfr.schema.json
        version: 1
        manifests:
          paths: [manifests/production]
        environments:
          sandbox:
            base_url: {sandbox}
            api_key_env: LIGHTFIELD_SANDBOX_API_KEY
            manifests: {{paths: [manifests/sandbox]}}
          production:
            base_url: {production}
            api_key_env: LIGHTFIELD_PRODUCTION_API_KEY
        """,
    )
    acme = opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 120000")
    write(repo / "manifests/sandbox/acme.yaml", acme)
    write(repo / "manifests/production/acme.yaml", acme)
    initech = opportunity("initech", INITECH, "fields:\n  $amount: 75000")
    write(repo / "manifests/production/initech.yaml", initech)


KEYS = {
    "LIGHTFIELD_SANDBOX_API_KEY": SANDBOX_KEY,
    "LIGHTFIELD_PRODUCTION_API_KEY": PRODUCTION_KEY,
}


def test_two_environments_plan_separately_with_their_own_keys(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    # Someone edited production's Acme by hand: only production's plan shows it.
    edit = {"fields": {"$amount": 99000}}
    api("POST", production, f"/v1/opportunities/{ACME_RENEWAL}", edit)

    planned = invoke(["plan", "--env", "sandbox", "--detailed-exitcode"], **KEYS)
    assert planned.exit_code == 0, planned.output
    assert "environment: sandbox (lfr.yaml:6, --env)" in planned.stderr
    assert f"Target: {sandbox} (key from $LIGHTFIELD_SANDBOX_API_KEY)" in planned.stderr
    assert "1 unchanged" in planned.stdout  # manifests/sandbox: Acme only, as it is there

    planned = invoke(["plan", "--format", "json"], LFR_ENV="production", **KEYS)
    assert planned.exit_code == 0, planned.output
    assert "environment: production (lfr.yaml:10, $LFR_ENV)" in planned.stderr
    records = {r["id"]: r for r in json.loads(planned.stdout)["records"]}
    assert set(records) == {ACME_RENEWAL, INITECH}  # the top-level manifests/production
    assert records[ACME_RENEWAL]["action"] == "update"
    assert records[INITECH]["action"] == "noop"

    # Each key exists in its own org only: swapped, both runs are refused by the API.
    swapped = {
        "LIGHTFIELD_SANDBOX_API_KEY": PRODUCTION_KEY,
        "LIGHTFIELD_PRODUCTION_API_KEY": SANDBOX_KEY,
    }
    for name in ("sandbox", "production"):
        refused = invoke(["whoami", "--env", name], **swapped)
        assert refused.exit_code == 1
        assert "Error: GET /v1/auth/validate → 401 unauthorized" in refused.stderr
    scopes = invoke(["whoami", "--env", "sandbox"], **KEYS)
    assert scopes.exit_code == 0, scopes.output
    assert "Scopes: opportunities:read, accounts:read" in scopes.stdout


def test_several_environments_and_none_chosen_is_refused_with_their_names(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    refused = invoke(["plan"], **KEYS)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: lfr.yaml defines 2 environments (sandbox, production) and none is the default: "
        "pass --env NAME (or set LFR_ENV), or set default_environment\n"
    )
    unknown = invoke(["plan", "--env", "prod"], **KEYS)
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "Error: no environment 'prod' (--env) (did you mean 'production'?); environments in "
        "lfr.yaml: sandbox, production\n"
    )
    misspelt = invoke(["drift"], LFR_ENV="sandbx", **KEYS)
    assert "no environment 'sandbx' ($LFR_ENV) (did you mean 'sandbox'?)" in misspelt.stderr


def test_the_default_environment_and_the_only_environment_are_chosen_and_said(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    config = repo / "lfr.yaml"
    config.write_text(
        config.read_text().replace("environments:", "default_environment: sandbox\nenvironments:")
    )
    ran = invoke(["validate"], **KEYS)
    assert ran.exit_code == 0, ran.output
    assert "environment: sandbox (lfr.yaml:7, default_environment)" in ran.stderr
    assert ran.stdout == "1 manifest valid.\n"  # manifests/sandbox

    write(
        repo / "lfr.yaml",
        f"""
        version: 1
        environments:
          only:
            base_url: {production}
            api_key_env: ONLY_KEY
        """,
    )
    write(repo / "manifests/acme.yaml", opportunity("acme", ACME_RENEWAL, "fields: {}"))
    ran = invoke(["whoami"], ONLY_KEY=PRODUCTION_KEY)
    assert ran.exit_code == 0, ran.output
    assert "environment: only (lfr.yaml:3, the only environment)" in ran.stderr


def test_an_environment_whose_key_variable_is_unset_is_refused_not_planned_on_demo_data(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    refused = invoke(["plan", "--env", "production"], LIGHTFIELD_SANDBOX_API_KEY=SANDBOX_KEY)
    assert refused.exit_code == 1
    assert "LIGHTFIELD_PRODUCTION_API_KEY is not set" in refused.stderr
    assert "local workspace" not in refused.stderr and not (repo / ".lfr").exists()
    local = invoke(["plan", "--env", "production", "--local"])
    assert local.exit_code == 0, local.output  # the demo workspace, on purpose
    assert "Target: local workspace" in local.stderr


def test_flags_and_lightfield_variables_win_over_the_file(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    config = repo / "lfr.yaml"
    config.write_text(config.read_text().replace(production, DEAD_URL))
    # The file's URL would fail; the variable, then the flag, point elsewhere, with their key.
    by_variable = invoke(
        ["whoami", "--env", "production"],
        LIGHTFIELD_BASE_URL=sandbox,
        LIGHTFIELD_API_KEY=FULL_KEY,
    )
    assert by_variable.exit_code == 0, by_variable.output
    assert f"Target: {sandbox} (key from $LIGHTFIELD_API_KEY)" in by_variable.stderr
    by_flag = invoke(
        ["whoami", "--env", "production", "--base-url", production, "--api-key", PRODUCTION_KEY],
        LIGHTFIELD_BASE_URL=sandbox,
    )
    assert by_flag.exit_code == 0, by_flag.output
    assert f"Target: {production} (key from --api-key)" in by_flag.stderr
    # A manifest directory given as the argument wins over the environment's.
    write(repo / "other/x.yaml", "apiVersion: lfr/v1\nkind: Nope\n")
    other = invoke(["validate", "--offline", "other", "--env", "production"])
    assert other.exit_code == 1
    assert "other/x.yaml:2: kind must be 'Opportunity'" in other.stderr


def test_the_rails_and_write_rate_come_from_the_file_and_a_flag_wins(
    repo: Path, sandbox: str
) -> None:
    write(
        repo / "lfr.yaml",
        f"""
        version: 1
        rails: {{max_changed_fraction: 0.0, min_records: 1}}
        write_rate: 5
        environments:
          sandbox: {{base_url: {sandbox}, api_key_env: SANDBOX}}
        """,
    )
    write(repo / "manifests/acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 1"))
    refused = invoke(["apply", "--auto-approve"], SANDBOX=FULL_KEY)
    assert refused.exit_code == 1
    assert "this plan changes 1 of 1 managed records (100%, over the 0% safety" in refused.stderr
    assert (
        api("GET", sandbox, f"/v1/opportunities/{ACME_RENEWAL}")["fields"]["$amount"]["value"]
        == 120000
    )
    applied = invoke(["apply", "--auto-approve", "--max-change", "1"], SANDBOX=FULL_KEY)
    assert applied.exit_code == 0, applied.output
    assert (
        api("GET", sandbox, f"/v1/opportunities/{ACME_RENEWAL}")["fields"]["$amount"]["value"] == 1
    )


def test_a_key_in_lfr_yaml_is_refused_and_never_shown(repo: Path, sandbox: str) -> None:
    secret = "sk_lf_live_7Hq2mZ9xVb4Rt1Lp"
    write(
        repo / "lfr.yaml",
        f"""
        version: 1
        environments:
          sandbox:
            base_url: {sandbox}
            api_key_env: {secret}
          production:
            api_key_env: LIGHTFIELD_PRODUCTION_API_KEY
            api_key: hunter2-not-a-lightfield-key
        write_rates: 5
        """,
    )
    for args in (["plan", "--env", "sandbox"], ["envs", "--json"], ["validate"]):
        refused = invoke(args, LIGHTFIELD_PRODUCTION_API_KEY=FULL_KEY)
        assert refused.exit_code == 1
        assert secret not in refused.output and "7Hq2mZ9x" not in refused.output
        assert "hunter2" not in refused.output
        assert "Target:" not in refused.stderr  # refused before anything could be sent
        assert (
            "lfr.yaml:5: environments.sandbox.api_key_env holds what looks like an API key "
            "(not shown)"
        ) in refused.stderr
        assert (
            "lfr.yaml:8: environments.production.api_key: lfr.yaml must not hold an API key or "
            "other secret (not shown)"
        ) in refused.stderr
        # The file's other problems are listed too, and nothing more about the two keys.
        assert "lfr.yaml:9: unknown key 'write_rates' (did you mean 'write_rate'?)" in (
            refused.stderr
        )
        assert "3 problems in 1 file" in refused.stderr


def test_every_problem_of_lfr_yaml_with_its_line_and_a_suggestion(repo: Path) -> None:
    write(
        repo / "lfr.yaml",
        """
        version: 2
        manifest:
          paths: [manifests]
        rails:
          max_changed_fraction: 3
          min_records: "ten"
        write_rate: 0
        environments:
          Sandbox:
            api_key_env: SANDBOX_KEY
          production:
            base_url: ftp://api.lightfield.app
            api_key_env: 9LIGHTFIELD
            bse_url: https://api.lightfield.app
        """,
    )
    refused = invoke(["validate", "--offline"])
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "lfr.yaml:1: version must be 1 (the only format of lfr.yaml)",
        "lfr.yaml:2: unknown key 'manifest' (did you mean 'manifests'?); allowed here: version, "
        "manifests, rails, write_rate, stamp, default_environment, environments, pipeline, "
        "policies",
        "lfr.yaml:5: rails.max_changed_fraction must be at most 1.0",
        "lfr.yaml:6: rails.min_records must be a whole number, not text",
        "lfr.yaml:7: write_rate must be greater than 0.0",
        "lfr.yaml:9: environment name 'Sandbox' must be lowercase letters, digits, '_' or '-', "
        "starting with a letter or digit (at most 63): it becomes part of CI job names",
        "lfr.yaml:12: environments.production.base_url must be an http(s) URL without "
        "credentials, query or fragment",
        "lfr.yaml:13: environments.production.api_key_env must be the NAME of an environment "
        "variable (letters, digits and '_', not starting with a digit), e.g. "
        "LIGHTFIELD_PRODUCTION_API_KEY",
        "lfr.yaml:14: unknown key 'environments.production.bse_url' (did you mean "
        "'base_url'?); allowed here: base_url, api_key_env, manifests",
        "9 problems in 1 file; nothing was sent.",
        "Error: lfr.yaml is not valid (9 problems); nothing was run",
    ]


def test_lfr_yaml_gets_the_manifests_hostile_yaml_rules(repo: Path) -> None:
    write(repo / "lfr.yaml", "version: 1\nbase: &a {x: 1}\nother: *a\nversion: 1\n")
    refused = invoke(["envs"])
    assert refused.exit_code == 1
    assert "lfr.yaml:2:" in refused.stderr and "anchor" in refused.stderr.lower()
    write(repo / "lfr.yaml", "version: 1\ndefault_environment: x\n")
    refused = invoke(["envs"])
    assert "lfr.yaml:2: default_environment 'x' is not an environment" in refused.stderr


def test_envs_json_is_one_line_for_a_github_actions_matrix(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    listed = invoke(["envs", "--json"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count("\n") == 1  # `echo "x=$(lfr envs --json)" >> $GITHUB_OUTPUT`
    assert json.loads(listed.stdout) == [
        {
            "name": "sandbox",
            "api_key_env": "LIGHTFIELD_SANDBOX_API_KEY",
            "base_url": sandbox,
            "manifests": ["manifests/sandbox"],
            "default": False,
        },
        {
            "name": "production",
            "api_key_env": "LIGHTFIELD_PRODUCTION_API_KEY",
            "base_url": production,
            "manifests": ["manifests/production"],
            "default": False,
        },
    ]
    table = invoke(["envs"], LFR_ENV="nonexistent")  # listing never chooses one
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0].split() == ["NAME", "BASE", "URL", "KEY", "VARIABLE",
                                                    "MANIFESTS"]  # fmt: skip
    assert table.stdout.splitlines()[1].split() == [
        "sandbox", sandbox, "LIGHTFIELD_SANDBOX_API_KEY", "manifests/sandbox"
    ]  # fmt: skip


def test_found_from_a_subdirectory_with_paths_relative_to_lfr_yaml(
    repo: Path, sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        repo / "lfr.yaml",
        f"""
        version: 1
        manifests: {{paths: [crm/opportunities]}}
        environments:
          sandbox: {{base_url: {sandbox}, api_key_env: SANDBOX}}
        """,
    )
    write(repo / "crm/opportunities/bad.yaml", "apiVersion: lfr/v1\nkind: Nope\n")
    (repo / "docs").mkdir()
    monkeypatch.chdir(repo / "docs")
    refused = invoke(["validate", "--offline"])
    assert refused.exit_code == 1
    assert "environment: sandbox (../lfr.yaml:4, the only environment)" in refused.stderr
    assert "../crm/opportunities/bad.yaml:2: kind must be 'Opportunity'" in refused.stderr


def test_ignore_globs_skip_non_manifest_yaml_in_the_tree(repo: Path) -> None:
    write(repo / "manifests/acme.yaml", opportunity("acme", ACME_RENEWAL, "fields: {}"))
    write(repo / "manifests/kustomization.yaml", "resources: [acme.yaml]\n")
    write(repo / "manifests/ci/values.yml", "replicas: 2\n")
    write(repo / "lfr.yaml", "version: 1\n")
    refused = invoke(["validate", "--offline"])
    assert refused.exit_code == 1  # without globs, they are manifests with problems
    assert "manifests/kustomization.yaml:1: missing required key 'apiVersion'" in refused.stderr
    write(
        repo / "lfr.yaml",
        """
        version: 1
        manifests:
          ignore: ["**/kustomization.yaml", "manifests/ci/*.yml"]
        """,
    )
    valid = invoke(["validate", "--offline"])
    assert valid.exit_code == 0, valid.output
    assert valid.stdout == "1 manifest valid.\n"
    assert valid.stderr == ""  # no environments: nothing to say


def test_without_lfr_yaml_nothing_changes_and_env_is_refused(
    repo: Path, tmp_path: Path, server: str
) -> None:
    # A stray lfr.yaml above the git repository is not the repository's: never read.
    write(tmp_path / "lfr.yaml", "version: 99\n")
    write(repo / "manifests/acme.yaml", opportunity("acme", ACME_RENEWAL, "fields: {}"))
    ran = invoke(["plan"], LIGHTFIELD_API_KEY=FULL_KEY, LIGHTFIELD_BASE_URL=server)
    assert ran.exit_code == 0, ran.output
    assert ran.stderr == f"Target: {server}\n"
    refused = invoke(["plan", "--env", "production"], LIGHTFIELD_API_KEY=FULL_KEY)
    assert refused.exit_code == 1
    assert "--env production asks for an environment, but no lfr.yaml was found" in refused.stderr
    assert invoke(["envs"]).exit_code == 1
    # --config / $LFR_CONFIG name a file anywhere; a missing one is an error, not "no file".
    given = invoke(["envs", "--json"], LFR_CONFIG=str(tmp_path / "lfr.yaml"))
    assert given.exit_code == 1 and "version must be 1" in given.stderr
    missing = invoke(["plan", "--config", "nowhere.yaml"], LIGHTFIELD_API_KEY=FULL_KEY)
    assert missing.exit_code == 1
    assert "nowhere.yaml: cannot be read: No such file or directory" in missing.stderr


def test_validate_offline_checks_every_environment_for_a_pre_commit_hook(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    write(repo / "manifests/sandbox/bad.yaml", "apiVersion: lfr/v1\nkind: Nope\n")
    checked = invoke(["validate", "--offline"])  # no key, no --env: nothing needs a target
    assert checked.exit_code == 1
    assert checked.stderr.splitlines()[:3] == [
        "environments: sandbox, production (lfr.yaml; --offline checks each)",
        "manifests/sandbox/bad.yaml:1: missing required key 'metadata'",
        "manifests/sandbox/bad.yaml:2: kind must be 'Opportunity' or 'OpportunitySet', not 'Nope'",
    ]
    (repo / "manifests/sandbox/bad.yaml").unlink()
    valid = invoke(["validate", "--offline"])
    assert valid.exit_code == 0, valid.output
    assert valid.stdout == "3 manifests valid.\n"  # sandbox's one and production's two


def test_validate_offline_takes_a_target_any_environment_matches(
    repo: Path, sandbox: str, production: str
) -> None:
    """initech is production's only: not a problem of sandbox's, which has no such manifest."""
    two_environments(repo, sandbox, production)
    chosen = invoke(["validate", "--offline", "--target", "initech"])
    assert chosen.exit_code == 0, chosen.output
    assert chosen.stdout == "1 manifest valid.\n"
    nowhere = invoke(["validate", "--offline", "--target", "globex*"])
    assert nowhere.exit_code == 1
    assert "--target 'globex*' matches no manifest's metadata.name" in nowhere.stderr
    assert nowhere.stderr.count("matches no manifest") == 1  # once, naming both folders
    assert "manifests/sandbox, manifests/production" in nowhere.stderr


def test_lfr_yaml_among_the_manifests_is_not_read_as_one(repo: Path) -> None:
    write(repo / "lfr.yaml", "version: 1\nmanifests: {paths: [.]}\n")
    write(repo / "acme.yaml", opportunity("acme", ACME_RENEWAL, "fields: {}"))
    valid = invoke(["validate", "--offline"])
    assert valid.exit_code == 0, valid.output
    assert valid.stdout == "1 manifest valid.\n"


def test_export_writes_into_the_environments_manifests_and_plan_is_then_empty(
    repo: Path, sandbox: str, production: str
) -> None:
    two_environments(repo, sandbox, production)
    for manifest in (repo / "manifests").rglob("*.yaml"):
        manifest.unlink()
    exported = invoke(["export", "--id", INITECH, "--env", "production"], **KEYS)
    assert exported.exit_code == 0, exported.output
    (written,) = (repo / "manifests").rglob("*.yaml")
    assert written.parent == repo / "manifests/production"  # the environment's manifests
    assert exported.stdout.startswith(f"created   manifests/production/{written.name}")
    planned = invoke(["plan", "--env", "production", "--detailed-exitcode"], **KEYS)
    assert planned.exit_code == 0, planned.output
