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
fresh read.

Owns the use case: which records, read how, rendered and written when. Which existing
documents manage them is ``runs.existing_manifests``', the references each related record can
be written with ``runs.export_references``', the spelling ``core.spelling``'s, the YAML
``adapters.writer``'s. Called by the CLI; never prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.revision import uncommitted
from ..adapters.writer import Existing, ExportedFile, Writer, write_files
from ..core.errors import LfrError, NotFound
from ..core.org import OrgSchema
from ..core.records import Record
from ..core.spelling import UNWRITABLE, Fresh
from .existing_manifests import ExportError, ExportProblems, find_matched, scan_directory
from .export_references import References, related_records
from .sets import set_managed_keys


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
    existing, selectors = scan_directory(directory)
    schema = OrgSchema(await client.definitions("opportunities"))
    records, listed = await _read_records(client, ids)
    if selectors:
        await find_matched(client, schema, selectors, existing)
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
    related = await related_records(client, schema, records)
    owned = [existing.owner[r.id] for r in records if r.id in existing.owner]
    references = await References.build(
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
