"""Validating manifests: the offline read and shape check, then the checks that need the org.

Owns the first stages every run shares (``plan``, ``apply``, ``drift``, ``validate``): every file
below every path given loaded and shape-checked with no network (``read_manifests``), the
manifests chosen by ``--target`` / ``--exclude`` (``Selection``), then the org's definitions
fetched, values checked into desired state and references resolved (``against_org``).

Each manifest goes as far through the checks as it can on its own: a file that cannot be read
or shaped stops there, but the others still have their values checked, and every manifest whose
values hold still has its references resolved. So one run reports the YAML error of one file,
the unknown select label of another and the unknown email of a third, together (sorted by file
and line). Never prints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.loader import load_tree
from ..adapters.revision import manifest_revision
from ..core.desired import build_desired
from ..core.model import LoadedManifest, LoadedSet, parse_manifests, parse_sets
from ..core.org import OrgSchema
from ..core.sets import build_sets
from ..core.vocabulary import Document, Origin, Problem
from .resolve import Resolution, resolve_references

# Reports how many of the files found have been read: (done, total).
ReadProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Selection:
    """Which manifests a run works on: ``--target`` and ``--exclude`` globs (``*``, ``?``,
    ``[...]``, case-sensitive, as ``metadata.name`` is lowercase) on ``metadata.name``. No
    target means every manifest; an exclude wins over a target."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @property
    def narrowed(self) -> bool:
        return bool(self.targets or self.excludes)

    def chooses(self, name: str) -> bool:
        wanted = not self.targets or any(fnmatchcase(name, t) for t in self.targets)
        return wanted and not any(fnmatchcase(name, e) for e in self.excludes)


@dataclass(frozen=True)
class ManifestSet:
    """The chosen manifests below the roots, shape-checked, and the digest of the bytes read."""

    manifests: list[LoadedManifest]
    problems: list[Problem]
    digest: str
    roots: tuple[Path, ...] = ()
    # The ``OpportunitySet`` documents chosen (``core.sets``).
    sets: list[LoadedSet] = field(default_factory=list)

    def revision(self) -> str:
        """The git commit all the roots are clean at, else the hash of the bytes read."""
        return manifest_revision(self.roots, self.digest)


@dataclass(frozen=True)
class ManifestSource:
    """Where a run's manifests are: one or more directories (or files), and which YAML files
    below them are not manifests (lfr.yaml's ignore globs; ``ignore(path)``)."""

    roots: tuple[Path, ...]
    ignore: Callable[[str], bool] | None = None


def source_of(source: Path | Sequence[Path] | ManifestSource) -> ManifestSource:
    if isinstance(source, ManifestSource):
        return source
    return ManifestSource(as_roots(source))


def as_roots(paths: Path | Sequence[Path]) -> tuple[Path, ...]:
    return (paths,) if isinstance(paths, Path) else tuple(paths)


def read_manifests(
    paths: Path | Sequence[Path] | ManifestSource,
    selection: Selection | None = None,
    *,
    progress: ReadProgress | None = None,
) -> ManifestSet:
    """Offline half: every file below each root loaded and shape-checked (paths shown relative
    to cwd; lfr.yaml's ignore globs skip files), then the manifests ``selection`` chooses. A
    path that does not exist, or a directory with no manifest, is a problem: a job pointed at
    the wrong folder must fail, not plan nothing. A file named twice (a directory and a file in
    it) is read once."""
    source = source_of(paths)
    roots = source.roots
    problems: list[Problem] = []
    documents: list[Document] = []
    seen: set[str] = set()
    digests: list[str] = []
    for root in roots:
        if not root.exists():
            problems.append(Problem(Origin(str(root), 0), "no such file or directory"))
            continue
        loaded = load_tree(root, display_base=Path.cwd(), progress=progress, ignore=source.ignore)
        if root.is_dir() and not loaded.documents and not loaded.problems:
            problems.append(
                Problem(Origin(str(root), 0), "no manifests here (no *.yaml or *.yml file)")
            )
        digests.append(loaded.digest)
        documents.extend(d for d in loaded.documents if d.file not in seen)
        problems.extend(p for p in loaded.problems if p.file not in seen)
        seen.update(d.file for d in loaded.documents)
        seen.update(p.file for p in loaded.problems)
    manifests, shape_problems = parse_manifests(documents)
    sets, set_problems = parse_sets(documents)
    problems.extend([*shape_problems, *set_problems, *_names_shared(manifests, sets)])
    if selection is not None and selection.narrowed:
        problems.extend(_unmatched(selection, [*manifests, *sets], roots))
        manifests = [m for m in manifests if selection.chooses(m.manifest.metadata.name)]
        sets = [s for s in sets if selection.chooses(s.manifest.metadata.name)]
    # One root keeps the loader's own digest (a revision must not change with lfr.yaml).
    whole = digests[0] if len(digests) == 1 else _combined(digests)
    return ManifestSet(manifests, sorted(set(problems)), whole, roots, sets)


def _names_shared(manifests: Sequence[LoadedManifest], sets: Sequence[LoadedSet]) -> list[Problem]:
    """A set's metadata.name is a name like a manifest's (``--target`` picks it): one each."""
    first: dict[str, Origin] = {}
    for m in manifests:
        first.setdefault(m.manifest.metadata.name, m.origin_of("metadata", "name"))
    problems: list[Problem] = []
    for s in sets:
        name, here = s.manifest.metadata.name, s.origin_of("metadata", "name")
        other = first.setdefault(name, here)
        if other != here:
            problems.append(
                Problem(here, f"metadata.name {name!r} is used twice: here and at {other}")
            )
    return problems


def read_every_environment(
    sources: Sequence[Path | Sequence[Path] | ManifestSource], selection: Selection
) -> tuple[list[LoadedManifest | LoadedSet], list[Problem]]:
    """``validate --offline`` of several environments' manifests (sets too): each read whole,
    then the selection applied to all of them at once, so a ``--target`` that matches in one
    environment is no problem in another; a file several environments share is counted and
    reported once."""
    manifests: dict[Origin, LoadedManifest | LoadedSet] = {}
    problems: set[Problem] = set()
    roots: dict[Path, None] = {}
    for source in sources:
        read = read_manifests(source)
        manifests.update((manifest.origin, manifest) for manifest in read.manifests)
        manifests.update((loaded.origin, loaded) for loaded in read.sets)
        problems.update(read.problems)
        roots.update(dict.fromkeys(read.roots))
    chosen = list(manifests.values())
    if selection.narrowed:
        problems.update(_unmatched(selection, chosen, list(roots)))
        chosen = [m for m in chosen if selection.chooses(m.manifest.metadata.name)]
    return chosen, sorted(problems)


def _combined(digests: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _unmatched(
    selection: Selection,
    manifests: Sequence[LoadedManifest | LoadedSet],
    roots: Sequence[Path],
) -> list[Problem]:
    """A ``--target`` that chooses nothing is a typo or a wrong folder: a problem, not a quiet
    empty plan (which apply would call an empty manifest set)."""
    names = [m.manifest.metadata.name for m in manifests]
    where = Origin(", ".join(str(root) for root in roots), 0)
    problems = [
        Problem(where, f"--target {pattern!r} matches no manifest's metadata.name")
        for pattern in selection.targets
        if not any(fnmatchcase(name, pattern) for name in names)
    ]
    if names and not problems and not any(selection.chooses(name) for name in names):
        problems.append(Problem(where, "--target / --exclude leave no manifest to work on"))
    return problems


async def validate_against_org(
    client: LightfieldClient,
    manifests: list[LoadedManifest],
    sets: Sequence[LoadedSet] = (),
) -> list[Problem]:
    """The checks that need the org (definitions, references) but not live records."""
    _, resolution = await against_org(client, manifests, sets)
    return resolution.problems


async def against_org(
    client: LightfieldClient,
    manifests: list[LoadedManifest],
    sets: Sequence[LoadedSet] = (),
) -> tuple[OrgSchema, Resolution]:
    """Definitions, desired state and resolved references; every problem in the resolution.

    The references of every manifest whose values hold are resolved even when another
    manifest's values do not: their problems come together. A set's references (selector and
    managed keys) are resolved in the same lookups, through its ``template``."""
    schema = OrgSchema(await client.definitions("opportunities"))
    desired, problems = build_desired(manifests, schema)
    desired_sets, set_problems = build_sets(sets, schema)
    templates = [s.template() for s in desired_sets]
    resolution = await resolve_references(client, [*desired, *templates])
    by_origin = {s.origin: s for s in desired_sets}
    resolved = [r for r in resolution.records if r.id is None and r.origin in by_origin]
    resolution.records = [
        r for r in resolution.records if not (r.id is None and r.origin in by_origin)
    ]
    resolution.sets = [by_origin[t.origin].resolved(t) for t in resolved]
    resolution.problems = sorted(problems + set_problems + resolution.problems)
    return schema, resolution
