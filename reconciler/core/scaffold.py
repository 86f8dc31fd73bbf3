"""What ``lfr init`` writes into a manifests repository, as pure data (README "GitOps in 5
minutes").

Owns the list of files (each a template shipped in ``reconciler/templates/`` and the path it
gets in the repository), the one substitution the templates know (``@NAME@`` tokens: GitHub's
own ``${{ }}`` and the shell's ``$VAR`` stay untouched), the pinned reference to lfr's
GitHub Action the workflows and the pre-commit hook use, and how the repository's existing
``.gitignore`` gains lfr's lines. Reading the templates and writing the files is the CLI's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import LfrError

# (template, destination): the template's path below reconciler/templates/ (no leading dots,
# so packaging keeps every file) and where `lfr init` writes it.
TEMPLATES: tuple[tuple[str, str], ...] = (
    ("lfr.yaml", "lfr.yaml"),
    ("manifests/example.yaml", "manifests/example.yaml"),
    ("gitignore", ".gitignore"),
    ("pre-commit-config.yaml", ".pre-commit-config.yaml"),
    ("github/workflows/lfr-plan.yml", ".github/workflows/lfr-plan.yml"),
    ("github/workflows/lfr-plan-comment.yml", ".github/workflows/lfr-plan-comment.yml"),
    ("github/workflows/lfr-apply.yml", ".github/workflows/lfr-apply.yml"),
    ("github/workflows/lfr-drift.yml", ".github/workflows/lfr-drift.yml"),
    ("github/scripts/plan-comment.mjs", ".github/scripts/plan-comment.mjs"),
    ("github/scripts/github-api.mjs", ".github/scripts/github-api.mjs"),
    ("github/scripts/drift-issue.mjs", ".github/scripts/drift-issue.mjs"),
)
EXAMPLE_MANIFEST = "manifests/example.yaml"
GITIGNORE = ".gitignore"
# Written from core/json_schema (the documents `lfr schema` and `lfr schema --lfr-yaml` print),
# not from templates; lfr.yaml and the example manifest point at them on their first line.
SCHEMA_FILE = "schema/manifest.schema.json"
SETTINGS_SCHEMA_FILE = "schema/lfr.schema.json"
MANIFESTS_DIR = "manifests"

_TOKEN = re.compile(r"@([A-Z][A-Z_]*)@")
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,200}")


class ScaffoldError(LfrError):
    """``lfr init`` cannot write what it was asked to (``details``: one line per file)."""

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class ActionRef:
    """The GitHub repository of lfr and the commit the generated files pin: the workflows'
    ``uses: <repository>@<commit>`` and the pre-commit hook's ``rev``. A commit, never a tag:
    a tag can be moved to other code, a commit cannot."""

    repository: str
    commit: str

    @property
    def uses(self) -> str:
        return f"{self.repository}@{self.commit}"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repository}"


def parse_action_ref(text: str) -> ActionRef:
    """``OWNER/REPO@COMMIT`` (a full 40-character commit SHA) as given to ``--action``."""
    repository, _, commit = text.partition("@")
    if not _REPOSITORY.fullmatch(repository) or repository.endswith((".", "/")):
        raise ScaffoldError(
            "--action must be OWNER/REPO@COMMIT (the GitHub repository of lfr and a full "
            "commit SHA), e.g. acme/lfr@" + "0" * 40
        )
    if not _COMMIT.fullmatch(commit):
        raise ScaffoldError(
            "--action must pin a full 40-character commit SHA after '@' (a tag or branch can "
            "be moved to other code; a commit cannot)"
        )
    return ActionRef(repository, commit)


def action_ref_from_direct_url(text: str) -> ActionRef | None:
    """The lfr commit recorded by pip or uv when lfr was installed from a GitHub git URL
    (PEP 610 ``direct_url.json``), e.g. ``pip install git+https://github.com/o/lfr@v0.1.0``;
    None for any other install (a wheel, an index, a local directory)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    vcs = data.get("vcs_info")
    url = data.get("url")
    if not isinstance(vcs, dict) or vcs.get("vcs") != "git" or not isinstance(url, str):
        return None
    commit = vcs.get("commit_id")
    match = re.fullmatch(r"(?:git\+)?https://github\.com/([^/@\s]+/[^/@\s]+?)(?:\.git)?/?", url)
    if match is None or not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        return None
    if not _REPOSITORY.fullmatch(match.group(1)):
        return None
    return ActionRef(match.group(1), commit)


def check_branch(branch: str) -> str:
    if not _BRANCH.fullmatch(branch) or branch.startswith(("-", "/")) or ".." in branch:
        raise ScaffoldError(f"--branch {branch!r} is not a branch name lfr can write into YAML")
    return branch


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with every ``@NAME@`` replaced by ``values[NAME]``; a token without a value
    is a bug in lfr's templates, raised rather than written."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ScaffoldError(f"template token @{name}@ has no value")
        return values[name]

    return _TOKEN.sub(value, template)


def template_values(ref: ActionRef, version: str, branch: str) -> dict[str, str]:
    return {
        "LFR_ACTION": f"{ref.uses} # lfr {version}",
        "LFR_REPOSITORY_URL": ref.url,
        "LFR_REV": ref.commit,
        "LFR_VERSION": version,
        "BRANCH": check_branch(branch),
    }


def scaffold(
    templates: Mapping[str, str],
    values: Mapping[str, str],
    schema_text: str,
    settings_schema_text: str,
    *,
    example: bool = True,
) -> dict[str, str]:
    """Every file ``lfr init`` writes: repository path → text. ``templates`` maps each template
    path of ``TEMPLATES`` to its text; the schemas are the manifests' and lfr.yaml's;
    ``example=False`` leaves out the example manifest (the org's own manifests take its
    place)."""
    files = {
        destination: render(templates[source], values)
        for source, destination in TEMPLATES
        if example or destination != EXAMPLE_MANIFEST
    }
    files[SCHEMA_FILE] = schema_text
    files[SETTINGS_SCHEMA_FILE] = settings_schema_text
    return dict(sorted(files.items()))


def merged_gitignore(existing: str, ours: str) -> str | None:
    """The repository's ``.gitignore`` with the patterns of lfr's it lacks appended (after lfr's
    comment), or None when it has them all: a ``.gitignore`` is shared, so it is added to, never
    replaced."""
    have = {line.strip() for line in existing.splitlines()}
    lines = ours.splitlines()
    new = [line for line in lines if line.strip() and not line.startswith("#")]
    new = [line for line in new if line.strip() not in have]
    if not new:
        return None
    comments = [line for line in lines if line.startswith("#")]
    head = existing if not existing or existing.endswith("\n") else existing + "\n"
    return head + ("\n" if head else "") + "\n".join(comments + new) + "\n"
