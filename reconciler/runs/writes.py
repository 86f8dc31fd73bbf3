"""The writes of an approved plan: records concurrently, interrupts, the report (README "apply").

Owns what happens between "the plan is approved" and "here is what was applied" (the gates
before it are ``runs.apply``'s), for the run as a whole:

- Records concurrently (each record's own requests in order, ``runs.record_writes``); the
  client paces them with its Write bucket. Records may be handed over as the plan reads them.
- Partial failure: a record's API error fails that record only; an authentication, permission
  or retry-budget error stops the run, what was not started is reported as not attempted, and
  the report says "k of n applied" and that re-running is safe.
- Interrupts: ``Interrupt.request`` (the CLI's first Ctrl-C) starts no new record; those in
  flight finish; the report counts applied, in flight and not attempted. Each result is handed
  to ``on_result`` as it completes, so the CLI streams them.

Never prints; the CLI renders the ``ApplyReport``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..adapters.client import LightfieldClient
from ..core.org import OrgSchema
from ..core.plan import Plan, RecordChange
from ..core.reports import ApplyReport, RecordResult
from .fetch import Progress
from .record_writes import write_record
from .write_results import result

# Called with each record's result as soon as it is final (the CLI streams them).
OnResult = Callable[[RecordResult], None]
# Concurrent records in flight; the client's Write bucket, not this, sets the pace.
CONCURRENCY = 32


class Interrupt:
    """A request to stop an apply (Ctrl-C): no new record's writes start, those in flight
    finish. The CLI calls ``request``; ``writing`` tells it whether any write has started (if
    none has, it can simply cancel the run)."""

    def __init__(self) -> None:
        self.requested = False
        self.runs: list[ApplyRun] = []

    def request(self) -> None:
        self.requested = True
        for run in self.runs:
            run.interrupt()

    @property
    def writing(self) -> bool:
        return any(run.started for run in self.runs)

    @property
    def in_flight(self) -> int:
        return sum(len(run.running) for run in self.runs)


class ApplyRun:
    """The writes of one apply. Records may be handed over early with ``submit`` (as the plan
    reads them: writes then overlap the remaining reads); ``finish`` sends whatever of the
    final plan was not submitted yet and returns the report in plan order. ``on_result`` hears
    each record's result as soon as it is final; ``interrupt`` stops new records starting."""

    def __init__(
        self,
        client: LightfieldClient,
        schema: OrgSchema,
        *,
        progress: Progress | None = None,
        on_result: OnResult | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.client, self.schema, self.progress = client, schema, progress
        self.on_result = on_result
        self.report = ApplyReport()
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._tasks: dict[tuple[str, str], asyncio.Task[RecordResult]] = {}
        self._done = 0
        self.running: set[tuple[str, str]] = set()
        self.started = False  # whether any record's writes have begun
        self.in_flight_at_interrupt: int | None = None
        if interrupt is not None:
            interrupt.runs.append(self)
            if interrupt.requested:
                self.interrupt()

    def interrupt(self) -> None:
        if self.in_flight_at_interrupt is None:
            self.in_flight_at_interrupt = len(self.running)
        self._stop.set()

    def submit(self, change: RecordChange) -> None:
        if change.action != "noop" and _key(change) not in self._tasks:
            self._tasks[_key(change)] = asyncio.create_task(self._run(change))

    async def finish(self, plan: Plan) -> ApplyReport:
        todo = [r for r in plan.records if r.action != "noop"]
        for change in todo:
            self.submit(change)
        self.report.results = list(await asyncio.gather(*(self._tasks[_key(c)] for c in todo)))
        self._say_why_stopped(counts=True)
        return self.report

    async def abandon(self) -> ApplyReport:
        """The run ends without a plan (a problem surfaced while reading, or an interrupt): the
        writes already handed over complete, nothing else starts; their results are the
        report."""
        self.report.results = list(await asyncio.gather(*self._tasks.values()))
        self._say_why_stopped(counts=False, unread=True)
        return self.report

    def _say_why_stopped(self, *, counts: bool, unread: bool = False) -> None:
        applied = self.report.count("applied")
        total = len(self.report.results)
        if self.in_flight_at_interrupt is not None:
            self.report.interrupted = True
            rest = "; the rest of the plan was not read" if unread else ""
            self.report.stopped = (
                f"Interrupted: {applied} applied; {self.in_flight_at_interrupt} were in flight "
                f"and were let finish; {self.report.count('not_attempted')} not attempted"
                f"{rest}. Run `lfr plan` to see what is left; re-running apply is safe: "
                "applied writes are replayed, not repeated."
            )
        elif self.report.stopped is not None and counts:
            self.report.stopped = (
                f"Stopped: {self.report.stopped.rstrip('.')}. {applied} of "
                f"{total} applied; records not yet started were not attempted. Re-running "
                "apply is safe: applied writes are replayed, not repeated."
            )

    async def _run(self, change: RecordChange) -> RecordResult:
        async with self._gate:
            if self._stop.is_set():
                return result(change, "not_attempted")
            self.started = True
            self.running.add(_key(change))
            try:
                done = await write_record(self.client, change, self.schema, self._stop, self.report)
            finally:
                self.running.discard(_key(change))
        self._done += 1
        if self.progress is not None:
            self.progress("writing", self._done, max(self._done, len(self._tasks)))
        if self.on_result is not None:
            self.on_result(done)
        return done


def _key(change: RecordChange) -> tuple[str, str]:
    """A change's identity in one apply: a set's records share its name (``core.sets``)."""
    return change.name, change.id or ""
