"""Live opportunities → manifest files (``lfr export``): bootstrapping a repository from the CRM.

Owns how a live record is spelled as a manifest so that ``lfr plan`` right after an export is
empty, and how a re-export merges into the file that already manages a record.

Spelling (every writable key that has a value; read-only keys and empty values are left out):
select options by label, or by option id (with the label in a comment) when the label names
several options, which validation refuses; dates at midnight UTC as plain dates, other instants
in full; numbers as numbers; ADDRESS / FULL_NAME as mappings; members and contacts by
``{email}``, accounts by ``{name}``, else ``{domain}``, else the raw id. A reference is written
only when the resolver (``runs.resolve``, the code ``lfr plan`` runs) finds exactly that record
with it. Each field value is read back through ``core.org.normalize_desired`` before it is
written: a value lfr could not read back as the same value is left out with a note. Left out on
purpose: ``$pipeline`` (a write hint that follows from ``$stage``: writing both would make a later
stage change across pipelines send a stale hint) and ``$createdBy`` (provenance, not intent; a
copied manifest would claim another record's creator).

Re-export: a record already managed by a document below the directory (by ``metadata.id``, or by
a ``match`` selector that finds it) is merged into that document (``adapters.merge``, ruamel.yaml's
round trip: comments, key order and the spelling of values that still hold are kept). Other
documents and files are never touched. Never loses work: a file to rewrite that holds
uncommitted git changes stops the export before anything is written (unless forced), a dry run
renders every file without writing, and ``only_new`` leaves managed records alone.

Reading: ``--all`` from the list's pages; a listed record whose manifest would change is read
afresh (the index lags writes) and the files rendered again, so a file changes only from a
fresh read. ``pin_manifests`` (``lfr pin``) writes the record each ``match`` selects into its
manifest as ``metadata.id``.

Owns the use case: which records, which existing documents manage them, the references each
related record can be written with. The spelling is ``core.spelling``'s, the YAML
``adapters.writer``'s. Called by the CLI; never prints.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..adapters.client import LIST_OF, MAX_PAGE_SIZE, LightfieldClient, ObjectType
from ..adapters.loader import load_tree
from ..adapters.revision import uncommitted
from ..adapters.writer import Existing, ExportedFile, Writer, pin_file, write_files
from ..core.characters import refused_in
from ..core.desired import build_desired
from ..core.errors import LfrError, NotFound
from ..core.model import (
    LOOKUP_MODELS,
    DesiredRecord,
    DesiredRelationship,
    LoadedManifest,
    Reference,
    Spec,
    is_set,
    parse_manifests,
)
from ..core.org import (
    OrgSchema,
)
from ..core.records import Record
from ..core.spelling import UNWRITABLE, Fresh, LookupKey, lookup_key, reference_items
from ..core.vocabulary import Document, Origin, Problem
from .fetch import fetch_live
from .resolve import bare_domain, resolve_references, texts
from .sets import set_managed_keys

PAGE = MAX_PAGE_SIZE


class ExportError(LfrError):
    """Export cannot run as asked (no such record, a directory that is a file...)."""


class ExportProblems(LfrError):
    """Manifests already in the directory that export cannot read safely; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the existing manifests; nothing was written"
        )


@dataclass
class ExportResult:
    files: list[ExportedFile] = field(default_factory=list)
    # Values left out because lfr could not write them back exactly.
    notes: list[str] = field(default_factory=list)
    # Records already managed that ``only_new`` left alone.
    skipped: int = 0


class UncommittedFiles(LfrError):
    """Files the export would rewrite hold changes git has not committed; nothing was written."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.details = tuple(f"  {path.as_posix()}" for path in self.paths)
        super().__init__(
            f"{len(self.paths)} manifest file(s) the export would rewrite have uncommitted "
            "changes; nothing was written. Commit or stash them, look with --dry-run, or pass "
            "--force to overwrite"
        )


async def export_opportunities(
    client: LightfieldClient,
    directory: Path,
    *,
    ids: Sequence[str] | None,
    schema_ref: str | None = None,
    only_new: bool = False,
    dry_run: bool = False,
    force: bool = False,
) -> ExportResult:
    """Write a manifest per record (``ids``, or every live opportunity when None) below
    ``directory``; ``schema_ref`` is the ``$schema`` path put on the first line of new files.

    ``only_new``: leave the records a manifest already manages alone. ``dry_run``: render the
    files (``ExportedFile.before`` / ``after``), write nothing. A file to rewrite that holds
    uncommitted changes raises ``UncommittedFiles`` unless ``force``."""
    existing, selectors = _scan_directory(directory)
    schema = OrgSchema(await client.definitions("opportunities"))
    records, listed = await _read_records(client, ids)
    if selectors:
        await _find_matched(client, schema, selectors, existing)
    managed: dict[str, dict[str, str]] = {}
    if existing.sets:
        managed, problems = await set_managed_keys(client, existing.sets, schema)
        if problems:
            raise ExportProblems(problems)  # a set that does not check could manage any key
    result = ExportResult()
    if only_new:
        kept = [r for r in records if r.id not in existing.owner]
        result.skipped = len(records) - len(kept)
        records = kept
    result.files, result.notes = await _render(
        client, schema, directory, existing, records, schema_ref, managed
    )
    # A listed record is as the (lagging) list index saw it. Where that would rewrite a managed
    # record's document, the record is read afresh first and the files rendered again: a file
    # is only ever changed from a fresh read. (A new file written from the list is checked by
    # the next plan, which reads every difference afresh.)
    stale = sorted(
        {i for f in result.files if f.status == "updated" for i in f.changed} & set(listed)
    )
    if stale:
        fresh = {r.id: r for r in await _retrieve_each(client, stale)}
        records = [fresh.get(r.id, r) for r in records if r.id not in stale or r.id in fresh]
        result.files, result.notes = await _render(
            client, schema, directory, existing, records, schema_ref, managed
        )
    if not dry_run:
        rewritten = [f.path for f in result.files if f.status == "updated"]
        dirty = [] if force else uncommitted(directory, rewritten)
        if dirty:
            raise UncommittedFiles(dirty)
        write_files(result.files)
    return result


async def _render(
    client: LightfieldClient,
    schema: OrgSchema,
    directory: Path,
    existing: Existing,
    records: Sequence[Record],
    schema_ref: str | None,
    managed: dict[str, dict[str, str]] | None = None,
) -> tuple[list[ExportedFile], list[str]]:
    """The files ``records`` make below ``directory``, and the notes on values left out. A key
    an ``OpportunitySet`` manages on a record (``managed``) is never written to its manifest:
    two documents managing one key would conflict as soon as the set changed."""
    related = await _related_records(client, schema, records)
    owned = [existing.owner[r.id] for r in records if r.id in existing.owner]
    references = await _References.build(
        client, schema, related, [existing.documents[o].data for o in owned]
    )
    notes: list[str] = []
    fresh = [Fresh.of(schema, record, references, notes) for record in records]
    for item in fresh:
        for key, name in (managed or {}).get(item.record.id, {}).items():
            for values in (item.fields, item.relationships):
                if key in values:
                    values[key] = UNWRITABLE
            notes.append(f"{item.record.id}: {key} left out: set {name} manages it")
    writer = Writer(schema, references, directory, existing, schema_ref)
    for item in fresh:
        writer.add(item)
    return writer.render(), notes


async def pin_manifests(
    client: LightfieldClient, directory: Path, *, dry_run: bool = False
) -> PinResult:
    """Write into each ``match`` manifest below ``directory`` the record it selects, as
    ``metadata.id`` (``dry_run``: render only); the selectors that select no record are listed
    in ``unmatched``."""
    existing, selectors = _scan_directory(directory)
    result = PinResult()
    if not selectors:
        return result
    schema = OrgSchema(await client.definitions("opportunities"))
    found = await _find_matched(client, schema, selectors, existing)
    by_file: dict[Path, dict[int, str]] = defaultdict(dict)
    for document in selectors:
        place = (Path(document.file), document.index)
        if place in found:
            by_file[place[0]][place[1]] = found[place]
        else:
            name = document.data["metadata"].get("name")
            result.unmatched.append((Origin(document.file, document.line), str(name)))
    result.files = [pin_file(path, ids) for path, ids in sorted(by_file.items())]
    if not dry_run:
        write_files(result.files)
    return result


@dataclass
class PinResult:
    files: list[ExportedFile] = field(default_factory=list)
    # (origin, metadata.name) of each match manifest that selects no record (a create to come)
    unmatched: list[tuple[Origin, str]] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------


async def _read_records(
    client: LightfieldClient, ids: Sequence[str] | None
) -> tuple[list[Record], set[str]]:
    """The records to export, and which of them were read from the list index.

    Every record (``ids`` None): from the list's pages, 25 a request, not a read each. Records
    by id: each read afresh (a ``GET``)."""
    if ids is None:
        listed = {r.id: r for r in await client.list_all("opportunities")}
        return sorted(listed.values(), key=lambda r: r.id), set(listed)
    wanted = list(dict.fromkeys(ids))
    missing: list[str] = []

    async def one(record_id: str) -> Record | None:
        try:
            return await client.retrieve("opportunities", record_id)
        except (NotFound, ValueError):
            missing.append(record_id)
            return None

    found = [r for r in await asyncio.gather(*(one(i) for i in wanted)) if r is not None]
    if missing:
        raise ExportError(
            "no such opportunity (or it is in the trash): " + ", ".join(sorted(missing))
        )
    return sorted(found, key=lambda r: r.id), set()


async def _retrieve_each(client: LightfieldClient, ids: Sequence[str]) -> list[Record]:
    """Fresh reads; a record gone since it was listed is left out."""

    async def one(record_id: str) -> Record | None:
        try:
            return await client.retrieve("opportunities", record_id)
        except NotFound:
            return None

    return [r for r in await asyncio.gather(*(one(i) for i in ids)) if r is not None]


def _scan_directory(directory: Path) -> tuple[Existing, list[Document]]:
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


async def _find_matched(
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


async def _related_records(
    client: LightfieldClient, schema: OrgSchema, records: Sequence[Record]
) -> dict[str, tuple[str, Record]]:
    """The members, contacts and accounts the records link to: id → (object type, record)."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for key, definition in schema.definitions.relationship_definitions.items():
        if definition.object_type in LIST_OF and not schema.relationship_read_only(key):
            for record in records:
                wanted[definition.object_type].update(record.related_ids(key))
    kinds = [kind for kind, ids in wanted.items() if ids]
    lists = await asyncio.gather(*(_some_of(client, LIST_OF[k], wanted[k]) for k in kinds))
    return {r.id: (kind, r) for kind, listed in zip(kinds, lists, strict=True) for r in listed}


async def _some_of(client: LightfieldClient, list_type: ObjectType, ids: set[str]) -> list[Record]:
    """Records by id: one scan of the list when that takes fewer requests than a read each."""
    first = await client.list_page(list_type, limit=PAGE)
    pages = math.ceil((first.total_count or 0) / PAGE)
    listed: list[Record] = first.data
    if len(first.data) == PAGE and len(ids) >= pages:
        listed = await client.list_rest(list_type, first)
    records = {r.id: r for r in listed if r.id in ids}

    async def one(record_id: str) -> Record | None:
        try:
            return await client.retrieve(list_type, record_id)
        except NotFound:
            return None  # a dangling link: written as the raw id

    # Ids the scan did not show (the list index lags writes) are read one by one.
    rest = await asyncio.gather(*(one(i) for i in sorted(ids - set(records))))
    return [*records.values(), *(r for r in rest if r is not None)]


# --- references ------------------------------------------------------------------------------


def _reference(key: LookupKey) -> Reference:
    _, word, value = key
    return LOOKUP_MODELS[word].model_validate({word: value})


class _References:
    """Which reference spells which related record, checked with the plan's own resolver."""

    def __init__(
        self, related: dict[str, tuple[str, Record]], resolved: dict[LookupKey, str]
    ) -> None:
        self.related = related
        self.resolved = resolved

    @classmethod
    async def build(
        cls,
        client: LightfieldClient,
        schema: OrgSchema,
        related: dict[str, tuple[str, Record]],
        documents: Sequence[Any],
    ) -> _References:
        keys: set[LookupKey] = set()
        for object_type, record in related.values():
            keys.update(_candidates(object_type, record))
        # References already written in the manifests being merged, to tell whether they
        # still name the live links.
        for data in documents:
            spec = data.get("spec") if isinstance(data, dict) else None
            links = spec.get("relationships") if isinstance(spec, dict) else None
            for key, value in links.items() if isinstance(links, dict) else ():
                definition = schema.relationship(str(key))
                if definition is not None:
                    for item in reference_items(value):
                        lookup = lookup_key(definition.object_type, item)
                        if lookup is not None:
                            keys.add(lookup)
        ordered = sorted(keys)
        origin = Origin("<export>", 0)
        probes = [
            DesiredRecord(
                name=str(n),
                origin=origin,
                id=None,
                match_fields=(),
                match_relationships=(),
                on_missing="error",
                fields=(),
                relationships=(
                    DesiredRelationship(
                        "probe", "HAS_ONE", key[0], True, (_reference(key),), (), origin
                    ),
                ),
            )
            for n, key in enumerate(ordered)
        ]
        resolution = await resolve_references(client, probes)
        resolved = {
            ordered[int(probe.name)]: str(probe.relationships[0].include[0])
            for probe in resolution.records
        }
        return cls(related, resolved)

    def spell(self, object_type: str, record_id: str) -> Any:
        """``{email: ...}`` / ``{name: ...}`` / ``{domain: ...}`` when it finds exactly this
        record, else the id."""
        found = self.related.get(record_id)
        if found is not None:
            for key in _candidates(object_type, found[1]):
                if self.resolved.get(key) == record_id:
                    return {key[1]: key[2]}
        return record_id

    def id_of(self, object_type: str, item: Any) -> str | None:
        """The id a manifest reference item names, or None when it names no single record."""
        if isinstance(item, str):
            return item
        lookup = lookup_key(object_type, item)
        return None if lookup is None else self.resolved.get(lookup)


def _candidates(object_type: str, record: Record) -> list[LookupKey]:
    """References that could name ``record``, best first."""
    # A name or address holding a character no manifest may hold is no reference: the id is.
    if object_type in ("member", "contact"):
        return [
            (object_type, "email", e)
            for e in texts(record.value("$email"))
            if e.strip() and refused_in(e) is None
        ]
    if object_type == "account":
        keys: list[LookupKey] = []
        name = record.value("$name")
        if isinstance(name, str) and name.strip() and refused_in(name) is None:
            keys.append((object_type, "name", name))
        for url in texts(record.value("$website")):
            host = bare_domain(url)
            if host:
                keys.append((object_type, "domain", host))
        return keys
    return []


# --- live values → manifest values -----------------------------------------------------------


# --- YAML ------------------------------------------------------------------------------------


# --- composing and merging documents ---------------------------------------------------------
