"""The live records each ``OpportunitySet`` matches, in as few requests as the rate limits allow.

Owns how a set's records are found (``core.sets`` owns what matching means). Each set's selector
becomes list filters where the API can express it (lightfield-api.md §1.4, spelled as ``match``
spells them: ``runs.match.match_filters``); a key with several values is one filtered list per
value; ``status`` is ``$opportunityStatus`` equal (open) or not equal (closed, the documented
negation) to the Open option. A set whose selector no filter expresses (``all: true``, a
multi-select alone) needs the whole list. The first page of every query comes first, and its
``totalCount`` says what each costs: when the sets' filtered pages would outnumber the whole
list's, one scan answers every set. What a list shows as matched is then read afresh by id
(once, however many sets matched it), as the list index lags writes, and only a fresh record
that still matches is a member. Never prints.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..adapters.client import MAX_PAGE_SIZE as PAGE
from ..adapters.client import LightfieldClient
from ..core.model import parse_sets
from ..core.org import OrgSchema, fold
from ..core.records import ListPage, Record
from ..core.sets import STATUS_KEY, DesiredSet, build_sets, selects
from ..core.vocabulary import Document, Problem
from .match import get_active, match_filters
from .resolve import resolve_references

Query = tuple[tuple[str, str], ...]
# At most this many values of one key are listed one filtered query each; more: not filtered.
MAX_ALTERNATIVES = 5


@dataclass
class Members:
    """Every set's matched records: fresh reads by id, and each set's ids in list order."""

    records: dict[str, Record] = field(default_factory=dict)
    of: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    strategy: str = "filtered"


def queries(desired: DesiredSet, schema: OrgSchema) -> list[Query] | None:
    """The filtered lists whose union holds every record ``desired`` matches (more, perhaps:
    ``selects`` decides), or None when only the whole list does."""
    if desired.everything:
        return None
    single: dict[str, object] = {}
    several: list[tuple[str, tuple[object, ...]]] = []
    for term in desired.terms:
        if len(term.values) == 1:
            single[term.key] = term.values[0]
        else:
            several.append((term.key, term.values))
    for link in desired.links:
        ids = tuple(str(i) for i in link.include)
        if len(ids) == 1:
            single[link.key] = ids
        else:
            several.append((link.key, tuple((i,) for i in ids)))
    status = _status_filter(desired, schema)
    base = (*match_filters(single, schema), *status)
    # Split on the key with the fewest values that a filter can express.
    for key, values in sorted(several, key=lambda kv: len(kv[1])):
        if len(values) > MAX_ALTERNATIVES:
            break
        split = [(*match_filters({**single, key: value}, schema), *status) for value in values]
        if all(len(q) > len(base) for q in split):
            return list(dict.fromkeys(split))
    return [base] if base else None


def _status_filter(desired: DesiredSet, schema: OrgSchema) -> Query:
    """``status: open`` as ``$opportunityStatus`` equal to the Open option, ``closed`` as not
    equal to it (lightfield-api.md §1.4's negation); the fresh read still decides."""
    definition = schema.field(STATUS_KEY)
    if desired.status is None or definition is None:
        return ()
    options = definition.type_configuration.options
    open_id = next((o.id for o in options if fold(o.label) == "open"), None)
    if open_id is None:
        return ()
    operator = "equal" if desired.status == "open" else "-equal"
    return ((f"{STATUS_KEY}[{operator}]", open_id),)


async def find_members(
    client: LightfieldClient, sets: Sequence[DesiredSet], schema: OrgSchema
) -> Members:
    members = Members()
    wanted = {s.name: queries(s, schema) for s in sets}
    distinct = list(dict.fromkeys(q for qs in wanted.values() if qs for q in qs))
    whole_needed = any(qs is None for qs in wanted.values())
    firsts = await asyncio.gather(
        *(client.list_page("opportunities", limit=PAGE, filters=q) for q in distinct)
    )
    first_of = dict(zip(distinct, firsts, strict=True))
    whole: ListPage | None = None
    if whole_needed or len(distinct) > 1:
        whole = await client.list_page("opportunities", limit=PAGE)
    filtered_pages = sum(_pages(page) - 1 for page in firsts)
    listed: dict[str, list[Record]]
    if whole is not None and (whole_needed or filtered_pages >= _pages(whole) - 1):
        members.strategy = "scan"
        everything = await _rest(client, whole, ())
        listed = {s.name: everything for s in sets}
    else:
        rests = await asyncio.gather(*(_rest(client, first_of[q], q) for q in distinct))
        by_query = dict(zip(distinct, rests, strict=True))
        listed = {name: [r for q in qs or () for r in by_query[q]] for name, qs in wanted.items()}
    candidates = {
        s.name: list(dict.fromkeys(r.id for r in listed[s.name] if selects(s, r, schema)))
        for s in sets
    }
    ids = list(dict.fromkeys(i for found in candidates.values() for i in found))
    fresh = await asyncio.gather(*(get_active(client, i) for i in ids))
    members.records = {r.id: r for r in fresh if r is not None}
    for s in sets:
        matched = [
            i
            for i in candidates[s.name]
            if i in members.records and selects(s, members.records[i], schema)
        ]
        members.of[s.name] = matched
        if not matched:
            members.warnings.append(
                Problem(s.origin, f"set {s.name}: the selector matches no opportunity")
            )
    return members


def _pages(first: ListPage) -> int:
    if len(first.data) < PAGE or first.total_count is None:
        return 1
    return max(1, math.ceil(first.total_count / PAGE))


async def _rest(client: LightfieldClient, first: ListPage, filters: Query) -> list[Record]:
    """The whole (filtered) list given its first page: the other pages concurrently (the
    Search bucket paces them), then on while the last one is full (the list may have grown)."""
    records = {r.id: r for r in first.data}
    if first.total_count is None and len(first.data) == PAGE:
        # No totalCount (an API variant doctor reports): one page after the other, to a short
        # one, rather than a set silently cut to its first page.
        offset = PAGE
        while True:
            page = await client.list_page(
                "opportunities", limit=PAGE, offset=offset, filters=filters
            )
            records.update((r.id, r) for r in page.data)
            if len(page.data) < PAGE:
                return list(records.values())
            offset += PAGE
    if _pages(first) > 1:
        offsets = range(PAGE, (first.total_count or 0), PAGE)
        pages = await asyncio.gather(
            *(
                client.list_page("opportunities", limit=PAGE, offset=o, filters=filters)
                for o in offsets
            )
        )
        for page in pages:
            records.update((r.id, r) for r in page.data)
        offset = offsets[-1] + PAGE
        while len(pages[-1].data) == PAGE:
            pages = [
                await client.list_page("opportunities", limit=PAGE, offset=offset, filters=filters)
            ]
            records.update((r.id, r) for r in pages[0].data)
            offset += PAGE
    return list(records.values())


async def set_managed_keys(
    client: LightfieldClient, documents: Sequence[Document], schema: OrgSchema
) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    """For ``lfr export``: record id → each key a set below the directory manages on it → the
    set's name, as ``lfr plan`` would find them; or the problems of sets that do not check."""
    loaded, problems = parse_sets(documents)
    desired, found = build_sets(loaded, schema)
    problems += found
    resolution = await resolve_references(client, [s.template() for s in desired])
    problems += resolution.problems
    if problems:
        return {}, sorted(problems)
    by_origin = {s.origin: s for s in desired}
    sets = [by_origin[t.origin].resolved(t) for t in resolution.records]
    members = await find_members(client, sets, schema)
    managed: dict[str, dict[str, str]] = {}
    for s in sets:
        for record_id in members.of[s.name]:
            keys = managed.setdefault(record_id, {})
            for key in (*(f.key for f in s.fields), *(r.key for r in s.relationships)):
                keys.setdefault(key, s.name)
    return managed, []
