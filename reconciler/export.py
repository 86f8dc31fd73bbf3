"""Live opportunities → manifest files (``lfr export``): bootstrapping a repository from the CRM.

Owns how a live record is spelled as a manifest so that ``lfr plan`` right after an export is
empty, and how a re-export merges into the file that already manages a record.

Spelling (every writable key that has a value; read-only keys and empty values are left out):
select options by label, or by option id (with the label in a comment) when the label names
several options, which validation refuses; dates at midnight UTC as plain dates, other instants
in full; numbers as numbers; ADDRESS / FULL_NAME as mappings; members and contacts by
``{email}``, accounts by ``{name}``, else ``{domain}``, else the raw id. A reference is written
only when the resolver (``resolve.py``, the code ``lfr plan`` runs) finds exactly that record
with it. Each field value is read back through ``schema.normalize_desired`` before it is
written: a value lfr could not read back as the same value is left out with a note. Left out on
purpose: ``$pipeline`` (a write hint that follows from ``$stage``: writing both would make a later
stage change across pipelines send a stale hint) and ``$createdBy`` (provenance, not intent; a
copied manifest would claim another record's creator).

Re-export: a record already managed by a document below the directory (by ``metadata.id``, or by
a ``match`` selector that finds it) is merged into that document with ruamel.yaml's round trip:
comments, key order and the spelling of values that still hold are kept; changed values are
replaced in place; keys newly set in the CRM are appended to their mapping; keys are never
removed: a key whose live value became empty is written as null (``[]`` for HAS_MANY), so it
stays managed. A file in which nothing changed is not rewritten. Other documents and files
are never touched.

The second user of ruamel.yaml besides manifests.py (design §3, "round trip that must preserve
comments"). Called by the CLI; never prints.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from io import StringIO
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

from .client import LIST_OF, MAX_PAGE_SIZE, LightfieldClient, ObjectType
from .desired import build_desired
from .errors import LfrError, NotFound
from .fetch import fetch_live
from .manifests import Document, Problem, load_tree, refused_in
from .model import (
    API_VERSION,
    KIND,
    LOOKUP_MODELS,
    DesiredRecord,
    DesiredRelationship,
    LoadedManifest,
    Origin,
    Reference,
    Spec,
    lookup_of,
    parse_manifests,
)
from .records import FieldDefinition, Record
from .resolve import bare_domain, resolve_references, texts
from .schema import (
    ADDRESS_PARTS,
    FULL_NAME_PARTS,
    OrgSchema,
    ValueProblem,
    fold,
    is_empty,
    normalize_desired,
    normalize_live,
    same_value,
)

# Keys export does not add (see the module docstring); refreshed when a manifest has them.
NOT_EXPORTED_FIELDS = frozenset({"$pipeline"})
NOT_EXPORTED_RELATIONSHIPS = frozenset({"$createdBy"})
SCHEMA_MODELINE = "# yaml-language-server: $schema={}"
PAGE = MAX_PAGE_SIZE
MAX_NAME = 100
# Longest flow list written on one line; longer lists are written as block sequences.
FLOW_WIDTH = 72

ExportStatus = Literal["created", "updated", "unchanged"]


class ExportError(LfrError):
    """Export cannot run as asked (no such record, a directory that is a file...)."""


class ExportProblems(LfrError):
    """Manifests already in the directory that export cannot read safely; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the existing manifests; nothing was written"
        )


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    status: ExportStatus
    # (metadata.name, record id) of each exported record in the file.
    records: tuple[tuple[str, str], ...]


@dataclass
class ExportResult:
    files: list[ExportedFile] = field(default_factory=list)
    # Values left out because lfr could not write them back exactly.
    notes: list[str] = field(default_factory=list)


async def export_opportunities(
    client: LightfieldClient,
    directory: Path,
    *,
    ids: Sequence[str] | None,
    schema_ref: str | None = None,
) -> ExportResult:
    """Write a manifest per record (``ids``, or every live opportunity when None) below
    ``directory``; ``schema_ref`` is the ``$schema`` path put on the first line of new files."""
    existing, selectors = _scan_directory(directory)
    schema = OrgSchema(await client.definitions("opportunities"))
    records = await _read_records(client, ids)
    if selectors:
        await _find_matched(client, schema, selectors, existing)
    related = await _related_records(client, schema, records)
    owned = [existing.owner[r.id] for r in records if r.id in existing.owner]
    references = await _References.build(
        client, schema, related, [existing.documents[o].data for o in owned]
    )
    result = ExportResult()
    fresh = [_Fresh.of(schema, record, references, result.notes) for record in records]
    writer = _Writer(schema, references, directory, existing, schema_ref)
    for item in fresh:
        writer.add(item)
    result.files = writer.write()
    return result


# --- reading ---------------------------------------------------------------------------------


async def _read_records(client: LightfieldClient, ids: Sequence[str] | None) -> list[Record]:
    """Each record by id: a fresh read, not the list index, which may lag behind writes."""
    if ids is None:
        wanted = sorted({r.id for r in await client.list_all("opportunities")})
    else:
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
    return sorted(found, key=lambda r: r.id)


@dataclass
class _Existing:
    """The manifests already below the export directory."""

    documents: dict[tuple[Path, int], Document] = field(default_factory=dict)
    # record id → (file, index of the document) of the manifest that manages it
    owner: dict[str, tuple[Path, int]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)


def _scan_directory(directory: Path) -> tuple[_Existing, list[Document]]:
    """The manifests below ``directory``, and those among them that find their record by
    ``match`` (which takes the API to tell)."""
    existing = _Existing()
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
        record_id = metadata.get("id")
        if isinstance(record_id, str) and record_id:
            existing.owner.setdefault(record_id, place)
        elif isinstance(metadata.get("match"), dict):
            selectors.append(document)
    return existing, selectors


async def _find_matched(
    client: LightfieldClient, schema: OrgSchema, selectors: list[Document], existing: _Existing
) -> None:
    """Which records the ``match`` manifests find, exactly as ``lfr plan`` finds them. Only
    the selector is checked: a problem elsewhere in such a manifest is not export's business."""
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
    fetched = await fetch_live(client, resolution.records, lambda wanted, listed: False, schema)
    if fetched.problems:
        raise ExportProblems(fetched.problems)
    by_origin = {(d.file, d.line): (Path(d.file), d.index) for d in selectors}
    for wanted, live in fetched.pairs:
        if live is not None:
            place = by_origin[(wanted.origin.file, wanted.origin.line)]
            existing.owner.setdefault(live.id, place)


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

LookupKey = tuple[str, str, str]  # (object type, "email" | "name" | "domain", value)


def _lookup_key(object_type: str, item: Any) -> LookupKey | None:
    """A manifest reference item (``{email: x}``...) as a lookup, or None when it is not one."""
    lookup = lookup_of(item)
    if lookup is None:
        return None
    ((word, value),) = lookup.model_dump().items()
    return object_type, word, value


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
                    for item in _reference_items(value):
                        lookup = _lookup_key(definition.object_type, item)
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
        lookup = _lookup_key(object_type, item)
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


def _reference_items(value: Any) -> list[Any]:
    """The reference items of a relationship value in any of its manifest shapes."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict) and set(value) <= {"include", "exclude"} and value:
        return [item for part in value.values() if isinstance(part, list) for item in part]
    return [] if value is None else [value]


# --- live values → manifest values -----------------------------------------------------------


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EMPTY = _Marker("EMPTY")  # no value live: left out of new documents
UNWRITABLE = _Marker("UNWRITABLE")  # a value lfr cannot write back exactly: never touched


class _Instant(str):
    """A date-time written as a plain YAML timestamp (``2027-03-31T12:30:00Z``), not quoted."""


@dataclass
class _Fresh:
    """One live record as manifest values: every writable key, in definition order."""

    record: Record
    name: str  # the record's $name, for the slug
    fields: dict[str, Any]
    canonical: dict[str, Any]  # normalize_live of each field
    relationships: dict[str, Any]

    @classmethod
    def of(
        cls, schema: OrgSchema, record: Record, references: _References, notes: list[str]
    ) -> _Fresh:
        title = record.value("$name")
        fresh = cls(record, title if isinstance(title, str) else "", {}, {}, {})
        for key, definition in schema.definitions.field_definitions.items():
            if schema.field_read_only(key):
                continue
            canonical = fresh.canonical[key] = normalize_live(definition, record.value(key))
            refused = _refused(canonical)
            if refused is not None:  # the loader would refuse the file: leave the key out
                fresh.fields[key] = UNWRITABLE
                notes.append(
                    f"{record.id}: field {key} left out: its value holds {refused}, which no "
                    "manifest may hold"
                )
                continue
            fresh.fields[key] = _field_value(schema, key, definition, canonical)
            if fresh.fields[key] is UNWRITABLE:
                notes.append(
                    f"{record.id}: field {key} ({definition.value_type}) left out: lfr cannot "
                    "write its value back exactly"
                )
        for key, relationship in schema.definitions.relationship_definitions.items():
            if schema.relationship_read_only(key):
                continue
            ids = record.related_ids(key)
            spelled = [references.spell(relationship.object_type, i) for i in ids]
            if not ids:
                fresh.relationships[key] = EMPTY
            elif relationship.many:
                fresh.relationships[key] = spelled
            elif len(ids) == 1:
                fresh.relationships[key] = spelled[0]
            else:
                fresh.relationships[key] = UNWRITABLE
                notes.append(f"{record.id}: HAS_ONE {key} links {len(ids)} records; left out")
        return fresh


def _refused(value: Any) -> str | None:
    """The first character of a live value's text that no manifest may hold, if any."""
    if isinstance(value, str):
        return refused_in(value)
    items = value.values() if isinstance(value, dict) else value
    if isinstance(items, Iterable) and not isinstance(items, str | bytes):
        return next((found for item in items if (found := _refused(item)) is not None), None)
    return None


def _field_value(schema: OrgSchema, key: str, definition: FieldDefinition, canonical: Any) -> Any:
    """How the manifest spells a live value (given in canonical form), if it reads back equal."""
    if is_empty(canonical):
        return EMPTY
    try:
        value = _spell_field(definition, canonical)
        read_back = normalize_desired(schema, key, _plain(value))
    except (ValueProblem, ValueError, TypeError):
        return UNWRITABLE
    if isinstance(read_back, dict) and isinstance(canonical, dict):
        canonical = {part: canonical.get(part) for part in read_back}
    return value if read_back == canonical else UNWRITABLE


def _spell_field(definition: FieldDefinition, canonical: Any) -> Any:
    kind = definition.value_type
    if kind == "DATETIME":
        text = str(canonical)
        if text.endswith("T00:00:00.000Z"):
            return date.fromisoformat(text[:10])
        return _Instant(text.replace(".000Z", "Z"))
    if kind in ("SINGLE_SELECT", "MULTI_SELECT"):
        options = definition.type_configuration.options
        labels = {o.id: o.label for o in options}
        folded = Counter(fold(o.label) for o in options)

        def one(option_id: Any) -> str:
            if option_id not in labels:
                raise ValueError(f"unknown option {option_id!r}")
            label = labels[option_id]
            # An ambiguous label would be refused by validation: the id says which option.
            return label if folded[fold(label)] == 1 else str(option_id)

        if kind == "SINGLE_SELECT":
            return one(canonical)
        return [one(option_id) for option_id in canonical]
    if kind in ("ADDRESS", "FULL_NAME"):
        parts = ADDRESS_PARTS if kind == "ADDRESS" else FULL_NAME_PARTS
        return {part: canonical[part] for part in parts if canonical.get(part) is not None}
    if kind in ("EMAIL", "URL", "TELEPHONE"):
        # Plain str (an address is an EmailAddress, which YAML cannot represent).
        if isinstance(canonical, tuple):
            return [str(item) for item in canonical]
        return str(canonical) if isinstance(canonical, str) else canonical
    if kind in ("NUMBER", "CURRENCY", "CHECKBOX", "TEXT", "MARKDOWN", "HTML", "SOCIAL_HANDLE"):
        return canonical
    raise ValueError(f"value type {kind} is not written by lfr")


def _plain(value: Any) -> Any:
    """A value as the manifest loader would read it back (and round-trip nodes as plain data)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime):
        return datetime.isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    return value


def _option_note(schema: OrgSchema, key: str, value: Any) -> str | None:
    """``Negotiation (Renewals pipeline)`` for a select value written as an option id."""
    definition = schema.field(key)
    if definition is None or definition.value_type != "SINGLE_SELECT":
        return None
    if not isinstance(value, str):
        return None
    for option in definition.type_configuration.options:
        if option.id == value:
            if option.parent_id is None:
                return option.label
            return f"{option.label} ({schema.pipeline_name(option.parent_id)} pipeline)"
    return None


# --- YAML ------------------------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """Round-trip representer that writes ``null`` (not an empty value) and plain instants."""

    def represent_none(self, data: Any) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")

    def represent_instant(self, data: _Instant) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:timestamp", str(data))


_Representer.add_representer(type(None), _Representer.represent_none)
_Representer.add_representer(_Instant, _Representer.represent_instant)


def _yaml(mapping: int = 2, sequence: int = 4, offset: int = 2) -> YAML:
    yaml = YAML()  # round trip, YAML 1.2
    yaml.Representer = _Representer
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long text value over several lines
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # [{email: a}], not [email: a]
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation of an existing file, so a merge keeps it."""
    mapping, offset = 0, -1
    previous: tuple[int, str] | None = None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped.startswith("---"):
            continue
        indent = len(line) - len(stripped)
        if previous is not None and previous[1].rstrip().endswith(":"):
            step = indent - previous[0]
            if stripped.startswith("- ") and offset < 0 and step >= 0:
                offset = step
            elif not stripped.startswith("- ") and step > 0 and not mapping:
                mapping = step
        previous = (indent, stripped)
    mapping = mapping or 2
    offset = offset if offset >= 0 else 2
    return mapping, offset + 2, offset


def _node(value: Any, flow: bool = False) -> Any:
    """A manifest value as a round-trip node: short lists and references in flow style."""
    if isinstance(value, dict):
        inline = flow or _lookup_key("", value) is not None
        node = CommentedMap((k, _node(v, inline)) for k, v in value.items())
        if inline:
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        return node
    if isinstance(value, list):
        inline = flow or len(_flow_text(value)) <= FLOW_WIDTH
        seq = CommentedSeq(_node(v, inline) for v in value)
        if inline:
            seq.fa.set_flow_style()
        else:
            seq.fa.set_block_style()
        return seq
    if isinstance(value, str) and not isinstance(value, _Instant):
        if flow and ":" in value:
            # libyaml (the manifest loader's parser) refuses a plain ':' inside [...] / {...}.
            return SingleQuotedScalarString(value)
        if not flow and _literal_ok(value):
            return LiteralScalarString(value)
    return value


def _in(container: CommentedMap | CommentedSeq, value: Any) -> Any:
    """``value`` as a node for an existing mapping or list (flow inside a flow collection)."""
    return _node(value, flow=bool(container.fa.flow_style()))


def _flow_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _literal_ok(text: str) -> bool:
    """Multi-line text reads best as a ``|`` block; only when the block keeps it exactly."""
    lines = text.split("\n")
    return (
        len(lines) > 1
        and "\r" not in text
        and not text.startswith((" ", "\t"))
        and all(line == line.rstrip() for line in lines)
        and not text.endswith("\n\n")
    )


def _replace_note(mapping: CommentedMap, key: Any, old: str | None, new: str | None) -> None:
    """Keep an option id's label comment right: a comment export wrote for the old value is
    replaced; any other comment is the user's and stays."""
    items = mapping.ca.items.get(key)
    token = items[2] if items and len(items) > 2 else None
    if token is None:
        if new is not None:
            mapping.yaml_add_eol_comment(new, key)
        return
    first, newline, rest = str(token.value).partition("\n")
    if old is None or first.strip() != f"# {old}":
        return
    if new is not None:
        token.value = f"# {new}{newline}{rest}"
    elif rest.strip():
        token.value = f"{newline}{rest}"
    else:
        items[2] = None


# --- composing and merging documents ---------------------------------------------------------


class _Writer:
    """Plans every file write of one export, then writes them."""

    def __init__(
        self,
        schema: OrgSchema,
        references: _References,
        directory: Path,
        existing: _Existing,
        schema_ref: str | None,
    ) -> None:
        self.schema = schema
        self.references = references
        self.directory = directory
        self.existing = existing
        self.schema_ref = schema_ref
        self.names = set(existing.names)
        self.new_files: dict[Path, tuple[tuple[str, str], CommentedMap]] = {}
        self.merges: dict[Path, list[tuple[int, _Fresh]]] = defaultdict(list)

    def add(self, fresh: _Fresh) -> None:
        place = self.existing.owner.get(fresh.record.id)
        if place is not None:
            self.merges[place[0]].append((place[1], fresh))
            return
        name = self._unique_name(fresh)
        path = self.directory / f"{name}.yaml"
        if path.exists() or path in self.new_files:
            path = self.directory / f"{name}-{fresh.record.id.lower()}.yaml"
        self.new_files[path] = ((name, fresh.record.id), self._new_document(name, fresh))

    def write(self) -> list[ExportedFile]:
        files: list[ExportedFile] = []
        for path, (entry, document) in self.new_files.items():
            text = _dump(_yaml(), [document])
            if self.schema_ref:
                text = SCHEMA_MODELINE.format(self.schema_ref) + "\n" + text
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, text)
            files.append(ExportedFile(path, "created", (entry,)))
        for path, merges in self.merges.items():
            files.append(self._merge_file(path, merges))
        return sorted(files, key=lambda f: f.path.as_posix())

    def _unique_name(self, fresh: _Fresh) -> str:
        """A slug of the record's name; with the record id appended when it is taken."""
        suffix = _slug(fresh.record.id.lower())
        base = _slug(fresh.name) or suffix
        trimmed = base[: MAX_NAME - len(suffix) - 4].rstrip("._-")
        candidates = itertools.chain(
            [base, f"{trimmed}-{suffix}"], (f"{trimmed}-{suffix}-{n}" for n in itertools.count(2))
        )
        name = next(c for c in candidates if c not in self.names)
        self.names.add(name)
        return name

    def _new_document(self, name: str, fresh: _Fresh) -> CommentedMap:
        fields = CommentedMap()
        for key, value in fresh.fields.items():
            if key not in NOT_EXPORTED_FIELDS and value not in (EMPTY, UNWRITABLE):
                fields[key] = _node(value)
                note = _option_note(self.schema, key, value)
                if note is not None:
                    fields.yaml_add_eol_comment(note, key)
        relationships = CommentedMap()
        for key, value in fresh.relationships.items():
            if key not in NOT_EXPORTED_RELATIONSHIPS and value not in (EMPTY, UNWRITABLE):
                relationships[key] = _node(value)
        spec = CommentedMap()
        if fields:
            spec["fields"] = fields
        if relationships:
            spec["relationships"] = relationships
        document = CommentedMap()
        document["apiVersion"] = API_VERSION
        document["kind"] = KIND
        document["metadata"] = CommentedMap([("name", name), ("id", fresh.record.id)])
        if spec:
            document["spec"] = spec
        return document

    def _merge_file(self, path: Path, merges: list[tuple[int, _Fresh]]) -> ExportedFile:
        text = path.read_text(encoding="utf-8")
        yaml = _yaml(*_guess_indent(text))
        documents = list(yaml.load_all(text))
        changed = False
        entries: list[tuple[str, str]] = []
        for index, fresh in merges:
            document = documents[index]
            changed |= _Merge(self.schema, self.references, fresh).document(document)
            entries.append((str(document["metadata"]["name"]), fresh.record.id))
        if not changed:
            return ExportedFile(path, "unchanged", tuple(entries))
        _write_atomically(path, _dump(yaml, documents))
        return ExportedFile(path, "updated", tuple(entries))


class _Merge:
    """Fresh values into one existing document; returns whether anything changed."""

    def __init__(self, schema: OrgSchema, references: _References, fresh: _Fresh) -> None:
        self.schema = schema
        self.references = references
        self.fresh = fresh

    def document(self, document: CommentedMap) -> bool:
        spec = document.get("spec")
        if not isinstance(spec, CommentedMap):
            spec = CommentedMap()
        fields = spec.get("fields")
        fields = fields if isinstance(fields, CommentedMap) else CommentedMap()
        relationships = spec.get("relationships")
        relationships = relationships if isinstance(relationships, CommentedMap) else CommentedMap()
        changed = False
        for key in list(fields):
            if key in self.fresh.fields:
                changed |= self._field(fields, key)
        for key, value in self.fresh.fields.items():
            if key not in fields and key not in NOT_EXPORTED_FIELDS and _has(value):
                fields[key] = _in(fields, value)
                _replace_note(fields, key, None, _option_note(self.schema, key, value))
                changed = True
        for key in list(relationships):
            if key in self.fresh.relationships:
                changed |= self._relationship(relationships, key)
        for key, value in self.fresh.relationships.items():
            if key not in relationships and key not in NOT_EXPORTED_RELATIONSHIPS and _has(value):
                relationships[key] = _in(relationships, value)
                changed = True
        if changed:
            for part, mapping in (("fields", fields), ("relationships", relationships)):
                if mapping and spec.get(part) is not mapping:
                    spec[part] = mapping
            if document.get("spec") is not spec:
                document["spec"] = spec
        return changed

    # fields

    def _field(self, fields: CommentedMap, key: str) -> bool:
        value = self.fresh.fields[key]
        if value is UNWRITABLE:
            return False
        current = fields[key]
        live = self.fresh.canonical[key]
        if isinstance(current, CommentedMap) and isinstance(value, dict):
            return self._parts(current, key, value)
        if self._holds(key, current, live):
            return False
        if value is EMPTY:
            fields[key] = CommentedSeq() if isinstance(current, list) else None
        elif isinstance(current, CommentedSeq) and isinstance(value, list):
            _merge_list(current, value, lambda item: self._item(key, item))
        else:
            fields[key] = _in(fields, value)
        old, new = _option_note(self.schema, key, current), _option_note(self.schema, key, value)
        _replace_note(fields, key, old, new)
        return True

    def _holds(self, key: str, current: Any, live: Any) -> bool:
        """Does the manifest's value read as the live value (so its spelling can stay)?"""
        try:
            wanted = normalize_desired(self.schema, key, _plain(current))
        except ValueProblem:
            return False
        return same_value(wanted, live)

    def _item(self, key: str, item: Any) -> Hashable | None:
        """One item of a set-like list field (multi-select, emails...) in canonical form."""
        try:
            value = normalize_desired(self.schema, key, [_plain(item)])
        except ValueProblem:
            return None
        return value[0] if isinstance(value, tuple) and len(value) == 1 else None

    def _parts(self, current: CommentedMap, key: str, value: dict[str, Any]) -> bool:
        """ADDRESS / FULL_NAME part by part, like keys of a mapping."""
        live = self.fresh.canonical[key] or {}
        changed = False
        for part in list(current):
            if self._holds_part(key, part, current[part], live.get(part)):
                continue
            current[part] = _in(current, value.get(part))
            changed = True
        for part, item in value.items():
            if part not in current:
                current[part] = _in(current, item)
                changed = True
        return changed

    def _holds_part(self, key: str, part: Any, current: Any, live: Any) -> bool:
        try:
            wanted = normalize_desired(self.schema, key, {str(part): _plain(current)})
        except ValueProblem:
            return False
        return bool(wanted.get(str(part)) == live)

    # relationships

    def _relationship(self, relationships: CommentedMap, key: str) -> bool:
        value = self.fresh.relationships[key]
        definition = self.schema.relationship(key)
        if value is UNWRITABLE or definition is None:
            return False
        object_type = definition.object_type
        many = definition.many
        live = set(self.fresh.record.related_ids(key))
        current = relationships[key]

        def id_of(item: Any) -> str | None:
            return self.references.id_of(object_type, _plain(item))

        if _is_partial(current):
            if self._partial_holds(current, live, id_of):
                return False
            if self._narrow_partial(current, live, id_of):
                return True
            # Nothing is left to own partially: the exact live list says what holds.
        else:
            ids = [id_of(item) for item in _reference_items(current)]
            holds = None not in ids and set(ids) == live
            if holds and (many or not isinstance(current, list)):
                return False
            if many and isinstance(current, CommentedSeq) and value is not EMPTY:
                _merge_list(current, value, id_of)
                return True
        if value is EMPTY:
            relationships[key] = CommentedSeq() if many else None
            if many:
                relationships[key].fa.set_flow_style()
        else:
            relationships[key] = _in(relationships, value)
        return True

    @staticmethod
    def _partial_holds(
        current: CommentedMap, live: set[str], id_of: Callable[[Any], str | None]
    ) -> bool:
        included = [id_of(item) for item in current.get("include") or []]
        excluded = [id_of(item) for item in current.get("exclude") or []]
        return all(i is not None and i in live for i in included) and all(
            i is not None and i not in live for i in excluded
        )

    @staticmethod
    def _narrow_partial(
        current: CommentedMap, live: set[str], id_of: Callable[[Any], str | None]
    ) -> bool:
        """Drop included links that are gone and excluded ones that are present (or that name
        no single record); True when something is left to own partially."""
        for part in ("include", "exclude"):
            items = current.get(part)
            if not isinstance(items, CommentedSeq):
                continue
            for index in reversed(range(len(items))):
                found = id_of(items[index])
                if found is None or (found in live) != (part == "include"):
                    del items[index]
            if not items:
                del current[part]
        return bool(current)


def _has(value: Any) -> bool:
    return value is not EMPTY and value is not UNWRITABLE


def _is_partial(value: Any) -> bool:
    return isinstance(value, CommentedMap) and bool(value) and set(value) <= {"include", "exclude"}


def _merge_list(
    current: CommentedSeq, fresh: list[Any], key_of: Callable[[Any], Hashable | None]
) -> None:
    """A set-like list in place: items still present keep their place, spelling and comments;
    gone ones and repeats are removed; new ones are appended."""
    wanted = {key_of(item) for item in fresh} - {None}
    seen: set[Hashable] = set()
    index = 0
    while index < len(current):
        key = key_of(current[index])
        if key is None or key not in wanted or key in seen:
            del current[index]
        else:
            seen.add(key)
            index += 1
    for item in fresh:
        key = key_of(item)
        if key not in seen:
            current.append(_in(current, item))
            seen.add(key)


def _slug(text: str) -> str:
    """A metadata.name from a record name: ``Acme renewal 2027`` → ``acme-renewal-2027``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("._-")
    return slug[:MAX_NAME].rstrip("._-")


def _dump(yaml: YAML, documents: list[Any]) -> str:
    stream = StringIO()
    yaml.dump_all(documents, stream)
    return stream.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    """Write next to the target and rename over it: an interrupted export leaves no half file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
