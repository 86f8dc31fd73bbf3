"""References → Lightfield ids, at plan time (design §2, §3).

Owns how a human reference finds its record: a member by ``{email}`` (members have no filters:
one scan of ``/v1/members``), a contact by ``{email}`` (``$email[contains]``, then an exact,
case-insensitive check), an account by ``{name}`` (``$name[equal]``) or ``{domain}``
(``$website[contains]``, then a host check). Zero or several matches is a ``Problem`` listing the
candidates; nothing is ever picked blindly.

Cost: each distinct reference is looked up once per run. When a type has more distinct
references than the whole list has pages, one scan of that list is cheaper than a query per
reference, so the resolver scans instead. Lookups run concurrently; the client's Search bucket
paces them. Raw ids pass through unchanged (the API rejects unknown ids at apply with the
manifest's ``file:line``).

Also collects a readable name for every record it saw, which renderers use to show
``Jane Doe <jane@acme.com>`` instead of ``mem_...``.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from .client import LIST_OF, MAX_PAGE_SIZE, LightfieldClient, ObjectType
from .manifests import Problem
from .model import ByDomain, ByEmail, ByName, DesiredRecord, DesiredRelationship, Reference
from .records import Record

PAGE = MAX_PAGE_SIZE

LookupKind = Literal["email", "name", "domain"]


@dataclass
class Resolution:
    records: list[DesiredRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # id → readable name of every related record the resolver saw.
    names: dict[str, str] = field(default_factory=dict)


async def resolve_references(
    client: LightfieldClient, desired: Sequence[DesiredRecord]
) -> Resolution:
    """Replace every reference in ``desired`` with an id; unresolvable ones become problems."""
    wanted: dict[tuple[str, LookupKind], set[str]] = defaultdict(set)
    for record in desired:
        for relationship in _all_relationships(record):
            for ref in (*relationship.include, *relationship.exclude):
                lookup = _lookup(ref)
                if lookup is not None:
                    wanted[(relationship.object_type, lookup[0])].add(lookup[1])

    resolver = _Resolver(client)
    await asyncio.gather(
        *(
            resolver.find(object_type, kind, values)
            for (object_type, kind), values in wanted.items()
        )
    )
    resolution = Resolution(names=resolver.names)
    for record in desired:
        problems: list[Problem] = []
        rewritten = replace(
            record,
            relationships=tuple(_rewrite(rel, resolver, problems) for rel in record.relationships),
            match_relationships=tuple(
                _rewrite(rel, resolver, problems) for rel in record.match_relationships
            ),
        )
        resolution.problems.extend(problems)
        if not problems:
            resolution.records.append(rewritten)
    resolution.problems.sort()
    return resolution


def _all_relationships(record: DesiredRecord) -> Iterable[DesiredRelationship]:
    return (*record.relationships, *record.match_relationships)


def _lookup(ref: Reference) -> tuple[LookupKind, str] | None:
    if isinstance(ref, ByEmail):
        return "email", ref.email.strip().casefold()
    if isinstance(ref, ByName):
        return "name", ref.name.strip()
    if isinstance(ref, ByDomain):
        return "domain", bare_domain(ref.domain)
    return None


def _rewrite(
    relationship: DesiredRelationship, resolver: _Resolver, problems: list[Problem]
) -> DesiredRelationship:
    def ids(refs: tuple[Reference, ...]) -> tuple[Reference, ...]:
        result: list[Reference] = []
        for ref in refs:
            lookup = _lookup(ref)
            if lookup is None:
                result.append(ref)
                continue
            found = resolver.found.get((relationship.object_type, *lookup), [])
            if len(found) == 1:
                if found[0].id not in result:
                    result.append(found[0].id)
                continue
            origin = relationship.origin
            problems.append(
                Problem(
                    origin.file, origin.line, _not_unique(relationship, lookup, found, resolver)
                )
            )
        return tuple(result)

    include, exclude = ids(relationship.include), ids(relationship.exclude)
    overlap = set(include) & set(exclude)
    if overlap:
        # Two spellings of one record (an id and an email, say) on both sides.
        origin = relationship.origin
        both = ", ".join(sorted(str(i) for i in overlap))
        message = f"{relationship.key}: {both} is both included and excluded"
        problems.append(Problem(origin.file, origin.line, message))
    return replace(relationship, include=include, exclude=exclude)


def _not_unique(
    relationship: DesiredRelationship,
    lookup: tuple[LookupKind, str],
    found: Sequence[Record],
    resolver: _Resolver,
) -> str:
    kind, value = lookup
    what = f"{relationship.key}: no {relationship.object_type} with {kind} {value!r}"
    if not found:
        return what
    candidates = ", ".join(f"{r.id} ({resolver.names.get(r.id, '?')})" for r in found[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return (
        f"{relationship.key}: {len(found)} {relationship.object_type}s have {kind} {value!r}: "
        f"{candidates}{more}; write the id instead"
    )


class _Resolver:
    """One run's lookups and their results; each distinct reference is fetched once."""

    def __init__(self, client: LightfieldClient) -> None:
        self.client = client
        self.found: dict[tuple[str, LookupKind, str], list[Record]] = {}
        self.names: dict[str, str] = {}

    async def find(self, object_type: str, kind: LookupKind, values: set[str]) -> None:
        list_type = LIST_OF.get(object_type)
        if list_type is None:
            return  # no lookup exists for this type; desired.py already refused the reference
        if object_type == "member":
            # No member filters exist (digest §4.3): one scan answers every member reference.
            self._index(object_type, kind, values, await self.client.list_all(list_type))
            return
        first = await self.client.list_page(list_type, limit=PAGE)
        total = first.total_count if first.total_count is not None else math.inf
        if len(first.data) < PAGE or len(values) >= math.ceil(total / PAGE):
            self._index(object_type, kind, values, await self.client.list_rest(list_type, first))
            return
        await asyncio.gather(*(self._query(object_type, list_type, kind, v) for v in values))

    async def _query(
        self, object_type: str, list_type: ObjectType, kind: LookupKind, value: str
    ) -> None:
        filters = {
            "email": {"$email[contains]": value},
            "name": {"$name[equal]": value},
            "domain": {"$website[contains]": value},
        }[kind]
        records = await self.client.list_all(list_type, filters=filters)
        self._index(object_type, kind, {value}, records)

    def _index(
        self, object_type: str, kind: LookupKind, values: set[str], records: Sequence[Record]
    ) -> None:
        for value in values:
            matches = [r for r in records if _matches(r, kind, value)]
            self.found[(object_type, kind, value)] = sorted(matches, key=lambda r: r.id)
        for record in records:
            self.names.setdefault(record.id, display_name(record))


def _matches(record: Record, kind: LookupKind, value: str) -> bool:
    if kind == "email":
        return value in {e.strip().casefold() for e in texts(record.value("$email"))}
    if kind == "name":
        name = record.value("$name")
        return isinstance(name, str) and name.strip() == value
    hosts = {bare_domain(url) for url in texts(record.value("$website"))}
    return any(host == value or host.endswith("." + value) for host in hosts)


def texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def bare_domain(text: str) -> str:
    """``https://www.Acme.com/x`` and ``acme.com`` → ``acme.com``."""
    candidate = text.strip()
    host = urlsplit(candidate if "//" in candidate else f"//{candidate}").hostname or candidate
    host = host.casefold()
    return host.removeprefix("www.")


def display_name(record: Record) -> str:
    """A person or account as a human reads it: ``Jane Doe <jane@acme.com>``, ``Acme Corp``."""
    name = record.value("$name")
    if isinstance(name, dict):
        parts = [name.get("firstName"), name.get("lastName")]
        name = " ".join(p for p in parts if isinstance(p, str) and p)
    emails = texts(record.value("$email"))
    text = name if isinstance(name, str) and name else ""
    if emails:
        return f"{text} <{emails[0]}>" if text else emails[0]
    return text or record.id
