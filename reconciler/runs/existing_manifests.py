"""The manifests already below the directory ``lfr export`` or ``lfr pin`` writes into: which
document manages which record, and the errors that stop either before anything is written.

Owns reading that directory with the manifests' own loader (a file that does not parse stops
the run: it could manage any record), indexing its documents (by ``metadata.id``, by name, the
``OpportunitySet``s apart), and finding the record each ``match`` manifest selects exactly as
``lfr plan`` finds it (``runs.resolve`` and ``runs.fetch``). Called by ``runs.export`` and
``runs.pin``; never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.loader import load_tree
from ..adapters.writer import Existing
from ..core.desired import build_desired
from ..core.errors import LfrError
from ..core.model import LoadedManifest, Spec, is_set, parse_manifests
from ..core.org import OrgSchema
from ..core.vocabulary import Document, Problem
from .fetch import fetch_live
from .resolve import resolve_references


class ExportError(LfrError):
    """Export cannot run as asked (no such record, a directory that is a file...)."""


class ExportProblems(LfrError):
    """Manifests already in the directory that export cannot read safely; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the existing manifests; nothing was written"
        )


def scan_directory(directory: Path) -> tuple[Existing, list[Document]]:
    """The manifests below ``directory``, and those among them that find their record by
    ``match`` (which takes the API to tell)."""
    existing = Existing()
    if not directory.exists():
        return existing, []
    if not directory.is_dir():
        raise ExportError(f"{directory} is not a directory")
    loaded = load_tree(directory)
    if loaded.problems:
        # A file that does not parse could manage any record: writing a second manifest for
        # it would make every later plan fail, so stop here.
        raise ExportProblems(loaded.problems)
    selectors: list[Document] = []
    for document in loaded.documents:
        place = (Path(document.file), document.index)
        existing.documents[place] = document
        metadata = document.data.get("metadata")
        if not isinstance(metadata, dict):
            continue
        if isinstance(metadata.get("name"), str):
            existing.names.add(metadata["name"])
        if is_set(document):
            existing.sets.append(document)
            continue
        record_id = metadata.get("id")
        if isinstance(record_id, str) and record_id:
            existing.owner.setdefault(record_id, place)
        elif isinstance(metadata.get("match"), dict):
            selectors.append(document)
    return existing, selectors


async def find_matched(
    client: LightfieldClient, schema: OrgSchema, selectors: list[Document], existing: Existing
) -> dict[tuple[Path, int], str]:
    """Which records the ``match`` manifests find, exactly as ``lfr plan`` finds them: (file,
    document index) → record id. Only the selector is checked: a problem elsewhere in such a
    manifest is not export's business."""
    manifests, problems = parse_manifests(selectors)
    if problems:
        raise ExportProblems(problems)
    bare = [
        LoadedManifest(m.manifest.model_copy(update={"spec": Spec()}), m.document)
        for m in manifests
    ]
    desired, problems = build_desired(bare, schema)
    if problems:
        raise ExportProblems(problems)
    resolution = await resolve_references(client, desired)
    if resolution.problems:
        raise ExportProblems(resolution.problems)
    fetched = await fetch_live(client, resolution.records, schema)
    if fetched.problems:
        raise ExportProblems(fetched.problems)
    by_origin = {(d.file, d.line): (Path(d.file), d.index) for d in selectors}
    found: dict[tuple[Path, int], str] = {}
    for wanted, live in fetched.pairs:
        if live is not None:
            place = by_origin[(wanted.origin.file, wanted.origin.line)]
            existing.owner.setdefault(live.id, place)
            found[place] = live.id
    return found
