"""The plan run end to end (architecture.md §2): files → problems or a Plan.

Owns the order of the stages and the rule that a run with any problem stops before it could
write: load and shape-check every file (no network), fetch the org's definitions, check values
and build desired state, resolve references, fetch live state, diff, confirm the raw ids a change
would newly link (``runs.link_check``), and refuse a change that would link an id with no active
record. Each stage reports every problem it finds, and every manifest goes as far through the
stages before the live read as it can on its own (a broken file does not stop the others' checks);
the run returns them all together. ``--target`` / ``--exclude`` choose the manifests
(``runs.validate.Selection``). The first stages are ``runs.validate``'s; a saved plan is
``runs.saved_plan``'s. Called by the CLI (plan, drift) and ``runs.apply``; never prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.client import MAX_PAGE_SIZE as PAGE
from ..adapters.client import LightfieldClient
from ..core.desired import cap_problems
from ..core.diff import diff_record, plan_of
from ..core.model import DesiredRecord
from ..core.org import OrgSchema, option_labels
from ..core.plan import DiffOptions, Plan, RecordChange
from ..core.records import ListPage, Record
from ..core.requests import oversized_bodies
from ..core.sets import DesiredSet, merge_into, set_record, sets_by_record
from ..core.vocabulary import Problem
from .fetch import LiveFetch, Progress, Settled
from .link_check import LinkCheck
from .sets import Members, find_members
from .validate import (
    ManifestSet,
    ManifestSource,
    Selection,
    against_org,
    read_manifests,
    source_of,
)


@dataclass
class Outcome:
    """What a run produced: a plan, or the problems that stopped it (never both)."""

    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    fetch_strategy: str = ""
    # The org's definitions the plan was checked against (apply verifies writes with them).
    schema: OrgSchema | None = None
    # What the plan does that may not be meant (a create near an existing record).
    warnings: list[Problem] = field(default_factory=list)
    # Whether ``OpportunitySet``s were planned (apply's empty-manifest rail knows them).
    sets: bool = False
    # Each set's name and the file it is in: a policy scoped by names judges the changes a
    # set makes on a record another document names (``core.policies``).
    set_files: dict[str, str] = field(default_factory=dict)
    # The live record of each record the plan changes, by id (creates have none; unchanged
    # records are not kept): a policy scoped by selector judges a record by its state before
    # the plan as well as after it (``core.scope``).
    live: dict[str, Record] = field(default_factory=dict)


async def run_plan(
    client: LightfieldClient,
    root: Path | Sequence[Path] | ManifestSource,
    *,
    target: str,
    array_replace: bool = False,
    progress: Progress | None = None,
    selection: Selection | None = None,
) -> Outcome:
    """Plan the manifests below ``root`` (a path or several) that ``selection`` chooses against
    the org: the whole plan, or the problems that stopped it."""
    planning = Planning(
        client,
        root,
        target=target,
        array_replace=array_replace,
        progress=progress,
        selection=selection,
    )
    async for _ in planning.changes():
        pass
    return planning.outcome


class Planning:
    """One plan being made. ``changes()`` yields each id-addressed record's change as soon as its
    live state is final and it can be written now (it changes something and links no missing
    id): apply starts those writes while the rest is read. Once ``changes()`` is exhausted,
    ``outcome`` holds the whole plan (those changes included), or the problems that stopped it;
    ``schema`` is the org's definitions, known before the first change."""

    def __init__(
        self,
        client: LightfieldClient,
        root: Path | Sequence[Path] | ManifestSource,
        *,
        target: str,
        array_replace: bool = False,
        progress: Progress | None = None,
        selection: Selection | None = None,
    ) -> None:
        self.client, self.source, self.target = client, source_of(root), target
        self.array_replace, self.progress, self.selection = array_replace, progress, selection
        self.outcome = Outcome()
        self.schema: OrgSchema | None = None
        # Whether the manifests hold sets: a set's conflict with a `match` manifest is found
        # only once every change is known, so apply does not stream such a plan's writes.
        self.has_sets = False

    async def changes(self) -> AsyncIterator[RecordChange]:
        progress = self.progress
        read = read_manifests(
            self.source,
            self.selection,
            progress=None
            if progress is None
            else lambda done, total: progress("reading", done, total),
        )
        manifests = read.manifests
        self.has_sets = bool(read.sets)
        if not manifests and not read.sets:
            self.outcome = Outcome(problems=read.problems)
            return
        # The manifests that read and shaped well are checked against the org even when other
        # files did not: one run reports every problem of every file (runs.validate).
        # A plan of more id-addressed records than a page holds may scan the list (runs.fetch),
        # which starts with its first page: asked for now, beside the definitions and the
        # references, instead of after them.
        first_page = (
            asyncio.create_task(self.client.list_page("opportunities", limit=PAGE))
            if sum(1 for m in manifests if m.manifest.metadata.id is not None) > PAGE
            else None
        )
        changes = self._changes(read, first_page)
        del read, manifests  # _changes lets go of them once desired state is built
        try:
            async for change in changes:
                yield change
        finally:
            if first_page is not None and not first_page.done():
                first_page.cancel()  # the run stopped before the fetch needed it
            elif first_page is not None and not first_page.cancelled():
                first_page.exception()  # its error is the run's only if the fetch awaited it

    async def _changes(
        self,
        read: ManifestSet,
        first_page: asyncio.Task[ListPage] | None,
    ) -> AsyncIterator[RecordChange]:
        schema, resolution = await against_org(self.client, read.manifests, read.sets)
        problems = sorted(read.problems + resolution.problems)
        revision = read.revision() if not problems else ""
        # The manifests' documents (every value and the line of every path: ~5 KB a file) go
        # once desired state is built: the live read and the diff need only the desired records.
        del read
        if problems:
            self.outcome = Outcome(problems=problems)
            return
        self.schema = schema
        options = DiffOptions(
            revision=revision, target=self.target, array_replace=self.array_replace
        )
        # Sets first: a record manifest's record a set also matches carries the set's keys
        # before its change can be streamed to apply.
        members = await find_members(self.client, resolution.sets, schema)
        by_record = sets_by_record(resolution.sets, members.of)
        records, conflicts = _with_sets(resolution.records, by_record, members.records)
        if conflicts:
            self.outcome = Outcome(problems=sorted(conflicts))
            return
        fetch = LiveFetch(
            self.client,
            records,
            schema,
            options,
            progress=self.progress,
            first_page=first_page,
        )
        links = LinkCheck(self.client, resolution)
        async for change in _writable(fetch, links):
            yield change
        fetched = fetch.result
        if fetched.problems:
            self.outcome = Outcome(problems=fetched.problems)
            return
        changes = [(s.desired, s.change) for s in fetched.settled if s.change is not None]
        changes, conflicts = _set_changes(
            changes, fetched.settled, by_record, members, fetch, options
        )
        if conflicts:
            self.outcome = Outcome(problems=sorted(conflicts))
            return
        # Records found by a selector are not streamed: their new links are confirmed here.
        await asyncio.gather(*(links.confirm(wanted, change) for wanted, change in changes))
        # A write that would link an id with no active record is refused by the API: a problem.
        # So is a body over the API's size limit.
        unlinkable = [
            problem
            for wanted, change in changes
            for problem in (*links.problems(wanted, change), *oversized_bodies(change))
        ]
        if unlinkable:
            self.outcome = Outcome(problems=cap_problems(sorted(unlinkable)))
            return
        labels = {**links.names, **option_labels(schema)}
        plan = plan_of((change for _, change in changes), options, labels)
        self.outcome = Outcome(
            plan=plan,
            fetch_strategy=fetched.strategy
            + (f"; sets: {members.strategy}" if resolution.sets else ""),
            schema=schema,
            warnings=sorted([*fetched.warnings, *members.warnings]),
            sets=bool(resolution.sets),
            set_files={one.name: one.origin.file for one in resolution.sets},
            live=_changed_live(plan, fetched.settled, members.records),
        )


def _changed_live(
    plan: Plan, settled: list[Settled], fresh: dict[str, Record]
) -> dict[str, Record]:
    """The live record of each record ``plan`` changes, by id: its settled read, or for a
    record only sets manage, the fresh read that confirmed it matched."""
    changed = {r.id for r in plan.records if r.action != "noop" and r.id}
    live = {s.live.id: s.live for s in settled if s.live is not None and s.live.id in changed}
    live.update((i, fresh[i]) for i in changed - live.keys() if i in fresh)
    return live


def _with_sets(
    records: list[DesiredRecord],
    by_record: dict[str, list[DesiredSet]],
    fresh: dict[str, Record],
) -> tuple[list[DesiredRecord], list[Problem]]:
    """Id-addressed record manifests with the keys of the sets that match their record."""
    merged: list[DesiredRecord] = []
    conflicts: list[Problem] = []
    for record in records:
        sets = by_record.get(record.id or "")
        if sets and record.id in fresh:
            record, found = merge_into(record, sets, fresh[record.id])
            conflicts.extend(found)
        merged.append(record)
    return merged, conflicts


def _set_changes(
    changes: list[tuple[DesiredRecord, RecordChange]],
    settled: list[Settled],
    by_record: dict[str, list[DesiredSet]],
    members: Members,
    fetch: LiveFetch,
    options: DiffOptions,
) -> tuple[list[tuple[DesiredRecord, RecordChange]], list[Problem]]:
    """``changes`` with the sets' keys: merged into the records ``match`` manifests found (not
    streamed, so diffed again here), and a change of each record only sets manage, diffed
    against the fresh read that confirmed it matched (no second read)."""
    if not by_record:
        return changes, []
    conflicts: list[Problem] = []
    result: list[tuple[DesiredRecord, RecordChange]] = []
    live_of = {id(s.desired): s.live for s in settled}  # (a plan may hold thousands)
    for wanted, change in changes:
        live = live_of.get(id(wanted))
        sets = by_record.get(live.id) if live is not None and wanted.id is None else None
        if live is not None and sets:
            wanted, found = merge_into(wanted, sets, live)
            conflicts.extend(found)
            change = diff_record(wanted, live, fetch.schema, options)
        result.append((wanted, change))
    taken = {s.live.id for s in settled if s.live is not None}
    for record_id, sets in by_record.items():
        record = members.records[record_id]
        if record_id in taken:
            continue
        wanted, found = merge_into(set_record(sets, record), sets, record)
        conflicts.extend(found)
        result.append((wanted, diff_record(wanted, record, fetch.schema, options)))
    return result, conflicts


async def _writable(fetch: LiveFetch, links: LinkCheck) -> AsyncIterator[RecordChange]:
    """Each change that can be written now, as soon as it is known: its live state is final,
    it changes something, every id it would newly link is confirmed active, and its bodies
    fit. A change waiting for its links' reads does not hold back those settled after it."""
    ready: asyncio.Queue[RecordChange | None] = asyncio.Queue()

    async def check(settled: Settled, change: RecordChange) -> None:
        await links.confirm(settled.desired, change)
        if not links.problems(settled.desired, change) and not oversized_bodies(change):
            ready.put_nowait(change)

    async def feed() -> None:
        checks: list[asyncio.Task[None]] = []
        try:
            async for settled in fetch.settled():
                change = settled.change
                if change is None or change.action == "noop":
                    continue
                if links.needs_reads(settled.desired, change):
                    checks.append(asyncio.create_task(check(settled, change)))
                else:
                    await check(settled, change)
            await asyncio.gather(*checks)
        finally:
            for task in checks:
                task.cancel()
            ready.put_nowait(None)

    feeding = asyncio.create_task(feed())
    try:
        while (change := await ready.get()) is not None:
            yield change
        await feeding  # what the fetch or a read raised, it raises here
    finally:
        feeding.cancel()
