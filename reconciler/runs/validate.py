"""Validating manifests: the offline read and shape check, then the checks that need the org.

Owns the first stages every run shares (``plan``, ``apply``, ``drift``, ``validate``): every file
below every path given loaded and shape-checked with no network (``read_manifests``; or a
file at a time, ``ManifestStream``, which ``lfr validate`` checks and lets go), the
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.loader import read_tree
from ..adapters.revision import manifest_revision
from ..core.desired import build_desired
from ..core.model import DesiredRecord, LoadedManifest, LoadedSet, parse_document
from ..core.org import OrgSchema
from ..core.sets import build_sets
from ..core.vocabulary import Origin, Problem
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
    to cwd; lfr.yaml's ignore globs skip files), then the manifests ``selection`` chooses, all
    held at once (``ManifestStream`` gives them one at a time)."""
    stream = ManifestStream(paths, selection, progress=progress)
    manifests = list(stream)
    return ManifestSet(manifests, stream.problems, stream.digest, stream.roots, stream.sets)


class ManifestStream:
    """The chosen manifests below the roots, read and shape-checked one file at a time: a
    caller that checks each and lets it go (``validate_stream``) never holds every document.

    Iterate it once for the chosen ``Opportunity`` manifests, in file order; then
    ``problems`` (sorted), ``digest`` and the chosen ``sets`` (few: kept whole) are complete.
    What a check across files needs (each manifest's name and where it is written, for a set
    named like a manifest and for a ``--target`` that matches nothing) is kept as those keys,
    not as documents. A path that does not exist, or a directory with no manifest, is a
    problem: a job pointed at the wrong folder must fail, not plan nothing. A file named twice
    (a directory and a file in it) is read once."""

    def __init__(
        self,
        paths: Path | Sequence[Path] | ManifestSource,
        selection: Selection | None = None,
        *,
        progress: ReadProgress | None = None,
    ) -> None:
        self.source = source_of(paths)
        self.roots = self.source.roots
        self.selection = selection or Selection()
        self.progress = progress
        self.problems: list[Problem] = []
        self.sets: list[LoadedSet] = []
        self.digest = ""
        # Where the first manifest of each metadata.name writes it (every one read, chosen or
        # not), as (file, line): a tuple costs a third of an ``Origin``.
        self.names: dict[str, tuple[str, int]] = {}
        self.chosen = 0
        self._every_set: list[LoadedSet] = []

    def __iter__(self) -> Iterator[LoadedManifest]:
        problems: list[Problem] = []
        seen: set[str] = set()
        digests: list[str] = []
        # No --target / --exclude (nearly every run): no pattern to try on 100,000 names.
        chooses = self.selection.chooses if self.selection.narrowed else None
        for root in self.roots:
            if not root.exists():
                problems.append(Problem(Origin(str(root), 0), "no such file or directory"))
                continue
            digest = hashlib.sha256()
            files = read_tree(
                root,
                digest,
                display_base=Path.cwd(),
                progress=self.progress,
                ignore=self.source.ignore,
            )
            here: set[str] = set()
            for loaded in files:
                file = (loaded.documents or loaded.problems)[0].file
                here.add(file)
                if file in seen:
                    continue
                problems.extend(loaded.problems)
                for document in loaded.documents:
                    parsed = parse_document(document)
                    if isinstance(parsed, list):
                        problems.extend(parsed)
                    elif isinstance(parsed, LoadedSet):
                        self._every_set.append(parsed)
                    else:
                        name = parsed.manifest.metadata.name
                        line = document.line_of(("metadata", "name"))
                        self.names.setdefault(name, (document.file, line))
                        if chooses is None or chooses(name):
                            self.chosen += 1
                            yield parsed
                    del parsed  # let the document go while the consumer works on the next
            if root.is_dir() and not here:
                problems.append(
                    Problem(Origin(str(root), 0), "no manifests here (no *.yaml or *.yml file)")
                )
            digests.append(digest.hexdigest())
            seen.update(here)
        problems.extend(_names_shared(self.names, self._every_set))
        if self.selection.narrowed:
            names = [*self.names, *(s.manifest.metadata.name for s in self._every_set)]
            problems.extend(_unmatched(self.selection, names, self.roots))
        self.sets = [s for s in self._every_set if self.selection.chooses(s.manifest.metadata.name)]
        # One root keeps the loader's own digest (a revision must not change with lfr.yaml).
        self.digest = digests[0] if len(digests) == 1 else _combined(digests)
        self.problems = sorted(set(problems))


def _names_shared(
    manifests: dict[str, tuple[str, int]], sets: Sequence[LoadedSet]
) -> list[Problem]:
    """A set's metadata.name is a name like a manifest's (``--target`` picks it): one each."""
    named = {s.manifest.metadata.name for s in sets}
    first = {name: Origin(*manifests[name]) for name in named if name in manifests}
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
) -> tuple[int, list[Problem]]:
    """``validate --offline`` of several environments' manifests (sets too): how many are
    chosen, and every problem. Each environment is read a file at a time (only each
    manifest's name is kept), then the selection applied to all of them at once, so a
    ``--target`` that matches in one environment is no problem in another; a file several
    environments share is counted and reported once."""
    names: dict[Origin, str] = {}
    problems: set[Problem] = set()
    roots: dict[Path, None] = {}
    for source in sources:
        stream = ManifestStream(source)
        names.update((manifest.origin, manifest.manifest.metadata.name) for manifest in stream)
        names.update((s.origin, s.manifest.metadata.name) for s in stream.sets)
        problems.update(stream.problems)
        roots.update(dict.fromkeys(stream.roots))
    chosen = list(names.values())
    if selection.narrowed:
        problems.update(_unmatched(selection, chosen, list(roots)))
        chosen = [name for name in chosen if selection.chooses(name)]
    return len(chosen), sorted(problems)


def _combined(digests: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _unmatched(selection: Selection, names: Sequence[str], roots: Sequence[Path]) -> list[Problem]:
    """A ``--target`` that chooses nothing is a typo or a wrong folder: a problem, not a quiet
    empty plan (which apply would call an empty manifest set)."""
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


async def validate_stream(
    client: LightfieldClient, stream: ManifestStream, manifests: Iterable[LoadedManifest]
) -> list[Problem]:
    """``lfr validate``: every problem, offline and against the org, of the manifests
    ``stream`` reads, each checked and let go as it is read (``manifests``: what is left of
    ``stream``'s iteration), so that only desired state is held, never every document."""
    schema = OrgSchema(await client.definitions("opportunities"))
    desired, problems = build_desired(manifests, schema)
    resolution = await _resolved(client, schema, desired, problems, stream.sets)
    return sorted(stream.problems + resolution.problems)


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
    return schema, await _resolved(client, schema, desired, problems, sets)


async def _resolved(
    client: LightfieldClient,
    schema: OrgSchema,
    desired: list[DesiredRecord],
    problems: list[Problem],
    sets: Sequence[LoadedSet],
) -> Resolution:
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
    return resolution
