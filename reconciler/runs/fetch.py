"""Live state for the desired records, in as few requests as the rate limits allow (architecture.md
§2).

Owns the fetch strategy. Few id-addressed records: ``GET`` each by id (Read bucket). Many: scan
the list (Search bucket, 25 per page, pages fetched concurrently) and ``GET`` by id only the
records whose listed values differ from the manifest or that the scan did not show, because
the list index lags writes and a difference is confirmed on a fresh read before it is
reported. The confirming reads start while the scan is still running, so Read and Search
buckets work at the same time. ``match`` manifests are found with list filters and confirmed by
id (``find_matching``, also used to re-check a saved plan's creates). Returns (desired,
live-or-None) pairs and ``Problem``s; never prints.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..adapters.client import MAX_PAGE_SIZE, LightfieldClient
from ..core.errors import NotFound
from ..core.model import DesiredRecord
from ..core.org import OrgSchema, fold, normalize_live, same_value
from ..core.records import ListPage, Record
from ..core.vocabulary import Problem

PAGE = MAX_PAGE_SIZE
Progress = Callable[[int, int], None]
Differs = Callable[[DesiredRecord, Record], bool]
Ready = Callable[[DesiredRecord, Record], None]


@dataclass
class FetchResult:
    pairs: list[tuple[DesiredRecord, Record | None]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    strategy: str = "by-id"


async def fetch_live(
    client: LightfieldClient,
    desired: Sequence[DesiredRecord],
    differs: Differs,
    schema: OrgSchema,
    *,
    progress: Progress | None = None,
    on_ready: Ready | None = None,
) -> FetchResult:
    """Live records for ``desired``; ``differs(desired, listed)`` says whether a listed record
    needs a confirming read (a pure diff, passed in so this module stays about I/O).

    ``on_ready(desired, live)`` is called for each id-addressed record as soon as its live state
    is final (read, or listed and equal), so a caller can act on it while the rest is read."""
    by_id = [d for d in desired if d.id is not None]
    by_match = [d for d in desired if d.id is None]
    tracker = _Tracker(len(desired), progress, on_ready)
    result = FetchResult()
    live: dict[str, Record | None] = {}

    async def fetch_by_id() -> None:
        if not by_id:
            return
        first = None
        if len(by_id) > PAGE:
            first = await client.list_page("opportunities", limit=PAGE)
        pages = math.ceil((first.total_count or 0) / PAGE) if first is not None else 0
        if first is None or len(by_id) <= pages:
            live.update(await _get_each(client, by_id, tracker))
        else:
            result.strategy = "scan"
            live.update(await _scan_then_confirm(client, by_id, first, differs, tracker))

    # Selectors (Search + Read) run beside the id-addressed fetch: the buckets pace them all.
    _, matched = await asyncio.gather(
        fetch_by_id(),
        asyncio.gather(*(_find_match(client, d, schema, tracker) for d in by_match)),
    )
    for d in by_id:
        record = live.get(d.id or "")
        if record is None:
            result.problems.append(
                Problem(
                    d.origin.file,
                    d.origin.line,
                    f"opportunity {d.id} ({d.name}) does not exist or is in the trash",
                )
            )
        else:
            result.pairs.append((d, record))

    for d, (record, problem) in zip(by_match, matched, strict=True):
        if problem is not None:
            result.problems.append(problem)
        else:
            result.pairs.append((d, record))
    result.problems.extend(_same_record_twice(result.pairs))
    result.problems.sort()
    return result


class _Tracker:
    def __init__(self, total: int, progress: Progress | None, on_ready: Ready | None) -> None:
        self.total, self.done, self.progress, self.on_ready = total, 0, progress, on_ready

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)

    def settle(self, desired: DesiredRecord, record: Record | None) -> None:
        """A record's live state is final."""
        self.advance()
        if record is not None and self.on_ready is not None:
            self.on_ready(desired, record)


async def _get(client: LightfieldClient, record_id: str) -> Record | None:
    try:
        return await client.retrieve("opportunities", record_id)
    except NotFound:
        return None


async def _get_each(
    client: LightfieldClient, desired: Sequence[DesiredRecord], tracker: _Tracker
) -> dict[str, Record | None]:
    async def one(wanted: DesiredRecord) -> tuple[str, Record | None]:
        assert wanted.id is not None
        record = await _get(client, wanted.id)
        tracker.settle(wanted, record)
        return wanted.id, record

    return dict(await asyncio.gather(*(one(d) for d in desired)))


async def _scan_then_confirm(
    client: LightfieldClient,
    desired: Sequence[DesiredRecord],
    first_page: ListPage,
    differs: Differs,
    tracker: _Tracker,
) -> dict[str, Record | None]:
    wanted = {d.id: d for d in desired if d.id is not None}
    live: dict[str, Record | None] = {}
    confirmations: list[asyncio.Task[None]] = []
    seen: set[str] = set()

    async def confirm(record_id: str) -> None:
        live[record_id] = await _get(client, record_id)
        tracker.settle(wanted[record_id], live[record_id])

    def take(page: ListPage) -> None:
        for listed in page.data:
            target = wanted.get(listed.id)
            if target is None or listed.id in seen:
                continue
            seen.add(listed.id)
            if differs(target, listed):
                confirmations.append(asyncio.create_task(confirm(listed.id)))
            else:
                live[listed.id] = listed
                tracker.settle(target, listed)

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
    filters = _match_filters(selector, schema)
    found = await _confirmed(client, await client.list_all("opportunities", filters=filters))
    found = [r for r in found if _selected(selector, r, schema)]
    others = _match_filters(selector, schema, text=False)
    if found or not others or others == filters:
        return found
    # The selector compares text case-insensitively with whitespace collapsed, which a server's
    # text `equal` may not do ("Acme  Renewal" by hand in the CRM): before a create is planned,
    # look again by the other filters alone, reading afresh only what the list shows as selected.
    listed = await client.list_all("opportunities", filters=others)
    candidates = [r for r in listed if _selected(selector, r, schema)]
    return [r for r in await _confirmed(client, candidates) if _selected(selector, r, schema)]


async def _confirmed(client: LightfieldClient, listed: Sequence[Record]) -> list[Record]:
    """Fresh reads of listed records (the list lags writes); those gone since are dropped."""
    fresh = await asyncio.gather(*(_get(client, record.id) for record in listed))
    return [record for record in fresh if record is not None]


async def _find_match(
    client: LightfieldClient, desired: DesiredRecord, schema: OrgSchema, tracker: _Tracker
) -> tuple[Record | None, Problem | None]:
    candidates = await find_matching(client, desired.selector(), schema)
    tracker.advance()
    origin = desired.origin
    if len(candidates) == 1:
        return candidates[0], None
    if not candidates:
        if desired.on_missing == "create":
            return None, None
        message = f"{desired.name}: no opportunity matches metadata.match (onMissing: error)"
        return None, Problem(origin.file, origin.line, message)
    names = ", ".join(f"{c.id} ({c.value('$name')})" for c in candidates[:10])
    message = (
        f"{desired.name}: metadata.match selects {len(candidates)} opportunities: {names}; "
        "narrow the selector or use metadata.id"
    )
    return None, Problem(origin.file, origin.line, message)


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


def _match_filters(
    selector: dict[str, Any], schema: OrgSchema, *, text: bool = True
) -> list[tuple[str, str]]:
    """List filters narrowing the candidates (``text=False``: without those on text values);
    the selector itself is checked on fresh reads."""
    filters: list[tuple[str, str]] = []
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
        if not text and kind in _TEXT_TYPES:
            continue
        spelled = str(value).lower() if isinstance(value, bool) else str(value)
        filters.append((f"{key}[{operator}]", spelled))
    return filters


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
                    desired.origin.file,
                    desired.origin.line,
                    f"{desired.name} selects {record.id}, which {first.name} "
                    f"({first.origin}) already manages",
                )
            )
    return problems
