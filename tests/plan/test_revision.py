"""The revision a plan is computed from (it feeds every idempotency key): the commit when the
manifests are committed and clean, else the hash of exactly the bytes that were loaded."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from reconciler.adapters.loader import find_manifest_files, load_tree
from reconciler.adapters.revision import manifest_revision

MANIFEST = "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: {name}\n  id: opp_1\n"


def _write(root: Path) -> None:
    for relative, name in (("a/one.yaml", "one"), ("b.yml", "two"), ("a/z/three.yaml", "three")):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MANIFEST.format(name=name), encoding="utf-8")
    (root / "notes.txt").write_text("not a manifest", encoding="utf-8")


def _revision(root: Path) -> str:
    return manifest_revision(root, load_tree(root).digest)


def _git(where: Path, *args: str) -> str:
    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(where), *args],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return done.stdout.strip()


def test_outside_git_the_revision_hashes_relative_paths_and_bytes(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    _write(root)
    # The recipe, computed independently: path relative to the root, NUL, bytes, NUL, in order.
    expected = hashlib.sha256()
    for path in find_manifest_files(root):
        expected.update(path.relative_to(root).as_posix().encode() + b"\0")
        expected.update(path.read_bytes() + b"\0")
    assert _revision(root) == f"sha256:{expected.hexdigest()}"
    assert [p.relative_to(root).as_posix() for p in find_manifest_files(root)] == [
        "a/one.yaml",
        "a/z/three.yaml",
        "b.yml",
    ]


def test_the_same_files_elsewhere_have_the_same_revision_and_an_edit_changes_it(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "one", tmp_path / "two" / "deeper"
    _write(first)
    _write(second)
    assert _revision(first) == _revision(second)
    (second / "b.yml").write_text(MANIFEST.format(name="edited"), encoding="utf-8")
    assert _revision(first) != _revision(second)
    (second / "b.yml").rename(second / "c.yml")  # same bytes, another name
    (second / "c.yml").write_text(MANIFEST.format(name="two"), encoding="utf-8")
    assert _revision(first) != _revision(second)


def test_committed_and_clean_is_the_commit_and_any_edit_is_the_content(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    _write(root)
    _git(tmp_path, "init", "--quiet")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "--quiet", "-m", "manifests")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert _revision(root) == f"git:{head}"
    # A change outside the manifests does not make them dirty.
    (tmp_path / "README").write_text("elsewhere", encoding="utf-8")
    assert _revision(root) == f"git:{head}"
    (root / "a" / "new.yaml").write_text(MANIFEST.format(name="new"), encoding="utf-8")
    untracked = _revision(root)
    assert untracked.startswith("sha256:")
    (root / "a" / "new.yaml").unlink()
    (root / "b.yml").write_text(MANIFEST.format(name="edited"), encoding="utf-8")
    edited = _revision(root)
    assert edited.startswith("sha256:") and edited != untracked
