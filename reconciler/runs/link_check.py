"""The raw ids a plan's changes would newly link, confirmed once the diff is known (architecture.md
§2, §3): the API refuses to link a missing id (``relationship_entity_missing``) or a trashed one
(``relationship_entity_inactive``), so a plan that would is refused at the line of the id.

Owns which ids are read and how: ``LinkCheck`` confirms only the ids a change would newly link
that no lookup of ``runs.resolve`` showed: an id already linked is kept (nothing is sent for it,
and the API lets it be) and costs no request. Each is a ``GET`` (Read bucket, the one a
Search-bound plan leaves free); past ``READS_BEFORE_SCAN`` of one type, and as many as its list
has pages, one scan of the list answers the rest, and an id the scan did not show is still read
before it is refused, as the list index lags writes. ``link_problems`` turns those that name no
active record into problems at the line of each id. Called by ``runs.plan`` as each record's
change settles.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..adapters.buckets import ahead_of_queue
from ..adapters.client import LightfieldClient, ObjectType
from ..core.errors import NotFound
from ..core.model import DesiredRecord
from ..core.plan import RecordChange
from ..core.records import ListPage, Record
from ..core.vocabulary import Problem
from .resolve import ENDPOINT_OF, PAGE, Resolution, display_name

# Newly linked ids of one type read one by one before the size of its list is asked for: a
# second of the Read bucket. Past it, and past as many reads as the list has pages, it is scanned.
READS_BEFORE_SCAN = 25
# Reads of one type's ids, at most: past it, an id the scan did not show is refused unread, as so
# many missing ids are a pasted-wrong list, not a lagging index.
MAX_CONFIRMATIONS = 100
NOT_FOUND = "it does not exist, is in the trash, or is not in this org"
UNCONFIRMED = "not in the list of them; too many such ids to read each"


def link_problems(
    desired: DesiredRecord, change: RecordChange, missing: Mapping[tuple[str, str], str]
) -> list[Problem]:
    """The ids ``change`` would newly link that name no active record, each at the line it was
    written (the API refuses the whole write for one of them). Removing an id is never refused,
    and an id already linked is not sent."""
    if not missing:
        return []
    problems: list[Problem] = []
    written = {r.key: r for r in (*desired.match_relationships, *desired.relationships)}
    for link in change.relationships:
        relationship = written.get(link.key)
        if relationship is None:
            continue
        for record_id in sorted(set(link.after) - set(link.before)):
            why = missing.get((relationship.object_type, record_id))
            if why is None:
                continue
            index = next((i for i, ref in enumerate(relationship.include) if ref == record_id), -1)
            origin = relationship.origin_of_item(index) if index >= 0 else relationship.origin
            kind = relationship.object_type
            message = f"{link.key}: no active {kind} with id {record_id!r} ({why})"
            problems.append(Problem(origin, message))
    return problems


@dataclass
class _TypeChecks:
    """How one related type's new links are being confirmed: reads so far, and the list."""

    reads: int = 0
    budget: int = READS_BEFORE_SCAN  # reads before the list is asked for; then its pages
    first: asyncio.Task[ListPage] | None = None
    scan: asyncio.Task[set[str]] | None = None


class LinkCheck:
    """One run's confirmation of the raw ids its changes would newly link (module docstring).

    ``confirm(desired, change)`` reads what it must (each id once per run, however many changes
    link it; concurrent callers share the read); ``problems(desired, change)`` is then final for
    that change. ``names`` grows with every record read."""

    def __init__(self, client: LightfieldClient, resolution: Resolution) -> None:
        self.client = client
        self.names: dict[str, str] = dict(resolution.names)
        # (object type, id) → why no active record has it
        self.missing: dict[tuple[str, str], str] = {}
        self._active: set[tuple[str, str]] = set(resolution.seen)
        self._checks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._types: dict[str, _TypeChecks] = defaultdict(_TypeChecks)

    def needs_reads(self, desired: DesiredRecord, change: RecordChange) -> bool:
        """Whether ``confirm`` would wait for anything: an id no lookup or read has shown."""
        return any(
            pair not in self._active and pair not in self.missing
            for pair in new_links(desired, change)
        )

    async def confirm(self, desired: DesiredRecord, change: RecordChange) -> None:
        checks: list[asyncio.Task[None]] = []
        for pair in new_links(desired, change):
            if pair in self._active or ENDPOINT_OF.get(pair[0]) is None:
                continue
            check = self._checks.get(pair)
            if check is None:
                # A change is waiting for this: its reads and list pages go ahead of the bulk
                # reads queued before them (a plan's list scan), so its write can start.
                with ahead_of_queue():
                    check = self._checks[pair] = asyncio.create_task(self._check(*pair))
            checks.append(check)
        if checks:
            await asyncio.gather(*checks)

    def problems(self, desired: DesiredRecord, change: RecordChange) -> list[Problem]:
        return link_problems(desired, change, self.missing)

    async def _check(self, object_type: str, record_id: str) -> None:
        endpoint = ENDPOINT_OF[object_type]
        state = self._types[object_type]
        while state.reads >= state.budget:
            listed = await self._listed(object_type, endpoint, state)
            if listed is None:
                continue  # the list has more pages than reads so far: read this one too
            if record_id in listed:
                return
            if state.reads >= MAX_CONFIRMATIONS:
                self.missing[(object_type, record_id)] = UNCONFIRMED
                return
            break  # not on the list: the index may lag a write, so read it before refusing
        state.reads += 1
        try:
            record = await self.client.retrieve(endpoint, record_id)
        except NotFound:
            # Trashed records, other types' and other orgs' ids all answer 404.
            self.missing[(object_type, record_id)] = NOT_FOUND
            return
        self._seen(object_type, [record])

    async def _listed(
        self, object_type: str, endpoint: ObjectType, state: _TypeChecks
    ) -> set[str] | None:
        """The ids of the whole list, scanned once; None while reading each id is cheaper (as
        many reads so far as the list has pages: scanning is then never more than twice the
        cost of the best choice, whatever the changes still to come)."""
        if state.scan is None:
            if state.first is None:
                state.first = asyncio.create_task(self.client.list_page(endpoint, limit=PAGE))
            first = await state.first
            if state.scan is None:
                full = len(first.data) == PAGE and first.total_count is not None
                pages = math.ceil((first.total_count or 0) / PAGE) if full else 1
                if state.reads < pages:
                    state.budget = max(state.budget, pages)
                    return None
                state.scan = asyncio.create_task(self._scan(object_type, endpoint, first))
        return await state.scan

    async def _scan(self, object_type: str, endpoint: ObjectType, first: ListPage) -> set[str]:
        records = await self.client.list_rest(endpoint, first)
        self._seen(object_type, records)
        return {record.id for record in records}

    def _seen(self, object_type: str, records: Sequence[Record]) -> None:
        for record in records:
            self.names.setdefault(record.id, display_name(record))
            self._active.add((object_type, record.id))


def new_links(desired: DesiredRecord, change: RecordChange) -> list[tuple[str, str]]:
    """(object type, id) of every id ``change`` would link that it does not link now."""
    written = {r.key: r for r in (*desired.match_relationships, *desired.relationships)}
    return [
        (relationship.object_type, record_id)
        for link in change.relationships
        if (relationship := written.get(link.key)) is not None
        for record_id in sorted(set(link.after) - set(link.before))
    ]
