"""Sending one record's planned requests: a create first, then its follow-ups on the returned
id, counting every request sent (README "apply").

Owns the exchanges with the API for one record and the contract variants they meet
(docs/api-contract.md): a create answered by a replay of an earlier apply's create is read
afresh, or, when that record is gone, created again under a key naming it; an opted-in id-array
``replace`` that the org refuses (400 naming the relationship) is resent as ``add``/``remove``
under new keys; ``rekey``, the same write under a key naming the live state it repairs. The
client paces the writes with its Write bucket and retries transient failures with the same
idempotency key. Whether the answer is what the plan meant is ``runs.record_writes``'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..adapters.client import LightfieldClient
from ..core.errors import ApiError, NotFound
from ..core.plan import PlannedRequest, RecordChange
from ..core.records import Record
from ..core.requests import array_replace_keys, without_array_replace
from .write_results import param_key

# A create answered with a record made this long before the request was sent is a replay of an
# earlier apply's create: it is read afresh (see _create). The margin covers server and client
# clocks disagreeing; a client clock running ahead only costs a read.
REPLAY_MARGIN_SECONDS = 5.0


@dataclass
class Sent:
    """Requests sent for one record, counted even when a send raises."""

    count: int = 0
    record_id: str | None = None  # the record a create made, once known
    # When the create was answered by a replay of an earlier one: that record's createdAt.
    replayed_from: str | None = None


async def send(
    client: LightfieldClient,
    change: RecordChange,
    requests: Sequence[PlannedRequest],
    sent: Sent,
) -> Record:
    """Send ``requests`` in order; the record the last answer describes."""
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


def rekey(request: PlannedRequest, live_updated_at: str | None) -> PlannedRequest:
    """The same write under a new key, so the API runs it instead of replaying an old answer.

    The key names the live state being repaired (its ``updatedAt``, or the id of a created
    record that is gone): repairing the same value
    again after it was changed back once more gets yet another key, never the previous
    repair's (whose replay would report a success that is not there), while a re-run after a
    crash mid-repair, facing the same live state, reuses it.
    """
    state = hashlib.sha256((live_updated_at or "").encode()).hexdigest()[:16]
    return replace(request, idempotency_key=f"{request.idempotency_key}-r{state}")


async def _update(
    client: LightfieldClient,
    record_id: str,
    request: PlannedRequest,
    change: RecordChange,
    sent: Sent,
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
    named = param_key(exc.param)
    if named is not None:
        return any(named in (key, key.lstrip("$")) for key in keys)
    return exc.param is None and any(key in (exc.message or "") for key in keys)


async def _create(client: LightfieldClient, request: PlannedRequest, sent: Sent) -> Record:
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
        again = rekey(request, record.id)
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
