"""The adoption path of README "GitOps in 5 minutes", walked as a user walks it.

lfr is installed from its built wheel into a fresh virtualenv outside the source tree
(conftest.installed); `lfr init` scaffolds a new git repository; then every step of the
generated workflows that runs lfr is executed exactly as written (its `run:` script under bash
-eo pipefail, with the job's and step's env, `${{ }}` filled in as the runner would) against
two served emulators, the sandbox and production orgs of lfr.yaml. The environments matrix is
what the generated `lfr envs --json` step wrote to $GITHUB_OUTPUT, read back as fromJSON would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from reconciler.emulator import Emulator
from tests.support.demo import ACME_RENEWAL, FULL_KEY
from tests.support.fake_github import expand

from .conftest import REPO, clean_env, run

ACTION = "acme/lfr@" + "ab" * 20
# The repository secrets the user sets, one per environment (README).
SECRETS = {"LIGHTFIELD_SANDBOX_API_KEY": FULL_KEY, "LIGHTFIELD_PRODUCTION_API_KEY": FULL_KEY}
PR_NUMBER = "7"

Orgs = dict[str, tuple[Emulator, str]]


def workflow(repo: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(
        (repo / ".github" / "workflows" / name).read_text()
    )
    return data


def step(repo: Path, name: str, job: str, title: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = workflow(repo, name)["jobs"][job]
    (found,) = [s for s in spec["steps"] if s.get("name") == title]
    return spec, found


class Runner:
    """Runs a generated workflow's steps, each job in its own checkout (a copy of the repo)."""

    def __init__(self, repo: Path, bin_dir: Path, work: Path) -> None:
        self.repo, self.bin_dir, self.work = repo, bin_dir, work
        self.checkouts = 0

    def checkout(self) -> Path:
        self.checkouts += 1
        target = self.work / f"checkout-{self.checkouts}"
        shutil.copytree(self.repo, target)
        return target

    def run(
        self,
        where: Path,
        workflow_name: str,
        job: str,
        title: str,
        values: dict[str, str],
        **extra_env: str,
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
        spec, found = step(self.repo, workflow_name, job, title)
        assert "${{" not in found["run"]
        output, summary = where / ".github-output", where / ".step-summary"
        output.write_text("")
        runner_temp = where / ".runner-temp"
        runner_temp.mkdir(exist_ok=True)
        env = clean_env(
            self.bin_dir,
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(summary),
            RUNNER_TEMP=str(runner_temp),
            **extra_env,
        )
        for variables in (spec.get("env", {}), found.get("env", {})):
            env.update({key: expand(str(value), values) for key, value in variables.items()})
        assert runs_when(found.get("if"), env), f"{title} would be skipped"
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", found["run"]],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
        return result, outputs

    def environments(self, workflow_name: str) -> list[dict[str, str]]:
        """The matrix: the environments job's `lfr envs --json` step, as fromJSON reads it."""
        result, outputs = self.run(
            self.checkout(), workflow_name, "environments", "List the environments", {}
        )
        assert result.returncode == 0, result.stderr
        matrix: list[dict[str, str]] = json.loads(outputs["environments"])
        return matrix


def runs_when(condition: str | None, env: dict[str, str]) -> bool:
    """The `if:` forms the generated workflows use on steps that run lfr."""
    if condition is None or condition == "always()":
        return True
    match = re.fullmatch(r"env\.(\w+) == '(\w+)'", condition)
    assert match, f"unknown condition {condition!r}"
    return env.get(match.group(1)) == match.group(2)


def matrix_values(environment: dict[str, str]) -> dict[str, str]:
    return {
        "matrix.environment.name": environment["name"],
        "secrets[matrix.environment.api_key_env]": SECRETS[environment["api_key_env"]],
        "github.event.pull_request.head.repo.full_name != github.repository": "false",
        "github.event.pull_request.number": PR_NUMBER,
        "toJSON(github.event.pull_request.labels.*.name)": '["documentation"]',
        "steps.labels.outputs.labels": "[]",
    }


def writes(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["method"] != "GET"]


@pytest.fixture
def repo(tmp_path: Path, installed: Path, orgs: Orgs) -> Path:
    """A new git repository after `lfr init`, lfr.yaml's two environments pointed at the two
    emulators (as a user puts in their orgs' URLs), committed."""
    repo = tmp_path / "crm"
    repo.mkdir()
    run(["git", "init", "--quiet", "--initial-branch", "main"], cwd=repo)
    result = run([str(installed / "lfr"), "init", "--action", ACTION], cwd=repo)
    assert f"lfr 0.1.0 initialised . (workflows pin {ACTION}).\n" in result.stdout
    settings = repo / "lfr.yaml"
    text = settings.read_text()
    for name, (_, url) in orgs.items():
        text = re.sub(
            rf"(  {name}:\n    base_url: )https://api\.lightfield\.app", rf"\g<1>{url}", text
        )
    settings.write_text(text)
    run(["git", "add", "--all"], cwd=repo)
    run(["git", "commit", "--quiet", "--message", "lfr init"], cwd=repo)
    return repo


# Every step of the generated workflows that runs lfr, each run by the tests below.
COVERED = {
    ("lfr-plan.yml", "plan", "Validate manifests (annotations at file:line)"),
    ("lfr-plan.yml", "environments", "List the environments"),
    ("lfr-plan.yml", "plan", "Plan"),
    ("lfr-apply.yml", "environments", "List the environments"),
    ("lfr-apply.yml", "apply", "Apply"),
    ("lfr-drift.yml", "environments", "List the environments"),
    ("lfr-drift.yml", "drift", "Drift"),
}


def test_every_lfr_step_of_the_generated_workflows_is_run_here(repo: Path) -> None:
    found = {
        (path.name, job_name, step.get("name"))
        for path in (repo / ".github" / "workflows").glob("*.yml")
        for job_name, job in workflow(repo, path.name)["jobs"].items()
        for step in job["steps"]
        if re.search(r"(^|[\s;&|(])lfr\s", step.get("run", ""))
    }
    assert found == COVERED


def test_lfr_runs_from_the_installed_wheel_not_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    where = run(
        [str(installed / "python"), "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=tmp_path,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)
    assert run([str(installed / "lfr"), "--version"], cwd=tmp_path).stdout == "lfr 0.1.0\n"
    assert (
        "Usage: lfr [OPTIONS] COMMAND" in run([str(installed / "lfr"), "-h"], cwd=tmp_path).stdout
    )
    completion = run([str(installed / "lfr"), "--show-completion", "bash"], cwd=tmp_path).stdout
    assert "_LFR_COMPLETE=complete_bash" in completion
    # The default install has no HTTP server: the one command that needs it says how to add it.
    serve = subprocess.run(
        [str(installed / "lfr"), "emulator", "serve"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 1
    assert 'pip install "lightfield-reconciler[emulator]"' in serve.stderr
    # ... while the embedded workspace works out of the box: `lfr plan --local` right after
    # `lfr init` (lfr.yaml's default environment wants its key; --local says "the demo").
    local = tmp_path / "local"
    run([str(installed / "lfr"), "init", "--action", ACTION, str(local)], cwd=tmp_path)
    plan = run([str(installed / "lfr"), "plan", "--local"], cwd=local)
    assert "Target: local workspace" in plan.stderr
    assert "~ $amount: 120,000 → 135,000" in plan.stdout


def test_the_generated_workflows_plan_apply_and_detect_drift(
    repo: Path, installed: Path, orgs: Orgs, tmp_path: Path
) -> None:
    runner = Runner(repo, installed, tmp_path)

    # --- pull request: lfr-plan.yml ---
    matrix = runner.environments("lfr-plan.yml")
    assert [(e["name"], e["api_key_env"]) for e in matrix] == [
        ("sandbox", "LIGHTFIELD_SANDBOX_API_KEY"),
        ("production", "LIGHTFIELD_PRODUCTION_API_KEY"),
    ]
    artifacts = tmp_path / "plans"
    for environment in matrix:
        where = runner.checkout()
        values = matrix_values(environment)
        validated, _ = runner.run(
            where, "lfr-plan.yml", "plan", "Validate manifests (annotations at file:line)", values
        )
        assert validated.returncode == 0, validated.stderr
        assert validated.stdout == "1 manifest valid.\n"
        planned, _ = runner.run(where, "lfr-plan.yml", "plan", "Plan", values)
        assert planned.returncode == 0, planned.stderr
        assert f"Target: {orgs[environment['name']][1]}" in planned.stderr
        markdown = (where / "plan.md").read_text()
        assert markdown.startswith(f"<!-- lfr-plan -->\n### lfr plan: {environment['name']}\n")
        assert "**Plan: 0 to create, 1 to update, 0 unchanged.**" in markdown
        saved = json.loads((where / "plan.json").read_text())
        assert saved["format_version"] == 1
        assert [(r["action"], r["id"]) for r in saved["records"]] == [("update", ACME_RENEWAL)]
        (artifacts / f"lfr-plan-{environment['name']}").mkdir(parents=True)
        shutil.copy(where / "plan.md", artifacts / f"lfr-plan-{environment['name']}" / "plan.md")
    assert all(writes(emu) == [] for emu, _ in orgs.values())  # a plan never writes

    # The collect job joins the environments' plans into the one artifact the comment posts.
    where = runner.checkout()
    shutil.copytree(artifacts, where / "plans")
    collected, _ = runner.run(
        where,
        "lfr-plan.yml",
        "collect",
        "One plan document for the pull request comment",
        {"github.event.pull_request.number": PR_NUMBER},
    )
    assert collected.returncode == 0, collected.stderr
    comment = (where / "lfr-plan" / "plan.md").read_text()
    assert comment.index("### lfr plan: production") < comment.index("### lfr plan: sandbox")
    assert (where / "lfr-plan" / "pr-number").read_text() == f"{PR_NUMBER}\n"

    # --- merge: lfr-apply.yml, one job per environment ---
    for environment in runner.environments("lfr-apply.yml"):
        where = runner.checkout()
        applied, _ = runner.run(
            where, "lfr-apply.yml", "apply", "Apply", matrix_values(environment)
        )
        assert applied.returncode == 0, applied.stderr
        report = (where / "apply.md").read_text()
        assert f"### lfr apply: {environment['name']}\n\n**Apply: 1 applied.**" in report
        emu = orgs[environment["name"]][0]
        # The apply, then its provenance note (the workflow stamps: --stamp).
        assert [(w["method"], w["path"]) for w in writes(emu)] == [
            ("POST", f"/v1/opportunities/{ACME_RENEWAL}"),
            ("POST", "/v1/notes"),
        ]

    # --- nightly: lfr-drift.yml, in sync, then a hand edit in production ---
    matrix = runner.environments("lfr-drift.yml")

    def drift(environment: dict[str, str]) -> tuple[Path, str]:
        where = runner.checkout()
        result, _ = runner.run(where, "lfr-drift.yml", "drift", "Drift", matrix_values(environment))
        assert result.returncode == 0, result.stderr  # drift is reported, not a failed run
        return where, (where / "drift-exit").read_text().strip()

    assert [drift(environment)[1] for environment in matrix] == ["0", "0"]
    _, url = orgs["production"]
    httpx.post(
        f"{url}/v1/opportunities/{ACME_RENEWAL}",
        json={"fields": {"$amount": 1}},
        headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
    ).raise_for_status()
    reports = tmp_path / "reports"
    for environment in matrix:
        where, code = drift(environment)
        assert code == {"sandbox": "0", "production": "2"}[environment["name"]]
        shutil.copytree(
            where,
            reports / f"lfr-drift-{environment['name']}",
            ignore=lambda d, names: [n for n in names if n not in ("drift.md", "drift-exit")],
        )
    assert (
        "| `$amount` | 135,000 | 1 |" in (reports / "lfr-drift-production" / "drift.md").read_text()
    )

    # The issue job reports the environments that drifted, and only those.
    where = runner.checkout()
    combined, outputs = runner.run(
        where,
        "lfr-drift.yml",
        "issue",
        "One report for every environment",
        {"runner.temp": str(tmp_path), "needs.drift.result == 'success'": "true"},
    )
    assert combined.returncode == 0, combined.stderr
    assert outputs == {"exit": "2"}
    issue = (where / "drift.md").read_text()
    assert "### lfr drift: production" in issue
    assert "sandbox" not in issue


def test_init_from_org_exports_so_the_first_plan_is_empty(
    installed: Path, orgs: Orgs, tmp_path: Path
) -> None:
    _, url = orgs["sandbox"]
    repo = tmp_path / "crm"
    repo.mkdir()
    lfr = str(installed / "lfr")
    keyless = subprocess.run(
        [lfr, "init", "--from-org", "--action", ACTION],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert keyless.returncode == 1
    assert "--from-org needs a key" in keyless.stderr
    assert list(repo.iterdir()) == []  # nothing written

    target = clean_env(LIGHTFIELD_API_KEY=FULL_KEY, LIGHTFIELD_BASE_URL=url)
    result = run([lfr, "init", "--from-org", "--action", ACTION], cwd=repo, env=target)
    assert "Exported 17 records into manifests." in result.stdout
    assert not (repo / "manifests" / "example.yaml").exists()
    first = (repo / "manifests" / "acme-renewal-2027.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/manifest.schema.json"
    plan = run([lfr, "plan", "--detailed-exitcode"], cwd=repo, env=target)
    assert "Plan: 0 to create, 0 to update, 17 unchanged." in plan.stdout


def test_the_action_runs_one_command_in_an_environment(
    repo: Path, installed: Path, orgs: Orgs, tmp_path: Path
) -> None:
    """action.yml's command mode, as `with: {command: ..., args: ..., environment: production}`
    runs it: its script as written, on the lfr its install step put in $RUNNER_TEMP."""
    action = YAML(typ="safe").load((REPO / "action.yml").read_text())
    (script,) = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    assert script["shell"] == "bash"
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    (runner_temp / "lfr-venv").symlink_to(installed.parent)
    production, url = orgs["production"]

    def act(command: str, args: str) -> tuple[int, str]:
        inputs = {
            "inputs.command": command,
            "inputs.args": args,
            "inputs.environment": "production",
        }
        output = tmp_path / "github-output"
        output.write_text("")
        env = clean_env(
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_OUTPUT=str(output),
            RUNNER_TEMP=str(runner_temp),
            LIGHTFIELD_API_KEY=FULL_KEY,  # the secret the calling step maps into env:
        )
        env.update({k: expand(str(v), inputs) for k, v in script["env"].items()})
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script["run"]],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "environment: production (lfr.yaml:31, --env)" in result.stderr
        assert f"Target: {url}" in result.stderr
        return result.returncode, output.read_text()

    drift = "--format markdown  --report drift.md"  # split on whitespace, however much
    assert act("drift", drift) == (2, "exitcode=2\n")  # the example is not applied yet
    assert act("apply", "--auto-approve") == (0, "exitcode=0\n")
    assert act("drift", drift) == (0, "exitcode=0\n")
    httpx.post(
        f"{url}/v1/opportunities/{ACME_RENEWAL}",
        json={"fields": {"$nextSteps": "Changed by hand"}},
        headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
    ).raise_for_status()
    assert act("drift", drift) == (2, "exitcode=2\n")  # the step fails on drift, as lfr does
    assert "Changed by hand" in (repo / "drift.md").read_text()
    assert writes(orgs["sandbox"][0]) == []  # production only
    assert len(writes(production)) == 2  # the apply, and the hand edit


def test_bad_manifests_and_a_bad_lfr_yaml_fail_their_steps_with_annotations(
    repo: Path, installed: Path, tmp_path: Path
) -> None:
    runner = Runner(repo, installed, tmp_path)
    sandbox = {"name": "sandbox", "api_key_env": "LIGHTFIELD_SANDBOX_API_KEY"}

    where = runner.checkout()
    example = where / "manifests" / "example.yaml"
    example.write_text(
        example.read_text().replace("$amount: 135000", "$amount: 135000\n    $amount: 1")
    )
    step = "Validate manifests (annotations at file:line)"
    invalid, _ = runner.run(where, "lfr-plan.yml", "plan", step, matrix_values(sandbox))
    assert invalid.returncode == 1
    assert "::error file=manifests/example.yaml,line=" in invalid.stdout
    assert "duplicate key '$amount'" in invalid.stdout

    # A key in lfr.yaml stops the run before any environment's job, without showing the key.
    where = runner.checkout()
    settings = where / "lfr.yaml"
    settings.write_text(
        settings.read_text().replace(
            "    api_key_env: LIGHTFIELD_SANDBOX_API_KEY",
            "    api_key_env: LIGHTFIELD_SANDBOX_API_KEY\n    api_key: sk_lf_pasted_by_mistake",
        )
    )
    listed, outputs = runner.run(where, "lfr-plan.yml", "environments", "List the environments", {})
    assert listed.returncode == 1
    assert outputs == {}  # no matrix: no job runs
    assert "::error file=lfr.yaml,line=" in listed.stdout
    assert "sk_lf_pasted_by_mistake" not in listed.stdout + listed.stderr
