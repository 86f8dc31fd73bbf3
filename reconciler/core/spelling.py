"""Live values spelled as manifest values (``lfr export``): pure, so that ``lfr plan`` right after
an export is empty.

Owns how a live record is written in a manifest: select options by label, or by option id when
the label names several options; dates at midnight UTC as plain dates, other instants in full;
ADDRESS / FULL_NAME as mappings; references as the resolver would read them (``ReferenceBook``,
built by ``runs.export``). Each value is read back through ``org.normalize_desired`` before it is
written: a value lfr could not read back as the same value is ``UNWRITABLE``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from .characters import refused_in
from .model import lookup_of
from .org import (
    ADDRESS_PARTS,
    FULL_NAME_PARTS,
    OrgSchema,
    fold,
    is_empty,
    normalize_desired,
    normalize_live,
)
from .records import FieldDefinition, Record
from .value_types import ValueProblem

# Keys export does not add (see the module docstring); refreshed when a manifest has them.
NOT_EXPORTED_FIELDS = frozenset({"$pipeline"})


NOT_EXPORTED_RELATIONSHIPS = frozenset({"$createdBy"})


MAX_NAME = 100


LookupKey = tuple[str, str, str]  # (object type, "email" | "name" | "domain", value)


def lookup_key(object_type: str, item: Any) -> LookupKey | None:
    """A manifest reference item (``{email: x}``...) as a lookup, or None when it is not one."""
    lookup = lookup_of(item)
    if lookup is None:
        return None
    ((word, value),) = lookup.model_dump().items()
    return object_type, word, value


def reference_items(value: Any) -> list[Any]:
    """The reference items of a relationship value in any of its manifest shapes."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict) and set(value) <= {"include", "exclude"} and value:
        return [item for part in value.values() if isinstance(part, list) for item in part]
    return [] if value is None else [value]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EMPTY = _Marker("EMPTY")  # no value live: left out of new documents


UNWRITABLE = _Marker("UNWRITABLE")  # a value lfr cannot write back exactly: never touched


class Instant(str):
    """A date-time written as a plain YAML timestamp (``2027-03-31T12:30:00Z``), not quoted."""


@dataclass
class Fresh:
    """One live record as manifest values: every writable key, in definition order."""

    record: Record
    name: str  # the record's $name, for the slug
    fields: dict[str, Any]
    canonical: dict[str, Any]  # normalize_live of each field
    relationships: dict[str, Any]

    @classmethod
    def of(
        cls, schema: OrgSchema, record: Record, references: ReferenceBook, notes: list[str]
    ) -> Fresh:
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
            fresh.fields[key] = field_value(schema, key, definition, canonical)
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


def field_value(schema: OrgSchema, key: str, definition: FieldDefinition, canonical: Any) -> Any:
    """How the manifest spells a live value (given in canonical form), if it reads back equal."""
    if is_empty(canonical):
        return EMPTY
    try:
        value = _spell_field(schema, definition, canonical)
        read_back = normalize_desired(schema, key, plain(value))
    except (ValueProblem, ValueError, TypeError):
        return UNWRITABLE
    if isinstance(read_back, dict) and isinstance(canonical, dict):
        canonical = {part: canonical.get(part) for part in read_back}
    return value if read_back == canonical else UNWRITABLE


def _spell_field(schema: OrgSchema, definition: FieldDefinition, canonical: Any) -> Any:
    kind = definition.value_type
    if kind == "DATETIME":
        text = str(canonical)
        if text.endswith("T00:00:00.000Z"):
            return date.fromisoformat(text[:10])
        return Instant(text.replace(".000Z", "Z"))
    if kind in ("SINGLE_SELECT", "MULTI_SELECT"):
        options = definition.type_configuration.options
        by_id = {o.id: o for o in options}
        qualified = {o.id: f"{schema.pipeline_name(o.parent_id)} / {o.label}" for o in options}
        folded = Counter(fold(o.label) for o in options)
        folded_qualified = Counter(fold(q) for q in qualified.values())

        def one(option_id: Any) -> str:
            if option_id not in by_id:
                raise ValueError(f"unknown option {option_id!r}")
            label, option = by_id[option_id].label, by_id[option_id]
            if folded[fold(label)] == 1:
                return label
            # A label several pipelines share (a bare one is refused by validation): with its
            # pipeline, ``Renewals / Negotiation``, as a reviewer reads it; the id (with a
            # comment, option_note) only if even that names two options.
            if option.parent_id is not None and folded_qualified[fold(qualified[option_id])] == 1:
                return qualified[option_id]
            return str(option_id)

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


def plain(value: Any) -> Any:
    """A value as the manifest loader would read it back (and round-trip nodes as plain data)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
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


def option_note(schema: OrgSchema, key: str, value: Any) -> str | None:
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


def slug(text: str) -> str:
    """A metadata.name from a record name: ``Acme renewal 2027`` → ``acme-renewal-2027``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("._-")
    return slug[:MAX_NAME].rstrip("._-")


class ReferenceBook(Protocol):
    """How related records are spelled in a manifest, and read back to ids."""

    def spell(self, object_type: str, record_id: str) -> Any: ...

    def id_of(self, object_type: str, item: Any) -> str | None: ...
