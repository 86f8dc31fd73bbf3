"""plan-comment.yml's comment step, run exactly as written (its `run:` in bash, its `env:` filled
in) against a fake GitHub REST API on loopback (tests/support/fake_github.py), with the artifact
and the pull request made hostile: the artifact is whatever the pull request's own plan.yml wrote,
and a fork's pull request runs the fork's plan.yml.

Each test asserts which pull request is commented, which comment is written, and, for forks,
that the fork's text renders as nothing but plain text (parsed with a CommonMark parser)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from ruamel.yaml import YAML

from tests.support.fake_github import BOT, TOKEN, FakeGitHub, expand, serving

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "plan-comment.yml"
MARKER = "<!-- lfr-plan -->"
BASE = {"id": 100, "full_name": "acme/crm", "owner": {"login": "acme"}}
FORK = {"id": 200, "full_name": "mallory/crm", "owner": {"login": "mallory"}}
OTHER_FORK = {"id": 300, "full_name": "alice/crm", "owner": {"login": "alice"}}
SHA = "a" * 40
OTHER_SHA = "b" * 40
RUN_ID = 555
PLAN = f"{MARKER}\n### lfr plan\n\n**Plan: 1 to create, 2 to update, 1 unchanged.**\n"
FOOTER = f"\n<sub>[Full plan, log and artifact](https://github.com/acme/crm/actions/runs/{RUN_ID})</sub>\n"


def job() -> dict[str, Any]:
    data = YAML(typ="safe").load(WORKFLOW.read_text())
    return data["jobs"]["comment"]  # type: ignore[no-any-return]


def comment_step() -> dict[str, Any]:
    steps: list[dict[str, Any]] = job()["steps"]
    (step,) = [s for s in steps if s.get("name") == "Post or update the plan comment"]
    return step


def pull(number: int, head: dict[str, Any], sha: str, ref: str = "patch") -> dict[str, Any]:
    return {
        "number": number,
        "state": "open",
        "head": {"ref": ref, "sha": sha, "label": f"{head['owner']['login']}:{ref}", "repo": head},
        "base": {"ref": "main", "repo": BASE},
    }


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with serving(FakeGitHub(repo="acme/crm")) as fake:
        yield fake


class Run:
    """One finished plan.yml run: the event plan-comment.yml gets, and the artifact it left."""

    def __init__(self, tmp: Path, github: FakeGitHub, head: dict[str, Any], sha: str = SHA) -> None:
        self.tmp, self.github = tmp, github
        self.artifact = tmp / "lfr-plan"  # ${{ runner.temp }}/lfr-plan
        self.run: dict[str, Any] = {
            "id": RUN_ID,
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": sha,
            "head_branch": "patch",
            "head_repository": head,
            "pull_requests": [],
        }

    def write(self, plan: str | None = None, pr_number: str | None = None) -> Run:
        self.artifact.mkdir(exist_ok=True)
        if plan is not None:
            (self.artifact / "plan.md").write_text(plan, encoding="utf-8")
        if pr_number is not None:
            (self.artifact / "pr-number").write_text(pr_number, encoding="utf-8")
        return self

    def listing(self, *prs: dict[str, Any]) -> Run:
        """The event's pull_requests, as GitHub lists them for a same-repository run."""
        self.run["pull_requests"] = [{k: pr[k] for k in ("number", "head", "base")} for pr in prs]
        return self

    def comment(self) -> subprocess.CompletedProcess[str]:
        event = self.tmp / "event.json"
        event.write_text(
            json.dumps({"action": "completed", "workflow_run": self.run, "repository": BASE})
        )
        step = comment_step()
        values = {"github.token": TOKEN, "runner.temp": str(self.tmp)}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI"))}
        env |= {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": "acme/crm",
            "GITHUB_API_URL": self.github.url,
            "GITHUB_SERVER_URL": "https://github.com",
        }
        env |= {k: expand(str(v), values) for k, v in step["env"].items()}
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=REPO,  # the job's sparse checkout of the default branch
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


# --- binding: which pull request -------------------------------------------------------------


def test_same_repo_run_posts_the_plan_then_updates_it(tmp_path: Path, github: FakeGitHub) -> None:
    github.pulls = [pull(7, BASE, SHA)]
    run = Run(tmp_path, github, BASE).listing(github.pulls[0]).write(PLAN, "7\n")
    first = run.comment()
    assert first.returncode == 0, first.stdout + first.stderr
    assert github.comments[7] == [{"id": 9001, "user": BOT, "body": PLAN + FOOTER}]
    # From the event, each listed pull request read again (not searched by branch).
    assert [r.path for r in github.requests if "/pulls" in r.path] == ["/repos/acme/crm/pulls/7"]

    (run.artifact / "plan.md").write_text(PLAN.replace("1 to create", "2 to create"))
    second = run.comment()
    assert second.returncode == 0, second.stdout + second.stderr
    assert [(r.method, r.path) for r in github.writes()] == [
        ("POST", "/repos/acme/crm/issues/7/comments"),
        ("PATCH", "/repos/acme/crm/issues/comments/9001"),
    ]
    assert "2 to create" in github.comments[7][0]["body"]


HOSTILE_PR_NUMBERS = [
    "8",
    "0",
    "-7",
    "7\n8",
    "7;8",
    "07",
    "7 8",
    "::error::x",
    "9" * 30,
    "7e0",
    "0x7",
]


@pytest.mark.parametrize("claim", HOSTILE_PR_NUMBERS)
def test_artifact_naming_another_pull_request_is_refused(
    tmp_path: Path, github: FakeGitHub, claim: str
) -> None:
    github.pulls = [pull(7, BASE, SHA), pull(8, BASE, OTHER_SHA, ref="other")]
    victim = github.comment(8, BOT, f"{PLAN}real plan of #8")
    run = (
        Run(tmp_path, github, BASE)
        .listing(github.pulls[0])
        .write(f"{MARKER}\n**Plan: 0 to update.**", claim)
    )
    result = run.comment()
    assert result.returncode == 1
    assert result.stdout.startswith("::error::Plan comment refused: the artifact")
    assert github.writes() == []
    assert github.comments[8] == [{"id": victim, "user": BOT, "body": f"{PLAN}real plan of #8"}]


def test_fork_run_is_bound_by_its_head_repository_and_sha(
    tmp_path: Path, github: FakeGitHub
) -> None:
    # alice's pull request has the same branch name; mallory's run names it in the artifact.
    github.pulls = [pull(8, OTHER_FORK, OTHER_SHA), pull(9, FORK, SHA)]
    refused = Run(tmp_path, github, FORK).write("fake", "8").comment()
    assert refused.returncode == 1
    assert "names pull request #8, which is not the run's (#9)" in refused.stdout
    assert github.writes() == []
    lookup = github.requests[0]
    assert (lookup.path, lookup.query["head"], lookup.query["state"]) == (
        "/repos/acme/crm/pulls",
        "mallory:patch",
        "open",
    )

    posted = Run(tmp_path, github, FORK).write("fake", "9").comment()
    assert posted.returncode == 0, posted.stdout + posted.stderr
    assert [(r.method, r.path) for r in github.writes()] == [
        ("POST", "/repos/acme/crm/issues/9/comments")
    ]


def test_a_fork_branch_name_cannot_widen_the_lookup(tmp_path: Path, github: FakeGitHub) -> None:
    # The base repository's own PR #7 has the same head SHA; the fork's branch name tries to add
    # a second `head` to the query.
    github.pulls = [pull(7, BASE, SHA)]
    run = Run(tmp_path, github, FORK)
    run.run["head_branch"] = "x&head=acme:patch&state=closed#"
    result = run.write("fake", "7").comment()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.query for r in github.requests] == [
        {"head": "mallory:x&head=acme:patch&state=closed#", "state": "open", "per_page": "100"}
    ]
    assert github.writes() == []


@pytest.mark.parametrize(
    "case",
    [
        "fork head moved on",
        "same-repo listing of another head",
        "listed PR of another repository",
        "same-repo head moved on since the run",
    ],
)
def test_a_run_no_open_pull_request_matches_comments_nowhere(
    tmp_path: Path, github: FakeGitHub, case: str
) -> None:
    if case == "fork head moved on":
        github.pulls = [pull(9, FORK, OTHER_SHA)]
        run = Run(tmp_path, github, FORK)
    elif case == "same-repo head moved on since the run":
        # The event still lists the PR at the run's SHA; a newer push has moved it on, and the
        # newer run's plan must not be overwritten by this older one finishing late.
        run = Run(tmp_path, github, BASE).listing(pull(7, BASE, SHA))
        github.pulls = [pull(7, BASE, OTHER_SHA)]
    elif case == "same-repo listing of another head":
        github.pulls = [pull(7, BASE, OTHER_SHA)]
        run = Run(tmp_path, github, BASE).listing(github.pulls[0])
    else:
        github.pulls = [pull(7, OTHER_FORK, SHA)]
        run = Run(tmp_path, github, FORK).listing(github.pulls[0])
    result = run.write(PLAN, "7").comment()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("::warning::No open pull request has the run's head")
    assert github.writes() == []


def test_a_run_without_an_artifact_comments_on_its_single_pull_request(
    tmp_path: Path, github: FakeGitHub
) -> None:
    github.pulls = [pull(7, BASE, SHA)]
    run = Run(tmp_path, github, BASE).listing(github.pulls[0])
    run.run["conclusion"] = "failure"
    result = run.comment()  # no artifact at all
    assert result.returncode == 0, result.stdout + result.stderr
    failed = "**The plan run produced no plan (failure)**: see the annotations and log."
    assert github.comments[7][0]["body"] == f"{MARKER}\n### lfr plan\n\n{failed}\n{FOOTER}"


# --- which comment ---------------------------------------------------------------------------


def test_only_the_bots_own_marker_comment_is_edited(tmp_path: Path, github: FakeGitHub) -> None:
    github.pulls = [pull(7, BASE, SHA)]
    others = [
        ({"login": "mallory", "type": "User"}, f"{PLAN}**Plan: 0 to update.**"),
        ({"login": "evil-app[bot]", "type": "Bot"}, PLAN),
        ({"login": "github-actions[bot]", "type": "User"}, PLAN),
        (BOT, "an unrelated comment of the bot"),
    ]
    for user, body in others:
        github.comment(7, user, body)
    ours = github.comment(7, BOT, f"{PLAN}old")  # on the third page
    result = Run(tmp_path, github, BASE).listing(github.pulls[0]).write(PLAN, "7").comment()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(r.method, r.path) for r in github.writes()] == [
        ("PATCH", f"/repos/acme/crm/issues/comments/{ours}")
    ]
    assert [(c["user"], c["body"]) for c in github.comments[7][:4]] == others
    assert [r.query.get("page") for r in github.requests if r.path.endswith("/7/comments")] == [
        None,
        "2",
        "3",
    ]


def test_a_marker_comment_by_anyone_else_gets_a_new_bot_comment_beside_it(
    tmp_path: Path, github: FakeGitHub
) -> None:
    github.pulls = [pull(7, BASE, SHA)]
    forged = github.comment(7, {"login": "mallory", "type": "User"}, f"{PLAN}forged")
    result = Run(tmp_path, github, BASE).listing(github.pulls[0]).write(PLAN, "7").comment()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.method for r in github.writes()] == ["POST"]
    assert github.comments[7][0]["id"] == forged
    assert github.comments[7][0]["body"] == f"{PLAN}forged"
    assert github.comments[7][1]["user"] == BOT


# --- what a fork's plan can look like ---------------------------------------------------------

HOSTILE_FORK_PLANS = {
    "team mention": "cc @acme/security @alice please approve",
    "image": '<img src="https://evil.example/x.png" onerror="alert(1)">',
    "fake heading": f"{MARKER}\n### lfr plan\n\n**Plan: 0 to update, 4 unchanged.**\n",
    "backtick runs": "```\n```` \n`````text\n### escaped?\n``````\n@acme/security",
    "tilde fence": "~~~\n</code></pre><h1>hi</h1>\n~~~",
    "link": "[the real plan](https://evil.example) ![x](https://evil.example/x.png) https://evil.example",
    "html comment": "<!-- lfr-plan --><details open><summary>Plan: 0</summary></details>",
    "indented fence": "   ````````````````````\n### closed?",
    "crlf and controls": "line\r\n### heading\r\x00\x1b[31m\x07red\u202eevil\u2066",
    "workflow command": "::error::boom\n::add-mask::x\n::stop-commands::t",
    "table": "| a | b |\n| --- | --- |\n| @acme/security | <b>x</b> |",
    "invalid utf-8 and emoji": "\ud83d\ude00 fine \u00e9",
}


def rendered(body: str) -> list[Any]:
    return MarkdownIt("commonmark").parse(body)


def inert(text: str) -> str:
    """What the fork's text must be, verbatim, inside the code block."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)


def assert_untrusted_and_inert(body: str, fork_text: str) -> None:
    tokens = rendered(body)
    assert body.startswith(f"{MARKER}\n### lfr plan: untrusted, from a fork\n")
    fences = [t for t in tokens if t.type in ("fence", "code_block")]
    assert len(fences) == 1
    assert fences[0].content.rstrip("\n") == inert(fork_text).rstrip("\n")
    # Outside the code block: only our own text.
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["lfr plan: untrusted, from a fork"]
    assert [t.content for t in tokens if t.type == "html_block"] == [f"{MARKER}\n"]
    outside = "".join(t.content for t in tokens if t.type == "inline")
    for needle in ("@acme", "evil", "Plan: 0", "<img", "::", "###"):
        assert needle not in outside
    assert len(body) <= 65536


@pytest.mark.parametrize("name", HOSTILE_FORK_PLANS)
def test_a_fork_plan_is_labelled_untrusted_and_renders_as_plain_text(
    tmp_path: Path, github: FakeGitHub, name: str
) -> None:
    github.pulls = [pull(9, FORK, SHA)]
    github.comment(9, BOT, f"{PLAN}previous")
    text = HOSTILE_FORK_PLANS[name]
    Run(tmp_path, github, FORK).write("", "9")
    (tmp_path / "lfr-plan" / "plan.md").write_bytes(
        text.encode("utf-8", "surrogatepass") + b"\xff\xfe"
    )
    result = Run(tmp_path, github, FORK).comment()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fork: shown as untrusted" in result.stdout
    (write,) = github.writes()
    assert write.method == "PATCH"
    body = github.comments[9][0]["body"]
    decoded = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") + "\ufffd\ufffd"
    assert_untrusted_and_inert(body, decoded)
    assert body.endswith(
        f"\n<sub>[Log and artifact of the fork's run](https://github.com/acme/crm/actions/runs/{RUN_ID})</sub>\n"
    )


@pytest.mark.parametrize(
    "text", ["x" * 200_000, "`" * 100_000, ("@acme/security `` " * 20 + "\n") * 2_000]
)
def test_a_huge_fork_plan_is_cut_to_fit_one_comment(
    tmp_path: Path, github: FakeGitHub, text: str
) -> None:
    github.pulls = [pull(9, FORK, SHA)]
    result = Run(tmp_path, github, FORK).write(text, "9").comment()
    assert result.returncode == 0, result.stdout + result.stderr
    body = github.comments[9][0]["body"]
    assert len(body) <= 65536
    (fence,) = [t for t in rendered(body) if t.type == "fence"]
    assert fence.content.endswith("(cut here: the rest is in the run's artifact)\n")
    kept = fence.content.removesuffix("(cut here: the rest is in the run's artifact)\n").rstrip(
        "\n"
    )
    assert text.startswith(kept)
    assert len(kept) > 15_000  # at least a quarter of a comment, even all backticks


def test_a_huge_same_repo_plan_is_cut_to_fit_one_comment(
    tmp_path: Path, github: FakeGitHub
) -> None:
    github.pulls = [pull(7, BASE, SHA)]
    plan = PLAN + "| `x` | 1 |\n" * 10_000
    result = Run(tmp_path, github, BASE).listing(github.pulls[0]).write(plan, "7").comment()
    assert result.returncode == 0, result.stdout + result.stderr
    body = github.comments[7][0]["body"]
    assert len(body) <= 65536
    assert body.endswith(
        "*(The plan is cut here: the full plan is in the run's artifact.)*\n" + FOOTER
    )


# --- the workflow around the script -----------------------------------------------------------


def test_the_comment_job_runs_only_trusted_code_with_least_permissions() -> None:
    comment = job()
    assert comment["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
    }
    checkout, download, post = comment["steps"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert "ref" not in checkout["with"]  # the default branch: never the pull request's code
    assert checkout["with"]["persist-credentials"] is False
    # The artifact lands outside the checkout, where the script reads it: no file of it can
    # replace the script.
    assert download["with"]["path"] == post["env"]["PLAN_DIR"] == "${{ runner.temp }}/lfr-plan"
    assert post["run"] == "node .github/scripts/plan-comment.mjs"
