"""Validating manifests: the offline read and shape check, then the checks that need the org.

Owns the first stages every run shares (``plan``, ``apply``, ``drift``, ``validate``): every file
loaded and shape-checked with no network (``read_manifests``), then the org's definitions fetched,
values checked into desired state and references resolved (``against_org``). Each stage reports
every problem it finds. Never prints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.loader import load_tree
from ..core.desired import build_desired
from ..core.model import LoadedManifest, parse_manifests
from ..core.org import OrgSchema
from ..core.vocabulary import Origin, Problem
from .resolve import Resolution, resolve_references


@dataclass(frozen=True)
class ManifestSet:
    """Every manifest below a root, shape-checked, and the digest of the bytes they came from."""

    manifests: list[LoadedManifest]
    problems: list[Problem]
    digest: str


@dataclass(frozen=True)
class ManifestSource:
    """Where a run's manifests are: one or more directories (or files), and which YAML files
    below them are not manifests (lfr.yaml's ignore globs; ``ignore(path)``)."""

    roots: tuple[Path, ...]
    ignore: Callable[[str], bool] | None = None


def source_of(source: Path | ManifestSource) -> ManifestSource:
    return source if isinstance(source, ManifestSource) else ManifestSource((source,))


def read_manifests(source: Path | ManifestSource) -> ManifestSet:
    """Offline half: every file loaded and shape-checked, with paths shown relative to cwd."""
    source = source_of(source)
    documents, problems, digests = [], [], []
    for root in source.roots:
        if not root.exists():
            problems.append(Problem(Origin(str(root), 0), "no such file or directory"))
            continue
        loaded = load_tree(root, display_base=Path.cwd(), ignore=source.ignore)
        documents.extend(loaded.documents)
        problems.extend(loaded.problems)
        digests.append(loaded.digest)
    manifests, shape_problems = parse_manifests(documents)
    # One root: its digest as it always was (a revision must not change with lfr.yaml).
    digest = (
        digests[0] if len(digests) == 1 else hashlib.sha256("\0".join(digests).encode()).hexdigest()
    )
    return ManifestSet(manifests, sorted(problems + shape_problems), digest)


async def validate_against_org(
    client: LightfieldClient, manifests: list[LoadedManifest]
) -> list[Problem]:
    """The checks that need the org (definitions, references) but not live records."""
    _, resolution = await against_org(client, manifests)
    return resolution.problems


async def against_org(
    client: LightfieldClient, manifests: list[LoadedManifest]
) -> tuple[OrgSchema, Resolution]:
    """Definitions, desired state and resolved references; problems in the resolution."""
    schema = OrgSchema(await client.definitions("opportunities"))
    desired, problems = build_desired(manifests, schema)
    if problems:
        return schema, Resolution(problems=problems)
    return schema, await resolve_references(client, desired)
