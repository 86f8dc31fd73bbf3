"""The GitHub workflows' own command lines, run against the emulator.

Every step of .github/workflows/*.yml that runs lfr is executed here exactly as written (bash
-eo pipefail, the step's env with secrets and event values filled in), with only the launcher
`python3 -m uv run lfr` pointed at this interpreter. So a workflow cannot drift away from what
the CLI accepts. The steps that talk to GitHub run checked-in scripts (.github/scripts), tested
against a fake GitHub API in tests/test_plan_comment.py and tests/test_drift_issue.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from reconciler.emulator import Emulator
from tests.support.demo import ACME_RENEWAL, FULL_KEY, READ_KEY
from tests.support.fake_github import TOKEN, FakeGitHub, expand, serving

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
LAUNCHER = "python3 -m uv run lfr"


def steps(workflow: str) -> dict[str, dict[str, Any]]:
    data = YAML(typ="safe").load((WORKFLOWS / workflow).read_text())
    (job,) = data["jobs"].values()
    return {step["name"]: step for step in job["steps"] if "name" in step}


class Runner:
    """Runs workflow steps in a checkout-like directory, like a GitHub runner would."""

    def __init__(self, workdir: Path, base_url: str) -> None:
        self.workdir = workdir
        self.base_url = base_url
        self.summary = workdir / "step-summary.md"
        self.output = workdir / "github-output"
        self.labels: list[str] = []  # the pull request's labels

    def run(self, step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        script = step["run"]
        assert LAUNCHER in script, f"step {step['name']!r} does not run lfr"
        self.output.write_text("")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LIGHTFIELD_", "CI"))},
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.output),
            "LIGHTFIELD_BASE_URL": self.base_url,
            "LFR": f"{sys.executable} -m reconciler.cli",
            "PYTHONPATH": str(REPO),
        }
        env.update({k: self.expand(str(v)) for k, v in step.get("env", {}).items()})
        return subprocess.run(
            [
                "bash",
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                script.replace(LAUNCHER, "$LFR"),
            ],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def expand(self, value: str) -> str:
        values = {
            "secrets.LIGHTFIELD_READ_KEY": READ_KEY,
            "secrets.LIGHTFIELD_WRITE_KEY": FULL_KEY,
            "github.event.pull_request.number": "42",
            "toJSON(github.event.pull_request.labels.*.name)": json.dumps(self.labels),
            "steps.labels.outputs.labels": json.dumps(self.labels),
        }
        return expand(value, values)

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines() if line)


@pytest.fixture
def runner(server: str, tmp_path: Path) -> Runner:
    import shutil

    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    return Runner(tmp_path, server)


def test_every_lfr_step_is_covered_here() -> None:
    """A new workflow step that runs lfr must be added to the tests below."""
    covered = {
        ("plan.yml", "Validate manifests (annotations at file:line)"),
        ("plan.yml", "Plan against Lightfield (read-only key)"),
        ("plan.yml", "Plan against the local workspace (fork, no secrets)"),
        ("apply.yml", "Apply"),
        ("drift.yml", "Drift"),
    }
    found = {
        (path.name, name)
        for path in WORKFLOWS.glob("*.yml")
        for name, step in steps(path.name).items()
        if LAUNCHER in str(step.get("run", ""))
    }
    assert found == covered


def test_every_github_script_step_is_covered() -> None:
    """The steps that talk to GitHub run checked-in scripts, each tested against a fake GitHub
    API: tests/test_plan_comment.py and tests/test_drift_issue.py."""
    found = {
        (path.name, name)
        for path in WORKFLOWS.glob("*.yml")
        for name, step in steps(path.name).items()
        if re.search(
            r"\bgh\b|\bnode\b|github-script", f"{step.get('run', '')} {step.get('uses', '')}"
        )
    }
    assert found == {
        ("plan-comment.yml", "Post or update the plan comment"),
        ("drift.yml", "Open, update or close the drift issue"),
    }


def test_no_workflow_interpolates_expressions_into_a_script() -> None:
    """Event, artifact and step values reach scripts through env:, never ${{ }} in run:."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job, spec in YAML(typ="safe").load(path.read_text())["jobs"].items():
            for step in spec["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, job, step.get("name"))


def test_pull_request_plan_steps(runner: Runner, emu: Emulator) -> None:
    plan = steps("plan.yml")
    validated = runner.run(plan["Validate manifests (annotations at file:line)"])
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout == "4 manifests valid.\n"

    remote = runner.run(plan["Plan against Lightfield (read-only key)"])
    assert remote.returncode == 0, remote.stderr
    markdown = (runner.workdir / "plan.md").read_text()
    assert markdown.startswith("<!-- lfr-plan -->\n### lfr plan\n")
    assert "**Plan: 1 to create, 2 to update, 1 unchanged.**" in markdown
    assert (runner.workdir / "plan.json").read_text().startswith('{\n  "format_version": 1')
    assert [r for r in emu.requests() if r["method"] != "GET"] == []  # a plan never writes

    fork = runner.run(plan["Plan against the local workspace (fork, no secrets)"])
    assert fork.returncode == 0, fork.stderr
    local = (runner.workdir / "plan.md").read_text()
    assert "### lfr plan (local workspace: pull requests from forks get no secrets" in local
    assert (runner.workdir / ".lfr" / "workspace.sqlite3").exists()


# Labels are hostile: names that try to reach the shell, another flag, or a rule by a prefix.
HOSTILE_LABELS = [
    "lfr-allow:$(touch pwned)",
    'lfr-allow:close-date-in-past" --force "',
    "lfr-allow:close-date-in-past\nlfr-allow:reopen-closed",
    "lfr-allow:close-date",
    "lfr-allow:`touch pwned`",
]


def test_plan_step_maps_only_known_lfr_allow_labels_to_allow(runner: Runner) -> None:
    (runner.workdir / "lfr.yaml").write_text(
        "version: 1\npolicies:\n  - {rule: close-date-in-past, severity: error}\n"
    )
    acme = runner.workdir / "manifests" / "acme" / "acme-renewal-2027.yaml"
    acme.write_text(acme.read_text().replace("$closeDate: 2027-03-31", "$closeDate: 2020-01-31"))
    step = steps("plan.yml")["Plan against Lightfield (read-only key)"]
    runner.labels = HOSTILE_LABELS
    refused = runner.run(step)
    assert refused.returncode == 1
    assert "the plan breaks 1 error-level policy of lfr.yaml (close-date-in-past)" in (
        refused.stderr
    )
    assert "| ❌ error | `close-date-in-past` |" in (runner.workdir / "plan.md").read_text()
    assert not (runner.workdir / "pwned").exists()
    runner.labels = ["bug", "lfr-allow:close-date-in-past"]
    allowed = runner.run(step)
    assert allowed.returncode == 0, allowed.stderr
    assert "| ✅ allowed | `close-date-in-past` |" in (runner.workdir / "plan.md").read_text()


def test_the_workflows_know_every_rule() -> None:
    """The label loop of the plan workflows names exactly lfr's rules (a new rule gets a label)."""
    from reconciler.core.policy_settings import RULES

    templates = REPO / "reconciler" / "templates" / "github" / "workflows"
    for path in (
        WORKFLOWS / "plan.yml",
        WORKFLOWS / "apply.yml",
        templates / "lfr-plan.yml",
        templates / "lfr-apply.yml",
    ):
        loop = re.search(r"for rule in ([a-z -]+); do", path.read_text())
        assert loop is not None, path
        assert tuple(loop.group(1).split()) == RULES, path


def test_apply_reads_the_merged_pull_requests_labels_and_allows_only_known_rules(
    runner: Runner, emu: Emulator, tmp_path: Path
) -> None:
    sha = "c" * 40
    github = FakeGitHub(repo="acme/crm")
    labels = [*HOSTILE_LABELS, "lfr-allow:close-date-in-past"]
    github.pulls.append(
        {
            "number": 7,
            "state": "closed",
            "merged_at": "2026-12-01T00:00:00Z",
            "merge_commit_sha": sha,
            "labels": [{"name": name} for name in labels],
        }
    )
    # Another merged pull request that contains the commit but did not merge it (into another
    # branch, say): its labels were never reviewed for this apply.
    github.pulls.append(
        {
            "number": 8,
            "state": "closed",
            "merged_at": "2026-12-02T00:00:00Z",
            "merge_commit_sha": "d" * 40,
            "labels": [{"name": "lfr-allow:amount-change"}],
        }
    )
    step = steps("apply.yml")["Overrides from the merged pull request's labels"]
    assert step["env"] == {"GH_TOKEN": "${{ github.token }}"}
    output = tmp_path / "labels-output"
    with serving(github) as fake:
        answered = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            env={
                "PATH": os.environ["PATH"],
                "GH_TOKEN": TOKEN,
                "GITHUB_API_URL": fake.url,
                "GITHUB_REPOSITORY": "acme/crm",
                "GITHUB_SHA": sha,
                "GITHUB_OUTPUT": str(output),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert answered.returncode == 0, answered.stderr
    (line,) = output.read_text().splitlines()  # one line, whatever the labels hold
    name, value = line.split("=", 1)
    assert (name, json.loads(value)) == ("labels", labels)

    (runner.workdir / "lfr.yaml").write_text(
        "version: 1\npolicies:\n  - {rule: close-date-in-past, severity: error}\n"
    )
    acme = runner.workdir / "manifests" / "acme" / "acme-renewal-2027.yaml"
    acme.write_text(acme.read_text().replace("$closeDate: 2027-03-31", "$closeDate: 2020-01-31"))
    runner.labels = HOSTILE_LABELS  # no known label: refused, nothing written
    refused = runner.run(steps("apply.yml")["Apply"])
    assert refused.returncode == 1
    assert [r for r in emu.requests() if r["method"] == "POST"] == []
    assert not (runner.workdir / "pwned").exists()
    runner.labels = json.loads(value)
    applied = runner.run(steps("apply.yml")["Apply"])
    assert applied.returncode == 0, applied.stderr
    posts = [r["path"] for r in emu.requests() if r["method"] == "POST"]
    assert len([p for p in posts if p.startswith("/v1/opportunities")]) == 3


def test_invalid_manifests_fail_validation_with_annotations(runner: Runner) -> None:
    broken = runner.workdir / "manifests" / "acme" / "acme-renewal-2027.yaml"
    broken.write_text(
        broken.read_text().replace("$amount: 135000", "$amount: 135000\n    $amount: 1")
    )
    result = runner.run(steps("plan.yml")["Validate manifests (annotations at file:line)"])
    assert result.returncode == 1
    assert "::error file=manifests/acme/acme-renewal-2027.yaml,line=" in result.stdout
    assert "duplicate key '$amount'" in result.stdout


def test_apply_then_drift_steps(runner: Runner, emu: Emulator, server: str) -> None:
    base_url = server
    applied = runner.run(steps("apply.yml")["Apply"])
    assert applied.returncode == 0, applied.stderr
    report = (runner.workdir / "apply.md").read_text()
    assert report.startswith("<!-- lfr-apply -->\n### lfr apply\n\n**Apply: 3 applied.**")
    posts = [r["path"] for r in emu.requests() if r["method"] == "POST"]
    # The workflow stamps (--stamp): one provenance note per record it changed.
    assert len([p for p in posts if p.startswith("/v1/opportunities")]) == 3
    assert len([p for p in posts if p == "/v1/notes"]) == 3
    assert "Notes: 3 written." in applied.stderr

    drift = steps("drift.yml")["Drift"]
    clean = runner.run(drift)
    assert clean.returncode == 0, clean.stderr
    assert runner.outputs() == {"exit": "0"}
    assert "No drift" in runner.summary.read_text()

    httpx.post(
        f"{base_url}/v1/opportunities/{ACME_RENEWAL}",
        json={"fields": {"$amount": 1}},
        headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
    ).raise_for_status()
    drifted = runner.run(drift)
    assert drifted.returncode == 0, drifted.stderr  # drift is reported, not a failed run
    assert runner.outputs() == {"exit": "2"}
    assert "| `$amount` | 135,000 | 1 |" in (runner.workdir / "drift.md").read_text()


def test_drift_step_fails_the_run_on_error(runner: Runner) -> None:
    runner.base_url = "http://127.0.0.1:9"  # nothing listens there
    result = runner.run(steps("drift.yml")["Drift"])
    assert result.returncode != 0
    assert runner.outputs() == {"exit": "1"}
