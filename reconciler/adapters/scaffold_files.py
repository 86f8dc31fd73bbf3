"""The files of ``lfr init``: its templates as shipped in the package, and writing the result.

Owns reading ``reconciler/templates/`` (package data, so it works from a wheel, a zip or a
source tree alike) and writing a scaffold into a directory: every file checked first, so a
refusal writes nothing; a file that exists is refused unless ``force``, except ``.gitignore``,
which gains lfr's lines instead (core/scaffold.merged_gitignore).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from .. import DISTRIBUTION
from ..core.scaffold import (
    GITIGNORE,
    TEMPLATES,
    ActionRef,
    ScaffoldError,
    action_ref_from_direct_url,
    merged_gitignore,
)


def read_templates() -> dict[str, str]:
    """Each template of ``core.scaffold.TEMPLATES`` by its path below reconciler/templates/."""
    root = resources.files("reconciler").joinpath("templates")
    texts: dict[str, str] = {}
    for source, _ in TEMPLATES:
        node = root
        for part in source.split("/"):
            node = node.joinpath(part)
        texts[source] = node.read_text(encoding="utf-8")
    return texts


def in_git_repository(directory: Path) -> bool:
    """Whether ``directory`` (which may not exist yet) is in a git working tree: it or a parent
    holds ``.git`` (a directory, or a file for a worktree or submodule)."""
    here = directory.absolute()
    return any((candidate / ".git").exists() for candidate in (here, *here.parents))


@dataclass(frozen=True)
class Written:
    path: str
    status: str  # "created", "overwritten", "updated" (.gitignore lines added), "unchanged"


def existing_files(directory: Path, files: Mapping[str, str]) -> list[str]:
    """The paths of ``files`` that already exist below ``directory`` (``.gitignore`` aside)."""
    return [path for path in files if path != GITIGNORE and (directory / path).exists()]


def write_scaffold(directory: Path, files: Mapping[str, str], *, force: bool) -> list[Written]:
    """Write ``files`` below ``directory``; refuse (writing nothing) when any exists, unless
    ``force``."""
    clashes = existing_files(directory, files)
    if clashes and not force:
        raise ScaffoldError(
            f"{len(clashes)} file{'s' if len(clashes) != 1 else ''} already exist; nothing was "
            "written (--force overwrites them)",
            tuple(f"  {path}" for path in clashes),
        )
    written: list[Written] = []
    try:
        for path, text in files.items():
            target = directory / path
            if path == GITIGNORE and target.exists():
                merged = merged_gitignore(target.read_text(encoding="utf-8"), text)
                if merged is not None:
                    target.write_text(merged, encoding="utf-8")
                written.append(Written(path, "unchanged" if merged is None else "updated"))
                continue
            status = "overwritten" if target.exists() else "created"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(Written(path, status))
    except OSError as exc:
        where = exc.filename or directory
        raise ScaffoldError(f"cannot write {where}: {exc.strerror or exc}") from None
    return written


def installed_action_ref() -> ActionRef | None:
    """The GitHub commit this lfr was installed from, when pip or uv recorded one (an install
    of a ``git+https://github.com/...`` URL); None otherwise."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    return None if text is None else action_ref_from_direct_url(text)
