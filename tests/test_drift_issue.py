"""drift.yml's issue step, run exactly as written (its `run:` in bash, its `env:` filled in) in a
checkout-like directory against a fake GitHub REST API on loopback (tests/support/fake_github.py).

The step edits and closes only the open lfr-drift issues its bot opened: an issue anyone else
wrote keeps its body and stays open, whatever its label."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.fake_github import BOT, TOKEN, FakeGitHub, expand, serving

REPO = Path(__file__).resolve().parents[1]
STEP = "Open, update or close the drift issue"
REPORT = "<!-- lfr-drift -->\n### lfr drift\n\n**1 of 4 managed records drifted.**\n"
MALLORY = {"login": "mallory", "type": "User"}


def drift_step() -> dict[str, Any]:
    data = YAML(typ="safe").load((REPO / ".github" / "workflows" / "drift.yml").read_text())
    (step,) = [s for s in data["jobs"]["drift"]["steps"] if s.get("name") == STEP]
    return step  # type: ignore[no-any-return]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with serving(FakeGitHub(repo="acme/crm")) as fake:
        yield fake


def run_step(
    tmp_path: Path, github: FakeGitHub, exit_code: str, report: str = REPORT
) -> subprocess.CompletedProcess[str]:
    shutil.copytree(
        REPO / ".github" / "scripts", tmp_path / ".github" / "scripts", dirs_exist_ok=True
    )
    (tmp_path / "drift.md").write_text(report, encoding="utf-8")
    step = drift_step()
    values = {"github.token": TOKEN, "steps.drift.outputs.exit": exit_code}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI"))}
    env |= {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/crm", "GITHUB_API_URL": github.url}
    env |= {k: expand(str(v), values) for k, v in step["env"].items()}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_drift_opens_one_labelled_issue_then_updates_it(tmp_path: Path, github: FakeGitHub) -> None:
    first = run_step(tmp_path, github, "2")
    assert first.returncode == 0, first.stdout + first.stderr
    (issue,) = github.issues
    assert (issue["user"], issue["body"], issue["labels"]) == (BOT, REPORT, [{"name": "lfr-drift"}])
    assert github.labels == {"lfr-drift"}

    second = run_step(tmp_path, github, "2", REPORT.replace("1 of 4", "2 of 4"))
    assert second.returncode == 0, second.stdout + second.stderr  # the label exists: 422, fine
    (issue,) = github.issues
    assert "2 of 4" in issue["body"]


def test_only_the_bots_issue_is_updated(tmp_path: Path, github: FakeGitHub) -> None:
    theirs = github.issue(MALLORY, ["lfr-drift"], title="drift?", body="please keep")
    pr = github.issue(BOT, ["lfr-drift"], title="a pull request", body="pr", pull_request={})
    ours = github.issue(BOT, ["lfr-drift"], title="CRM drift", body="old")
    result = run_step(tmp_path, github, "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(r.method, r.path) for r in github.writes()] == [
        ("PATCH", f"/repos/acme/crm/issues/{ours}")
    ]
    bodies = {issue["number"]: issue["body"] for issue in github.issues}
    assert bodies == {theirs: "please keep", pr: "pr", ours: REPORT}


def test_someone_elses_labelled_issue_gets_a_new_bot_issue_beside_it(
    tmp_path: Path, github: FakeGitHub
) -> None:
    theirs = github.issue(MALLORY, ["lfr-drift"], title="drift?", body="please keep")
    result = run_step(tmp_path, github, "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert github.issues[0]["body"] == "please keep"
    assert [(i["number"] == theirs, i["user"]) for i in github.issues] == [
        (True, MALLORY),
        (False, BOT),
    ]


def test_no_drift_closes_only_the_bots_issues(tmp_path: Path, github: FakeGitHub) -> None:
    theirs = github.issue(MALLORY, ["lfr-drift"], title="drift?", body="please keep")
    ours = github.issue(BOT, ["lfr-drift"], title="CRM drift", body="old")
    result = run_step(tmp_path, github, "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(r.method, r.path) for r in github.writes()] == [
        ("POST", f"/repos/acme/crm/issues/{ours}/comments"),
        ("PATCH", f"/repos/acme/crm/issues/{ours}"),
    ]
    assert {i["number"]: i["state"] for i in github.issues} == {theirs: "open", ours: "closed"}
    assert github.comments[ours][0]["body"].startswith("No drift any more (")


def test_a_huge_report_is_cut_to_fit_one_issue(tmp_path: Path, github: FakeGitHub) -> None:
    result = run_step(tmp_path, github, "2", REPORT + "| `$amount` | 1 | 2 |\n" * 10_000)
    assert result.returncode == 0, result.stdout + result.stderr
    body = github.issues[0]["body"]
    assert len(body) <= 65536
    assert body.endswith(
        "*(The report is cut here: the full report is in the run's job summary.)*\n"
    )
