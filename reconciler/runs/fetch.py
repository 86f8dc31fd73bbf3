"""Live state for the desired records, in as few requests as the rate limits allow (architecture.md
§2).

Owns the fetch strategy. Few id-addressed records: ``GET`` each by id (Read bucket). Many: scan
the list (Search bucket, 25 per page, pages fetched concurrently) and ``GET`` by id only the
records whose listed values differ from the manifest or that the scan did not show, because
the list index lags writes and a difference is confirmed on a fresh read before it is
reported. The confirming reads start while the scan is still running, so Read and Search
buckets work at the same time. ``match`` manifests are found with list filters and confirmed by
id (``find_matching``, also used to re-check a saved plan's creates). ``LiveFetch.settled()``
yields each id-addressed record as soon as its live state is final, with its change; the result
holds every ``Settled`` record and ``Problem``. Never prints.
"""

from __future__ import annotations

import asyncio
import difflib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..adapters.client import MAX_PAGE_SIZE, LightfieldClient
from ..core.diff import diff_record
from ..core.errors import NotFound
from ..core.model import DesiredRecord
from ..core.org import OrgSchema, fold, normalize_live, same_value
from ..core.plan import DiffOptions, RecordChange
from ..core.records import ListPage, Record
from ..core.vocabulary import Problem

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
            near = await asyncio.gather(*(_near_records(client, d) for d in creates))
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


async def get_active(client: LightfieldClient, record_id: str) -> Record | None:
    """The record, or None when it is gone: not found, or returned with a trash marker (never
    a record to update: docs/api-contract.md §4)."""
    try:
        record = await client.retrieve("opportunities", record_id)
    except NotFound:
        return None
    return None if record.trashed else record


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


async def find_matching(
    client: LightfieldClient, selector: dict[str, Any], schema: OrgSchema
) -> list[Record]:
    """Every opportunity ``selector`` (``DesiredRecord.selector``) picks, on fresh reads."""
    filters = match_filters(selector, schema)
    found = await _confirmed(client, await client.list_all("opportunities", filters=filters))
    found = [r for r in found if _selected(selector, r, schema)]
    others = match_filters(selector, schema, text="loose")
    if found or others == filters:
        return found
    # The selector compares text case-insensitively with whitespace collapsed, which a server's
    # text `equal` may not do ("Globex  renewal" typed in a manifest or in the CRM): before a
    # create is planned, look again with looser filters (those on other values alone, or the
    # text's first word as a prefix), reading afresh only what the list shows as selected.
    listed = await client.list_all("opportunities", filters=others)
    candidates = [r for r in listed if _selected(selector, r, schema)]
    return [r for r in await _confirmed(client, candidates) if _selected(selector, r, schema)]


async def _confirmed(client: LightfieldClient, listed: Sequence[Record]) -> list[Record]:
    """Fresh reads of listed records (the list lags writes); those gone since are dropped."""
    fresh = await asyncio.gather(*(get_active(client, record.id) for record in listed))
    return [record for record in fresh if record is not None]


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


# How alike two names must be (difflib's ratio, folded) for a planned create to be flagged as
# perhaps a record that exists under a slightly different name.
NEAR_RATIO = 0.75


async def _near_records(client: LightfieldClient, desired: DesiredRecord) -> Problem | None:
    """A warning when a planned create's name is close to an opportunity on the same account
    (``Globex renewal 2027`` beside ``Globex renewal``, a renamed record): the user may mean
    that record, which ``metadata.id`` (``lfr pin``) would manage instead."""
    fields = {f.key: f.value for f in (*desired.match_fields, *desired.fields)}
    links = {r.key: r.include for r in (*desired.match_relationships, *desired.relationships)}
    name, accounts = fields.get("$name"), links.get("$account", ())
    if not isinstance(name, str) or len(accounts) != 1:
        return None
    listed = await client.list_all("opportunities", filters=[("$account", str(accounts[0]))])
    wanted = fold(name)
    near = [
        r
        for r in listed
        if isinstance(r.value("$name"), str)
        and difflib.SequenceMatcher(None, wanted, fold(str(r.value("$name")))).ratio() >= NEAR_RATIO
    ]
    if not near:
        return None
    names = ", ".join(f"{r.id} ({r.value('$name')!r})" for r in near[:5])
    return Problem(
        desired.origin,
        f"{desired.name}: creates {name!r}, but the same account has {names}; if that is the "
        "record meant, set metadata.id to it (or fix the match) instead of creating another",
    )


# The list filter operator each value type supports for a match (lightfield-api.md §1.4); types with
# none (multi-select, address, ...) are not filtered, and the fresh read decides.
_FILTER_OPERATOR = {
    "TEXT": "equal",
    "NUMBER": "equal",
    "CURRENCY": "equal",
    "DATETIME": "equal",
    "CHECKBOX": "equal",
    "SINGLE_SELECT": "equal",
    "SOCIAL_HANDLE": "equal",
    "EMAIL": "contains",
    "URL": "contains",
    "TELEPHONE": "contains",
}


# Text types whose list filter is `equal`: a server may compare them exactly, while
# ``_selected`` folds case and whitespace (as it does every text value).
_TEXT_TYPES = frozenset({"TEXT", "SOCIAL_HANDLE"})


def match_filters(
    selector: dict[str, Any], schema: OrgSchema, *, text: Literal["equal", "loose"] = "equal"
) -> list[tuple[str, str]]:
    """List filters narrowing the candidates; the selector itself is checked on fresh reads.

    ``text="loose"`` drops the `equal` filters on text values when another filter narrows the
    list, else spells each as `startsWith` its first word: both find a value written with other
    whitespace or case, which `equal` may miss."""
    filters: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for key, value in selector.items():
        if schema.relationship(key) is not None:
            filters.extend((key, record_id) for record_id in value)
            continue
        definition = schema.field(key)
        kind = definition.value_type if definition else ""
        operator = _FILTER_OPERATOR.get(kind)
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        if operator is None or not isinstance(value, str | int | float | bool):
            continue
        if text == "loose" and kind in _TEXT_TYPES and isinstance(value, str):
            words = value.split()
            if words:
                texts.append((f"{key}[startsWith]", words[0]))
            continue
        spelled = str(value).lower() if isinstance(value, bool) else str(value)
        filters.append((f"{key}[{operator}]", spelled))
    return filters if filters or text == "equal" else texts


def _selected(selector: dict[str, Any], record: Record, schema: OrgSchema) -> bool:
    """Whether a fresh record satisfies the selector, compared as the diff compares values
    (canonical forms; text case-insensitively with whitespace collapsed)."""
    for key, wanted in selector.items():
        if schema.relationship(key) is not None:
            if not set(wanted) <= set(record.related_ids(key)):
                return False
            continue
        value = normalize_live(schema.field(key), record.value(key))
        if isinstance(value, str) and isinstance(wanted, str):
            if fold(value) != fold(wanted):
                return False
        elif not same_value(wanted, value):
            return False
    return True


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
