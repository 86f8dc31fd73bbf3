"""The writes of an approved plan: sending, verification, the report (README "apply").

Owns what happens between "the plan is approved" and "here is what was applied" (the gates
before it are ``runs.apply``'s):

- Writes: each record's planned requests in order (a create first, then its follow-ups on the
  returned id), records concurrently; the client paces them with its Write bucket and retries
  transient failures with the same idempotency key.
- Verification: the record a write returns must hold every value the plan set. A response no
  newer than the record we planned from is a stale idempotent replay; the record is re-read and,
  if still not as planned, sent once more under keys naming the live state it repairs. A 2xx whose
  body is unreadable is never taken as success: an update is read back, a create is sent again
  under the same key (the API replays the record it made). A mismatch that survives is reported
  (e.g. a CRM automation changed the value back), never counted as success.
- Contract variants (docs/api-contract.md): an opted-in id-array ``replace`` that the org refuses
  (400 naming the relationship) is resent as ``add``/``remove`` under new keys; a record answered
  in the trash is a failure, never an applied write; a value the server stored as neither the one
  sent nor the one before is reported once, with both and what to write in the manifest.
- Partial failure: a record's API error fails that record only (with the manifest ``file:line``
  of the key the error's ``param`` names); an authentication, permission or retry-budget error
  stops the run, what was not started is reported as not attempted, and the report says
  "k of n applied" and that re-running is safe.

- Interrupts: ``Interrupt.request`` (the CLI's first Ctrl-C) starts no new record; those in
  flight finish; the report counts applied, in flight and not attempted. Each result is handed
  to ``on_result`` as it completes, so the CLI streams them.

Never prints; the CLI renders the ``ApplyReport``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..adapters.client import LightfieldClient
from ..core.diff import rewritten, unmet
from ..core.errors import (
    ApiError,
    Forbidden,
    LfrError,
    NotFound,
    RetryBudgetExhausted,
    TransportError,
    Unauthorized,
)
from ..core.org import OrgSchema
from ..core.plan import Plan, PlannedRequest, RecordChange, canonical_json
from ..core.records import Record
from ..core.reports import ApplyReport, Failure, RecordResult, Status
from ..core.requests import array_replace_keys, without_array_replace
from ..core.vocabulary import Origin
from .fetch import Progress

# Called with each record's result as soon as it is final (the CLI streams them).
OnResult = Callable[[RecordResult], None]
# A create answered with a record made this long before the request was sent is a replay of an
# earlier apply's create: it is read afresh (see _create). The margin covers server and client
# clocks disagreeing; a client clock running ahead only costs a read.
REPLAY_MARGIN_SECONDS = 5.0
# Concurrent records in flight; the client's Write bucket, not this, sets the pace.
CONCURRENCY = 32


# --- rails -------------------------------------------------------------------------------------


# --- writes ------------------------------------------------------------------------------------


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
                return _result(change, "not_attempted")
            self.started = True
            self.running.add(_key(change))
            try:
                result = await _apply_record(
                    self.client, change, self.schema, self._stop, self.report
                )
            finally:
                self.running.discard(_key(change))
        self._done += 1
        if self.progress is not None:
            self.progress("writing", self._done, max(self._done, len(self._tasks)))
        if self.on_result is not None:
            self.on_result(result)
        return result


@dataclass
class _Sent:
    """Requests sent for one record, counted even when a send raises."""

    count: int = 0
    record_id: str | None = None  # the record a create made, once known
    # When the create was answered by a replay of an earlier one: that record's createdAt.
    replayed_from: str | None = None


async def _apply_record(
    client: LightfieldClient,
    change: RecordChange,
    schema: OrgSchema,
    stop: asyncio.Event,
    report: ApplyReport,
) -> RecordResult:
    sent = _Sent()
    try:
        record = await _send(client, change, change.requests, sent)
        if record.trashed:
            # A deployment that writes to trashed records instead of answering 404: the write
            # is not what the plan meant (it planned an active record), so never a success.
            return _result(
                change,
                "failed",
                sent.count,
                Failure(
                    "the API answered with the record in the trash: restore it in Lightfield "
                    "(or remove metadata.id to create a new one) and re-run plan",
                    origin=change.origin,
                ),
                record_id=record.id,
            )
        missing = unmet(change, record, schema)
        resent = False
        if _not_newer(record, change.live_updated_at):
            # An answer no newer than the record we planned from is a replay of an earlier
            # run's write (same key, because the world came back to the same values): it says
            # nothing about now, so read what the record really holds. (This run's write always
            # changes the record; only a write in the very millisecond of the planned-from
            # state looks the same, and then the read just confirms it.)
            record = await client.retrieve("opportunities", record.id)
            missing = unmet(change, record, schema)
            if missing:
                fresh = tuple(_rekey(r, record.updated_at) for r in change.requests)
                record = await _send(client, replace(change, id=record.id), fresh, sent)
                resent = True
                missing = unmet(change, record, schema)
        if missing and sent.replayed_from is not None:
            # The API answered with the record an earlier apply created under this key (the
            # key's 24 h window): nothing was created now, and that record has been edited
            # since (renamed, say, so the match no longer finds it).
            return _result(
                change,
                "unverified",
                sent.count,
                Failure(
                    f"not created: the API replayed the create of {record.id} (made "
                    f"{sent.replayed_from} by an earlier apply of this manifest), which no "
                    f"longer holds the planned value of {', '.join(missing)} (edited in the "
                    "CRM since?); pin the manifest to it (`lfr pin`, or metadata.id: "
                    f"{record.id}) and plan again",
                    origin=_origin_of(change, missing[0]),
                ),
                record_id=record.id,
                replayed=True,
            )
        if missing:
            rewrites = rewritten(change, record, schema, missing)
            return _result(
                change,
                "unverified",
                sent.count,
                _rewrite_failure(change, rewrites)
                if rewrites
                else Failure(
                    "the write succeeded but the record does not hold the planned value of "
                    f"{', '.join(missing)} (changed back by an automation or another user?); "
                    "re-run plan to see the current state",
                    origin=_origin_of(change, missing[0]),
                ),
                record_id=record.id,
                resent=resent,
            )
        return _result(
            change,
            "applied",
            sent.count,
            record_id=record.id,
            resent=resent,
            replayed=sent.replayed_from is not None,
        )
    except (Unauthorized, Forbidden, RetryBudgetExhausted) as exc:
        stop.set()
        if report.stopped is None:  # the first cause; ApplyRun.finish adds the counts
            report.stopped = str(exc)
        failure: LfrError = exc
    except TransportError as exc:
        if exc.maybe_committed:
            # No valid answer, but the write may have landed: find out which, never assume.
            try:
                record = await _verify_unanswered(client, change, sent)
                if not unmet(change, record, schema):
                    return _result(change, "applied", sent.count, record_id=record.id)
            except LfrError:
                pass  # still unknown: reported as the transport error it was
        failure = exc
    except ApiError as exc:
        failure = exc
    failed = _failure(change, failure)
    return _result(change, "failed", sent.count, failed, record_id=sent.record_id)


async def _verify_unanswered(client: LightfieldClient, change: RecordChange, sent: _Sent) -> Record:
    """The record as it is after a write whose answer was lost or unreadable.

    An update is read back. A create has no id to read: the same requests are sent again under
    the same keys, so the API replays the answer of a create that landed (and runs, exactly
    once, one that did not) and the follow-up writes go to the record it names.
    """
    if change.id is not None:
        return await client.retrieve("opportunities", change.id)
    return await _send(client, change, change.requests, sent)


async def _send(
    client: LightfieldClient,
    change: RecordChange,
    requests: Sequence[PlannedRequest],
    sent: _Sent,
) -> Record:
    record: Record | None = None
    record_id = change.id
    for request in requests:
        sent.count += 1
        if request.kind == "create" and record_id is None:
            record = await _create(client, request, sent)
            record_id = sent.record_id = record.id
        else:
            assert record_id is not None, "a follow-up write needs the created record's id"
            record = await _update(client, record_id, request, change, sent)
    assert record is not None, "a planned change has at least one request"
    return record


async def _update(
    client: LightfieldClient,
    record_id: str,
    request: PlannedRequest,
    change: RecordChange,
    sent: _Sent,
) -> Record:
    """An update; an id-array ``replace`` (sent only with ``--array-replace``) that the org
    refuses with a 400 naming that relationship is sent again as ``add``/``remove``, under new
    keys (the refused write changed nothing; docs/api-contract.md §1)."""
    try:
        return await client.update(
            "opportunities", record_id, request.body, idempotency_key=request.idempotency_key
        )
    except ApiError as exc:
        if not _refuses_array_replace(exc, request):
            raise
    record: Record | None = None
    for fallback in without_array_replace(request, change.relationships):
        sent.count += 1
        record = await client.update(
            "opportunities", record_id, fallback.body, idempotency_key=fallback.idempotency_key
        )
    assert record is not None, "a fallback has at least one request"
    return record


def _refuses_array_replace(exc: ApiError, request: PlannedRequest) -> bool:
    """A 400 about a relationship this request sets with an id array: named by ``param``
    (``relationships.<key>``) or, where an API leaves ``param`` out, by its message."""
    if exc.status != 400:
        return False
    keys = array_replace_keys(request)
    named = _param_key(exc.param)
    if named is not None:
        return any(named in (key, key.lstrip("$")) for key in keys)
    return exc.param is None and any(key in (exc.message or "") for key in keys)


async def _create(client: LightfieldClient, request: PlannedRequest, sent: _Sent) -> Record:
    """Create, and make sure the record the answer names exists.

    A create's key does not change with the manifest revision (so a lagging list cannot make a
    new commit create a duplicate), so the API may answer with a replay of an earlier create
    whose record has since been trashed. Then the record is created again under a key naming
    the one that is gone.
    """
    sent_at = datetime.now(UTC)
    record = await client.create(
        "opportunities", request.body, idempotency_key=request.idempotency_key
    )
    if not _created_before(record, sent_at):
        return record  # made just now: this run's create (or a crashed run's, moments ago)
    try:
        fresh = await client.retrieve("opportunities", record.id)
        sent.replayed_from = record.created_at or "earlier"
        return fresh
    except NotFound:
        sent.count += 1
        again = _rekey(request, record.id)
        return await client.create(
            "opportunities", again.body, idempotency_key=again.idempotency_key
        )


def _created_before(record: Record, sent_at: datetime) -> bool:
    """Whether a create's answer describes a record made before the request was sent: a replay,
    whose record may since have been edited or trashed. (An unreadable stamp counts as before,
    which only costs one read.)"""
    try:
        created = datetime.fromisoformat((record.created_at or "").replace("Z", "+00:00"))
    except ValueError:
        return True
    if created.tzinfo is None:
        return True
    return (sent_at - created).total_seconds() > REPLAY_MARGIN_SECONDS


def _rekey(request: PlannedRequest, live_updated_at: str | None) -> PlannedRequest:
    """The same write under a new key, so the API runs it instead of replaying an old answer.

    The key names the live state being repaired (its ``updatedAt``, or the id of a created
    record that is gone): repairing the same value
    again after it was changed back once more gets yet another key, never the previous
    repair's (whose replay would report a success that is not there), while a re-run after a
    crash mid-repair, facing the same live state, reuses it.
    """
    state = hashlib.sha256((live_updated_at or "").encode()).hexdigest()[:16]
    return replace(request, idempotency_key=f"{request.idempotency_key}-r{state}")


def _not_newer(record: Record, planned_updated_at: str | None) -> bool:
    # ISO 8601 UTC stamps of one format compare correctly as strings. Millisecond stamps: a
    # hand edit in the same millisecond as the replayed write has the same stamp, so "older"
    # would miss it.
    return bool(
        planned_updated_at and record.updated_at and record.updated_at <= planned_updated_at
    )


def _rewrite_failure(change: RecordChange, rewrites: list[tuple[str, Any, Any]]) -> Failure:
    """What the server stored instead of what was sent, once, with what to write in the
    manifest (every later plan would otherwise show the same change again)."""
    told = "; ".join(
        f"{key}: sent {canonical_json(sent)}, stored {canonical_json(stored)}"
        for key, sent, stored in rewrites
    )
    return Failure(
        f"the API stored other values than the ones sent ({told}): it rewrites these values "
        "when it stores them, so every plan would show this change again; write the stored "
        "values in the manifest",
        origin=_origin_of(change, rewrites[0][0]),
    )


def _result(
    change: RecordChange,
    status: Status,
    sent: int = 0,
    failure: Failure | None = None,
    *,
    record_id: str | None = None,
    resent: bool = False,
    replayed: bool = False,
) -> RecordResult:
    return RecordResult(
        change.name,
        record_id or change.id,
        change.action,
        status,
        change.origin,
        sent,
        failure,
        resent,
        replayed,
    )


def _failure(change: RecordChange, exc: LfrError) -> Failure:
    if isinstance(exc, RetryBudgetExhausted) and isinstance(exc.last_error, ApiError):
        inner = exc.last_error
        return Failure(str(exc), inner.type, inner.code, inner.param, change.origin)
    if isinstance(exc, ApiError):
        key = _param_key(exc.param)
        origin = _origin_of(change, key) if key else change.origin
        return Failure(exc.message or str(exc), exc.type, exc.code, exc.param, origin)
    return Failure(str(exc), origin=change.origin)


def _param_key(param: str | None) -> str | None:
    """``fields.$amount`` / ``relationships.$contact`` / ``fields.name`` → the key."""
    if not param or "." not in param:
        return None
    section, _, key = param.partition(".")
    return key.split(".")[0] if section in ("fields", "relationships") else None


def _origin_of(change: RecordChange, key: str | None) -> Origin:
    if key is None:
        return change.origin
    # The API's param spelling is not stable (`fields.name` for `$name`): match either.
    spellings = (key, f"${key}")
    for f in change.fields:
        if f.key in spellings:
            return f.origin
    for r in change.relationships:
        if r.key in spellings:
            return r.origin
    return change.origin


def _key(change: RecordChange) -> tuple[str, str]:
    """A change's identity in one apply: a set's records share its name (``core.sets``)."""
    return change.name, change.id or ""
