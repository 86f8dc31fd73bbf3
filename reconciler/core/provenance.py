"""Where an apply's changes came from: the commit, the pull request and the CI run, with links.

Owns the rules ``lfr apply --stamp`` names a change's origin by (README "Provenance notes"):

- the commit is the manifest revision the plan was made from (``git:<sha>``; a ``sha256:``
  revision is uncommitted manifests and has no commit);
- the pull request is ``--pr`` (a number, ``#N``, or the PR's URL) when given, else the one the
  commit's message names as GitHub writes it on a merge (``Merge pull request #N from ...``) or
  a squash merge (a subject ending ``(#N)``); a rebase merge names none;
- links need the repository's web address: GitHub Actions' ``GITHUB_SERVER_URL`` and
  ``GITHUB_REPOSITORY`` (and ``GITHUB_RUN_ID`` for the run), or a ``--pr`` URL.

Every input is hostile (a commit message, the environment, a flag): only a number is taken from
a message, and a link is built only from parts that match strict patterns, so no text of theirs
reaches a note but digits, hex and a plain ``https://host/owner/repo``. Pure: the CLI reads the
environment and ``adapters.provenance`` the commit message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SERVER = re.compile(r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}")
_RUN_ID = re.compile(r"[0-9]{1,20}")
_PR_NUMBER = re.compile(r"#?([0-9]{1,9})")
_PR_URL = re.compile(rf"({_SERVER.pattern})/({_REPOSITORY.pattern})/pull/([0-9]{{1,9}})/?")
# GitHub's merge commit subject, and a squash merge's subject "Title (#N)".
_MERGE_SUBJECT = re.compile(r"Merge pull request #([0-9]{1,9}) from \S")
_SQUASH_SUBJECT = re.compile(r".*\(#([0-9]{1,9})\)")


class ProvenanceError(ValueError):
    """A ``--pr`` value that is neither a PR number nor a pull request URL."""


@dataclass(frozen=True)
class Provenance:
    revision: str  # the plan's manifest revision, as lfr computed it
    commit: str | None = None  # the full sha, when the manifests were committed and clean
    commit_url: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    run_url: str | None = None

    @property
    def short_commit(self) -> str | None:
        return self.commit[:12] if self.commit else None


def pr_from_message(message: str | None) -> int | None:
    """The pull request a merge commit's subject names, as GitHub writes it; else None."""
    if not message:
        return None
    lines = message.strip().splitlines()
    subject = lines[0].strip() if lines else ""
    found = _MERGE_SUBJECT.match(subject) or _SQUASH_SUBJECT.fullmatch(subject)
    if found:
        return int(found.group(1))
    return None


def provenance_of(
    revision: str,
    environ: Mapping[str, str],
    *,
    pr: str | None = None,
    commit_message: str | None = None,
) -> Provenance:
    """The provenance of a plan made at ``revision`` (raises ``ProvenanceError`` for a bad
    ``pr``); ``environ``: GitHub Actions' variables, where they are set."""
    server = _valid(_SERVER, environ.get("GITHUB_SERVER_URL", "").rstrip("/"))
    repository = _valid(_REPOSITORY, environ.get("GITHUB_REPOSITORY", ""))
    repo_url = f"{server}/{repository}" if server and repository else None
    kind, _, value = revision.partition(":")
    commit = value if kind == "git" and _SHA.fullmatch(value) else None
    pr_number, pr_url = _pull_request(pr, repo_url) if pr else (None, None)
    if pr_number is None:
        pr_number = pr_from_message(commit_message) if commit else None
        pr_url = f"{repo_url}/pull/{pr_number}" if repo_url and pr_number else None
    run_id = _valid(_RUN_ID, environ.get("GITHUB_RUN_ID", ""))
    return Provenance(
        revision=revision,
        commit=commit,
        commit_url=f"{repo_url}/commit/{commit}" if repo_url and commit else None,
        pr_number=pr_number,
        pr_url=pr_url,
        run_url=f"{repo_url}/actions/runs/{run_id}" if repo_url and run_id else None,
    )


def _pull_request(value: str, repo_url: str | None) -> tuple[int, str | None]:
    number = _PR_NUMBER.fullmatch(value.strip())
    if number:
        pr = int(number.group(1))
        return pr, f"{repo_url}/pull/{pr}" if repo_url else None
    url = _PR_URL.fullmatch(value.strip())
    if url:
        server, repository, pr = url.group(1), url.group(2), int(url.group(3))
        return pr, f"{server}/{repository}/pull/{pr}"
    raise ProvenanceError(
        "--pr takes a pull request number (12, #12) or its URL "
        "(https://github.com/OWNER/REPO/pull/12)"
    )


def _valid(pattern: re.Pattern[str], value: str) -> str | None:
    return value if value and pattern.fullmatch(value) else None
