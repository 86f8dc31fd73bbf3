"""The manifest revision a plan is computed from: the git commit, or a content hash.

Owns one question: "which version of the manifests is this?". It feeds the idempotency key
(architecture.md §5), so a new commit or a local edit yields new keys while a re-run of the same
revision reuses them. When the manifests are committed and clean, the answer is the commit
(``git:<sha>``); with uncommitted edits, or outside git, it is the hash of the files' paths and
bytes that ``loader.load_tree`` computed as it read them (``sha256:<hex>``), so an edit is
never mistaken for the committed version. Also tells export which files hold uncommitted
work (``uncommitted``), and ``apply --stamp`` a commit's message (``commit_message``: the pull
request a merge commit names).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def manifest_revision(root: Path | Sequence[Path], content_digest: str) -> str:
    """``git:<sha>`` when every root is committed and clean in one commit, else the digest."""
    roots = [root] if isinstance(root, Path) else list(root)
    commits = {_clean_commit(one) for one in roots}
    commit = commits.pop() if len(commits) == 1 else None
    return f"git:{commit}" if commit is not None else f"sha256:{content_digest}"


def _clean_commit(root: Path) -> str | None:
    where = root if root.is_dir() else root.parent
    try:
        head = _git(where, "rev-parse", "HEAD")
        dirty = _git(where, "status", "--porcelain", "--untracked-files=all", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return None
    return None if dirty else head


def _git(where: Path, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(where), *args],  # noqa: S607 - git from PATH, like a user's shell
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip("\n") if "-z" in args else result.stdout.strip()


def uncommitted(directory: Path, paths: list[Path]) -> list[Path]:
    """Which of ``paths`` (files below ``directory``) hold changes git has not committed
    (modified, staged, or untracked), so that export does not overwrite work in progress.
    Outside a git repository nothing is known to be uncommitted: an empty list."""
    if not paths or not directory.is_dir():
        return []
    try:
        top = Path(_git(directory, "rev-parse", "--show-toplevel"))
        status = _git(
            directory,
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            *(str(p.resolve()) for p in paths),
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    dirty: set[Path] = set()
    # -z entries: "XY path", a rename's source following as its own entry.
    for entry in status.split("\0"):
        if len(entry) > 3 and entry[2] == " ":
            dirty.add((top / entry[3:]).resolve())
    return [p for p in paths if p.resolve() in dirty]


def commit_message(root: Path, commit: str) -> str | None:
    """The message of ``commit`` in the repository holding ``root``; None outside git or for a
    commit it does not have (a shallow clone)."""
    where = root if root.is_dir() else root.parent
    try:
        return _git(where, "show", "-s", "--format=%B", commit, "--")
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
