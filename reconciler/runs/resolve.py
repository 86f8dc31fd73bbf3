"""References → Lightfield ids, at plan time (architecture.md §2, §3).

Owns how a human reference finds its record: a member by ``{email}`` (members have no filters:
one scan of ``/v1/members``), a contact by ``{email}`` (``$email[contains]``, then an exact,
case-insensitive check), an account by ``{name}`` (``$name[equal]``, compared with whitespace
collapsed; when that lists none, again by ``$name[startsWith]`` its first word) or ``{domain}``
(``$website[contains]``, then a host check). Zero or several matches is a ``Problem`` listing the
candidates (for zero, the nearest spellings among the records read whole: a typo'd member
email names the one meant); nothing is ever picked blindly. Each distinct reference is looked up
once per run, per related type: when a type has more distinct references than its whole list has
pages, one scan of that list answers them all; else each is a filtered list. Lookups run
concurrently; the client's buckets pace them.

Each problem is reported at the line of its own item; ``core.desired.cap_problems`` keeps a list of
thousands readable. Also collects a readable name for every record it saw, which renderers use
to show ``Jane Doe <jane@acme.com>`` instead of ``mem_...``, and which records it saw, so that
``runs.link_check`` reads none of them again. Raw ids are left as they are: the ones a change
would newly link are confirmed once the diff is known (``runs.link_check``).
"""

from __future__ import annotations

import asyncio
import difflib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from ..adapters.client import LIST_OF, MAX_PAGE_SIZE, LightfieldClient, ObjectType
from ..core.desired import cap_problems
from ..core.model import ByDomain, ByEmail, ByName, DesiredRecord, DesiredRelationship, Reference
from ..core.records import Record
from ..core.sets import DesiredSet
from ..core.vocabulary import Origin, Problem

PAGE = MAX_PAGE_SIZE
# Endpoints of the related types: where a lookup lists them and a raw id is read
# (``runs.link_check``; opportunities have no lookup, but an id).
ENDPOINT_OF: dict[str, ObjectType] = {**LIST_OF, "opportunity": "opportunities"}

LookupKind = Literal["email", "name", "domain"]


@dataclass
class Resolution:
    records: list[DesiredRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # id → readable name of every related record the resolver saw.
    names: dict[str, str] = field(default_factory=dict)
    # (object type, id) of every record a lookup or scan showed: active, so never confirmed.
    seen: set[tuple[str, str]] = field(default_factory=set)
    # The ``OpportunitySet``s whose references all resolved (``runs.validate.against_org``).
    sets: list[DesiredSet] = field(default_factory=list)


async def resolve_references(
    client: LightfieldClient, desired: Sequence[DesiredRecord]
) -> Resolution:
    """Replace every reference in ``desired`` with an id (unresolvable ones become problems).
    Raw ids are left for ``LinkCheck``, once the diff says which a write would newly link."""
    wanted: dict[str, dict[LookupKind, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in desired:
        for relationship in _all_relationships(record):
            for ref in (*relationship.include, *relationship.exclude):
                lookup = _lookup(ref)
                if lookup is not None:
                    wanted[relationship.object_type][lookup[0]].add(lookup[1])

    resolver = _Resolver(client)
    await asyncio.gather(
        *(resolver.find(object_type, lookups) for object_type, lookups in wanted.items())
    )
    resolution = Resolution(names=resolver.names, seen=resolver.seen)
    for record in desired:
        if not any(map(_to_rewrite, _all_relationships(record))):
            # Raw ids only (nearly every record of a large repository): nothing to look up or
            # drop, so the record is kept as it is, not copied (100,000 copies cost ~1 s).
            resolution.records.append(record)
            continue
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
    resolution.problems = cap_problems(sorted(resolution.problems))
    return resolution


def _all_relationships(record: DesiredRecord) -> Iterable[DesiredRelationship]:
    return (*record.relationships, *record.match_relationships)


def _to_rewrite(relationship: DesiredRelationship) -> bool:
    """Whether ``_rewrite`` would change ``relationship``: a lookup to turn into an id, or an
    id written twice (kept once)."""
    refs = (*relationship.include, *relationship.exclude)
    return not all(ref.__class__ is str for ref in refs) or len(set(refs)) != len(refs)


def _lookup(ref: Reference) -> tuple[LookupKind, str] | None:
    if isinstance(ref, ByEmail):
        return "email", ref.email.strip().casefold()
    if isinstance(ref, ByName):
        return "name", " ".join(ref.name.split())
    if isinstance(ref, ByDomain):
        return "domain", bare_domain(ref.domain)
    return None


def _rewrite(
    relationship: DesiredRelationship, resolver: _Resolver, problems: list[Problem]
) -> DesiredRelationship:
    origins: list[Origin] = []  # of the rewritten items, so that runs.link_check finds lines

    def ids(refs: tuple[Reference, ...], first: int) -> tuple[Reference, ...]:
        result: list[Reference] = []
        for index, ref in enumerate(refs, start=first):
            lookup = _lookup(ref)
            found = (
                []
                if lookup is None
                else resolver.found.get((relationship.object_type, *lookup), [])
            )
            if lookup is None or len(found) == 1:
                record_id = ref if lookup is None else found[0].id
                if record_id not in result:
                    result.append(record_id)
                    origins.append(relationship.origin_of_item(index))
                continue
            origin = relationship.origin_of_item(index)
            message = _not_unique(relationship, lookup, found, resolver)
            problems.append(Problem(origin, message))
        return tuple(result)

    include = ids(relationship.include, 0)
    exclude = ids(relationship.exclude, len(relationship.include))
    overlap = set(include) & set(exclude)
    if overlap:
        # Two spellings of one record (an id and an email, say) on both sides.
        origin = relationship.origin
        both = ", ".join(sorted(str(i) for i in overlap))
        message = f"{relationship.key}: {both} is both included and excluded"
        problems.append(Problem(origin, message))
    return replace(relationship, include=include, exclude=exclude, item_origins=tuple(origins))


def _not_unique(
    relationship: DesiredRelationship,
    lookup: tuple[LookupKind, str],
    found: Sequence[Record],
    resolver: _Resolver,
) -> str:
    kind, value = lookup
    what = f"{relationship.key}: no {relationship.object_type} with {kind} {value!r}"
    if not found:
        nearest = resolver.nearest(relationship.object_type, kind, value)
        hint = " or ".join(repr(text) for text in nearest)
        return f"{what} (did you mean {hint}?)" if nearest else what
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
        self.seen: set[tuple[str, str]] = set()
        # Every record of a type read whole (members always): where a typo finds its neighbours.
        self.scanned: dict[str, Sequence[Record]] = {}

    def nearest(self, object_type: str, kind: LookupKind, value: str) -> list[str]:
        """Up to three spellings close to ``value`` among the records of a type read whole, as
        they are written in the CRM (a typo'd email names the address meant)."""
        records = self.scanned.get(object_type, ())
        key = {"email": "$email", "name": "$name", "domain": "$website"}[kind]
        written: dict[str, str] = {}
        for record in records:
            for text in texts(record.value(key)):
                spelled = bare_domain(text) if kind == "domain" else text.strip()
                written.setdefault(spelled.casefold() if kind == "email" else spelled, spelled)
        close = difflib.get_close_matches(value, list(written), n=3, cutoff=0.75)
        if not close:
            return []
        # Only the ones about as close as the closest: on one domain, every address is similar.
        best = difflib.SequenceMatcher(None, value, close[0]).ratio()
        return [
            written[text]
            for text in close
            if difflib.SequenceMatcher(None, value, text).ratio() >= best - 0.03
        ]

    async def find(self, object_type: str, lookups: dict[LookupKind, set[str]]) -> None:
        """Answer every lookup of ``object_type``, by one scan of its list when that is cheaper
        than a request each."""
        endpoint = ENDPOINT_OF.get(object_type)
        if endpoint is None:
            return  # no endpoint for this type; desired.py already refused its lookups
        wanted = sum(map(len, lookups.values()))
        if object_type == "member":
            # No member filters exist (lightfield-api.md §4.3): one scan answers every member
            # reference.
            self._from_scan(object_type, lookups, await self.client.list_all(endpoint))
            return
        first = await self.client.list_page(endpoint, limit=PAGE)
        total = first.total_count if first.total_count is not None else math.inf
        if len(first.data) < PAGE or wanted >= math.ceil(total / PAGE):
            self._from_scan(object_type, lookups, await self.client.list_rest(endpoint, first))
            return
        await asyncio.gather(
            *(
                self._query(object_type, endpoint, kind, value)
                for kind, values in lookups.items()
                for value in values
            )
        )

    def _from_scan(
        self, object_type: str, lookups: dict[LookupKind, set[str]], records: Sequence[Record]
    ) -> None:
        for kind, values in lookups.items():
            self._index(object_type, kind, values, records)
        self._remember(object_type, records)
        self.scanned[object_type] = records

    async def _query(
        self, object_type: str, list_type: ObjectType, kind: LookupKind, value: str
    ) -> None:
        filters = {
            "email": {"$email[contains]": value},
            "name": {"$name[equal]": value},
            "domain": {"$website[contains]": value},
        }[kind]
        records = await self.client.list_all(list_type, filters=filters)
        if kind == "name" and not any(_matches(r, kind, value) for r in records):
            # `equal` may compare whitespace exactly ("Acme  Corp" in the CRM); the first word
            # as a prefix finds every spelling, and _matches decides.
            prefix = {"$name[startsWith]": value.split()[0]} if value.split() else filters
            records = await self.client.list_all(list_type, filters=prefix)
        self._index(object_type, kind, {value}, records)
        self._remember(object_type, records)

    def _index(
        self, object_type: str, kind: LookupKind, values: set[str], records: Sequence[Record]
    ) -> None:
        if kind == "domain" or len(values) < 2:
            for value in values:
                matches = [r for r in records if _matches(r, kind, value)]
                self.found[(object_type, kind, value)] = sorted(matches, key=lambda r: r.id)
            return
        # Emails and names match by equality: one pass over the records answers every value
        # (a scan answering hundreds of references was values x records comparisons).
        by_key: dict[str, list[Record]] = defaultdict(list)
        for record in records:
            for key in _match_keys(record, kind):
                by_key[key].append(record)
        for value in values:
            matches = list({r.id: r for r in by_key.get(value, ())}.values())
            self.found[(object_type, kind, value)] = sorted(matches, key=lambda r: r.id)

    def _remember(self, object_type: str, records: Sequence[Record]) -> None:
        for record in records:
            self.names.setdefault(record.id, display_name(record))
            self.seen.add((object_type, record.id))


def _match_keys(record: Record, kind: LookupKind) -> set[str]:
    """The values an email or name lookup finds ``record`` by: the one rule of ``_matches`` and
    of the index a scan builds, so that a reference resolves alike either way."""
    if kind == "email":
        return {e.strip().casefold() for e in texts(record.value("$email"))}
    name = record.value("$name")
    return {" ".join(name.split())} if isinstance(name, str) else set()


def _matches(record: Record, kind: LookupKind, value: str) -> bool:
    if kind != "domain":
        return value in _match_keys(record, kind)
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
