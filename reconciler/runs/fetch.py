"""Live state for the desired records, in as few requests as the rate limits allow (architecture.md
§2).

Owns the fetch strategy. Few id-addressed records: ``GET`` each by id (Read bucket). Many: scan
the list (Search bucket, 25 per page, pages fetched concurrently) and ``GET`` by id only the
records whose listed values differ from the manifest or that the scan did not show, because
the list index lags writes and a difference is confirmed on a fresh read before it is
reported. The confirming reads start while the scan is still running, so Read and Search
buckets work at the same time. ``match`` manifests are found beside them (``runs.match``: list
filters, confirmed by id), and a planned create gets a warning when its name is close to a
record on the same account. ``LiveFetch.settled()`` yields each id-addressed record as soon as
its live state is final, with its change; the result holds every ``Settled`` record and
``Problem``. Never prints.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from ..adapters.client import MAX_PAGE_SIZE, LightfieldClient
from ..core.diff import diff_record
from ..core.model import DesiredRecord
from ..core.org import OrgSchema
from ..core.plan import DiffOptions, RecordChange
from ..core.records import ListPage, Record
from ..core.vocabulary import Problem
from .match import find_matching, get_active, near_records

PAGE = MAX_PAGE_SIZE
# Hears (phase, done, total) as a run goes: "reading" manifests, "fetching" live state,
# "writing"; the CLI shows it.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Settled:
    """A desired record whose live state is final, and the change that takes it there (None
    when fetched without diff options, as export does, or when there is no live record)."""

    desired: DesiredRecord
    live: Record | None
    change: RecordChange | None


@dataclass
class FetchResult:
    settled: list[Settled] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    strategy: str = "by-id"
    # Not problems: a planned create whose name is close to a record on the same account.
    warnings: list[Problem] = field(default_factory=list)

    @property
    def pairs(self) -> list[tuple[DesiredRecord, Record | None]]:
        return [(s.desired, s.live) for s in self.settled]


async def fetch_live(
    client: LightfieldClient,
    desired: Sequence[DesiredRecord],
    schema: OrgSchema,
    options: DiffOptions | None = None,
    *,
    progress: Progress | None = None,
) -> FetchResult:
    """Live records for ``desired``, each with its change when ``options`` are given."""
    fetch = LiveFetch(client, desired, schema, options, progress=progress)
    async for _ in fetch.settled():
        pass
    return fetch.result


class LiveFetch:
    """One fetch of live state. ``settled()`` yields each id-addressed record as soon as its live
    state is final (read, or listed and unchanged), with its change, so a caller can act on it
    while the rest is read; once it is exhausted, ``result`` holds every record and problem.

    With diff options, a listed record is diffed (the pure ``core.diff``) to decide whether it
    needs a confirming read; each record is diffed once per live state it is seen in, and that
    change travels with it. Without them (export) a listed record is taken as it is."""

    def __init__(
        self,
        client: LightfieldClient,
        desired: Sequence[DesiredRecord],
        schema: OrgSchema,
        options: DiffOptions | None = None,
        *,
        progress: Progress | None = None,
        first_page: Awaitable[ListPage] | None = None,
    ) -> None:
        self.client, self.desired, self.schema, self.options = client, desired, schema, options
        self.progress = progress
        # The list's first page, when the caller asked for it early (``Planning``: beside the
        # definitions, one round trip fewer before the scan).
        self.first_page = first_page
        self.result = FetchResult()

    def diff(self, wanted: DesiredRecord, live: Record | None) -> RecordChange | None:
        if self.options is None:
            return None
        return diff_record(wanted, live, self.schema, self.options)

    async def settled(self) -> AsyncIterator[Settled]:
        queue: asyncio.Queue[Settled | None] = asyncio.Queue()
        task = asyncio.create_task(self._fetch(queue))
        try:
            while (item := await queue.get()) is not None:
                yield item
            await task  # what the fetch raised, it raises here
        finally:
            task.cancel()  # a caller that stops early stops the reads too

    async def _fetch(self, queue: asyncio.Queue[Settled | None]) -> None:
        try:
            await self._run(_Tracker(len(self.desired), self.progress, queue))
        finally:
            queue.put_nowait(None)

    async def _run(self, tracker: _Tracker) -> None:
        client, schema, result = self.client, self.schema, self.result
        by_id = [d for d in self.desired if d.id is not None]
        by_match = [d for d in self.desired if d.id is None]
        live: dict[str, Settled] = {}

        async def fetch_by_id() -> None:
            if not by_id:
                return
            first = None
            if len(by_id) > PAGE:
                first = await (self.first_page or client.list_page("opportunities", limit=PAGE))
            pages = math.ceil((first.total_count or 0) / PAGE) if first is not None else 0
            if first is None or len(by_id) <= pages:
                live.update(await _get_each(client, by_id, self, tracker))
            else:
                result.strategy = "scan"
                live.update(await _scan_then_confirm(client, by_id, first, self, tracker))

        # Selectors (Search + Read) run beside the id-addressed fetch: the buckets pace them all.
        _, matched = await asyncio.gather(
            fetch_by_id(),
            asyncio.gather(*(_find_match(client, d, schema, tracker) for d in by_match)),
        )
        creates = [
            d
            for d, (record, problem) in zip(by_match, matched, strict=True)
            if record is None and problem is None
        ]
        if self.options is not None and creates:
            near = await asyncio.gather(*(near_records(client, d) for d in creates))
            result.warnings.extend(w for w in near if w is not None)
        for d in by_id:
            found = live.get(d.id or "")
            if found is None or found.live is None:
                result.problems.append(
                    Problem(
                        d.identity_at,
                        f"opportunity {d.id} ({d.name}) does not exist or is in the trash",
                    )
                )
            else:
                result.settled.append(found)

        for d, (record, problem) in zip(by_match, matched, strict=True):
            if problem is not None:
                result.problems.append(problem)
            else:
                result.settled.append(Settled(d, record, self.diff(d, record)))
        result.problems.extend(_same_record_twice(result.pairs))
        result.problems.sort()


class _Tracker:
    def __init__(
        self, total: int, progress: Progress | None, queue: asyncio.Queue[Settled | None]
    ) -> None:
        self.total, self.done, self.progress, self.queue = total, 0, progress, queue

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None:
            self.progress("fetching", min(self.done, self.total), self.total)

    def settle(self, settled: Settled) -> Settled:
        """A record's live state is final."""
        self.advance()
        if settled.live is not None:
            self.queue.put_nowait(settled)
        return settled


async def _get_each(
    client: LightfieldClient, desired: Sequence[DesiredRecord], fetch: LiveFetch, tracker: _Tracker
) -> dict[str, Settled]:
    async def one(wanted: DesiredRecord) -> tuple[str, Settled]:
        assert wanted.id is not None
        record = await get_active(client, wanted.id)
        change = fetch.diff(wanted, record) if record is not None else None
        return wanted.id, tracker.settle(Settled(wanted, record, change))

    return dict(await asyncio.gather(*(one(d) for d in desired)))


async def _scan_then_confirm(
    client: LightfieldClient,
    desired: Sequence[DesiredRecord],
    first_page: ListPage,
    fetch: LiveFetch,
    tracker: _Tracker,
) -> dict[str, Settled]:
    wanted = {d.id: d for d in desired if d.id is not None}
    live: dict[str, Settled] = {}
    confirmations: list[asyncio.Task[None]] = []
    seen: set[str] = set()

    async def confirm(record_id: str) -> None:
        record = await get_active(client, record_id)
        change = fetch.diff(wanted[record_id], record) if record is not None else None
        live[record_id] = tracker.settle(Settled(wanted[record_id], record, change))

    def take(page: ListPage) -> None:
        for listed in page.data:
            target = wanted.get(listed.id)
            if target is None or listed.id in seen:
                continue
            seen.add(listed.id)
            change = fetch.diff(target, listed)
            if change is not None and change.action != "noop":
                confirmations.append(asyncio.create_task(confirm(listed.id)))
            else:
                live[listed.id] = tracker.settle(Settled(target, listed, change))

    take(first_page)
    total = first_page.total_count or 0

    async def page_at(offset: int) -> None:
        take(await client.list_page("opportunities", limit=PAGE, offset=offset))

    await asyncio.gather(*(page_at(offset) for offset in range(PAGE, total, PAGE)))
    # Not on any page: created after the index snapshot, moved between pages, or gone.
    missing = [record_id for record_id in wanted if record_id not in seen]
    confirmations.extend(asyncio.create_task(confirm(record_id)) for record_id in missing)
    await asyncio.gather(*confirmations)
    return live


async def _find_match(
    client: LightfieldClient, desired: DesiredRecord, schema: OrgSchema, tracker: _Tracker
) -> tuple[Record | None, Problem | None]:
    candidates = await find_matching(client, desired.selector(), schema)
    tracker.advance()
    origin = desired.identity_at
    if len(candidates) == 1:
        return candidates[0], None
    if not candidates:
        if desired.on_missing == "create":
            return None, None
        message = f"{desired.name}: no opportunity matches metadata.match (onMissing: error)"
        return None, Problem(origin, message)
    names = ", ".join(f"{c.id} ({c.value('$name')})" for c in candidates[:10])
    message = (
        f"{desired.name}: metadata.match selects {len(candidates)} opportunities: {names}; "
        "narrow the selector or use metadata.id"
    )
    return None, Problem(origin, message)


def _same_record_twice(pairs: Sequence[tuple[DesiredRecord, Record | None]]) -> list[Problem]:
    problems: list[Problem] = []
    owner: dict[str, DesiredRecord] = {}
    for desired, record in pairs:
        if record is None:
            continue
        first = owner.setdefault(record.id, desired)
        if first is not desired:
            problems.append(
                Problem(
                    desired.identity_at,
                    f"{desired.name} selects {record.id}, which {first.name} "
                    f"({first.origin}) already manages",
                )
            )
    return problems
