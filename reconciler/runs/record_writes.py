"""One record's writes, verified: from its planned change to its ``RecordResult``.

Owns what counts as applied. The record a write returns must hold every value the plan set. A
response no newer than the record we planned from is a stale idempotent replay; the record is
re-read and, if still not as planned, sent once more under keys naming the live state it
repairs. A 2xx whose body is unreadable is never taken as success: an update is read back, a
create is sent again under the same key (the API replays the record it made). A record answered
in the trash is a failure, never an applied write; a value the server stored as neither the one
sent nor the one before is reported once, with both and what to write in the manifest; a
mismatch that survives (e.g. a CRM automation changed the value back) is reported, never
counted as success. A record's API error fails that record only; an authentication, permission
or retry-budget error also stops the run (``stop``, and the first cause in the report).

Sending is ``runs.send``'s, the result and failure ``runs.write_results``'; called by
``runs.writes``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ..adapters.client import LightfieldClient
from ..core.diff import rewritten, unmet
from ..core.errors import (
    ApiError,
    Forbidden,
    LfrError,
    RetryBudgetExhausted,
    TransportError,
    Unauthorized,
)
from ..core.org import OrgSchema
from ..core.plan import RecordChange
from ..core.records import Record
from ..core.reports import ApplyReport, Failure, RecordResult
from .send import Sent, rekey, send
from .write_results import failure, origin_of, result, rewrite_failure


async def write_record(
    client: LightfieldClient,
    change: RecordChange,
    schema: OrgSchema,
    stop: asyncio.Event,
    report: ApplyReport,
) -> RecordResult:
    """Send ``change``'s requests and verify the answer; ``stop`` is set (and the cause put in
    ``report.stopped``) when the error means no further record should start."""
    sent = Sent()
    try:
        record = await send(client, change, change.requests, sent)
        if record.trashed:
            # A deployment that writes to trashed records instead of answering 404: the write
            # is not what the plan meant (it planned an active record), so never a success.
            return result(
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
                fresh = tuple(rekey(r, record.updated_at) for r in change.requests)
                record = await send(client, replace(change, id=record.id), fresh, sent)
                resent = True
                missing = unmet(change, record, schema)
        if missing and sent.replayed_from is not None:
            # The API answered with the record an earlier apply created under this key (the
            # key's 24 h window): nothing was created now, and that record has been edited
            # since (renamed, say, so the match no longer finds it).
            return result(
                change,
                "unverified",
                sent.count,
                Failure(
                    f"not created: the API replayed the create of {record.id} (made "
                    f"{sent.replayed_from} by an earlier apply of this manifest), which no "
                    f"longer holds the planned value of {', '.join(missing)} (edited in the "
                    "CRM since?); pin the manifest to it (`lfr pin`, or metadata.id: "
                    f"{record.id}) and plan again",
                    origin=origin_of(change, missing[0]),
                ),
                record_id=record.id,
                replayed=True,
            )
        if missing:
            rewrites = rewritten(change, record, schema, missing)
            return result(
                change,
                "unverified",
                sent.count,
                rewrite_failure(change, rewrites)
                if rewrites
                else Failure(
                    "the write succeeded but the record does not hold the planned value of "
                    f"{', '.join(missing)} (changed back by an automation or another user?); "
                    "re-run plan to see the current state",
                    origin=origin_of(change, missing[0]),
                ),
                record_id=record.id,
                resent=resent,
            )
        return result(
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
        error: LfrError = exc
    except TransportError as exc:
        if exc.maybe_committed:
            # No valid answer, but the write may have landed: find out which, never assume.
            try:
                record = await _verify_unanswered(client, change, sent)
                if not unmet(change, record, schema):
                    return result(change, "applied", sent.count, record_id=record.id)
            except LfrError:
                pass  # still unknown: reported as the transport error it was
        error = exc
    except ApiError as exc:
        error = exc
    return result(change, "failed", sent.count, failure(change, error), record_id=sent.record_id)


async def _verify_unanswered(client: LightfieldClient, change: RecordChange, sent: Sent) -> Record:
    """The record as it is after a write whose answer was lost or unreadable.

    An update is read back. A create has no id to read: the same requests are sent again under
    the same keys, so the API replays the answer of a create that landed (and runs, exactly
    once, one that did not) and the follow-up writes go to the record it names.
    """
    if change.id is not None:
        return await client.retrieve("opportunities", change.id)
    return await send(client, change, change.requests, sent)


def _not_newer(record: Record, planned_updated_at: str | None) -> bool:
    # ISO 8601 UTC stamps of one format compare correctly as strings. Millisecond stamps: a
    # hand edit in the same millisecond as the replayed write has the same stamp, so "older"
    # would miss it.
    return bool(
        planned_updated_at and record.updated_at and record.updated_at <= planned_updated_at
    )
