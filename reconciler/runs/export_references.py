"""How ``lfr export`` writes a link: the records an export's records link to, and the reference
that names each.

Owns reading the related members, contacts and accounts (one scan of a list when that takes
fewer requests than a read each; a dangling link stays a raw id) and choosing their references:
``{email}`` for members and contacts, ``{name}``, else ``{domain}``, for accounts, each written
only when the resolver ``lfr plan`` runs (``runs.resolve``) finds exactly that record with it,
else the raw id. Also tells which record a reference already in a merged manifest names.
Implements ``core.spelling.ReferenceBook`` for ``adapters.writer``. Called by ``runs.export``.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..adapters.client import LIST_OF, MAX_PAGE_SIZE, LightfieldClient, ObjectType
from ..core.characters import refused_in
from ..core.errors import NotFound
from ..core.model import LOOKUP_MODELS, DesiredRecord, DesiredRelationship, Reference
from ..core.org import OrgSchema
from ..core.records import Record
from ..core.spelling import LookupKey, lookup_key, reference_items
from ..core.vocabulary import Origin
from .resolve import bare_domain, resolve_references, texts

PAGE = MAX_PAGE_SIZE


async def related_records(
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


def _reference(key: LookupKey) -> Reference:
    _, word, value = key
    return LOOKUP_MODELS[word].model_validate({word: value})


class References:
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
    ) -> References:
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
