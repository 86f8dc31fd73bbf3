"""``lfr apply --stamp``: after the writes, one note on each record apply changed, saying what
changed and from which commit and pull request (README "Provenance notes").

Owns which records get a note (those the report says were applied, created or updated: a
replayed create too, since the marker check below keeps it from doubling), and the two guards
that make stamping idempotent:

- the note's ``Idempotency-Key`` is hashed from the change's own write keys (which hold the
  revision, target, record, body and planned-from values), so a retried or re-run note create is
  replayed by the API, never written twice;
- keys expire after 24 hours (lightfield-api.md §7), so before writing, the record's notes are
  listed (``GET /v1/notes?$opportunity=<id>``) and a note whose content holds the change's
  marker means it is already there.

A note never fails the apply it describes: every error of a record's note (the API's, the
transport's, an exhausted retry budget) becomes a ``StampWarning`` and the other records' notes
go on; a key without the notes scopes is one warning, before any note is attempted. Never
prints.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

from ..adapters.client import LightfieldClient
from ..core.errors import ApiError, LfrError, RetryBudgetExhausted
from ..core.plan import Plan, RecordChange
from ..core.provenance import Provenance
from ..core.reports import ApplyReport, RecordResult
from ..render.note import marker, note_content, note_title

NOTE_KEY_PREFIX = "lfr-note1-"
SCOPES = ("notes:create", "notes:read")
_CONCURRENCY = 8  # notes in flight at once; the client's Write bucket paces them anyway
_SCAN_LIMIT = 250  # notes read per record when looking for a marker (10 pages)


@dataclass(frozen=True)
class StampWarning:
    """A note that was not written: the record, and the error's type / code / message."""

    name: str
    id: str | None
    message: str
    type: str | None = None
    code: str | None = None


@dataclass
class StampReport:
    written: list[str] = field(default_factory=list)  # record names
    present: list[str] = field(default_factory=list)  # already had this change's note
    warnings: list[StampWarning] = field(default_factory=list)


def change_digest(change: RecordChange) -> str:
    """The change's identity for its note: a hash of its write keys, in order."""
    joined = "\x1f".join(request.idempotency_key for request in change.requests)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


async def stamp(
    client: LightfieldClient, plan: Plan, report: ApplyReport, provenance: Provenance
) -> StampReport:
    """Write the note of every record ``report`` says was applied; never raises for an API or
    transport error (they are the report's warnings)."""
    # By name and id: a set's records share the set's name; a create's id is new (its name
    # alone is unique: two documents never share one).
    changes = {
        (change.name, change.id or ""): change for change in plan.records if change.action != "noop"
    }
    applied = [
        (result, change)
        for result in report.results
        if result.status == "applied"
        and result.id
        and (change := changes.get((result.name, result.id), changes.get((result.name, ""))))
    ]
    out = StampReport()
    if not applied:
        return out
    missing = await _missing_scopes(client)
    if missing:
        out.warnings.append(
            StampWarning(
                "(all records)",
                None,
                f"the API key lacks the {', '.join(missing)} scope; no note was written",
                type="forbidden",
            )
        )
        return out
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(result: RecordResult, change: RecordChange) -> None:
        async with gate:
            await _stamp_one(client, result, change, plan, provenance, out)

    await asyncio.gather(*(one(result, change) for result, change in applied))
    out.written.sort()
    out.present.sort()
    out.warnings.sort(key=lambda w: w.name)
    return out


async def _missing_scopes(client: LightfieldClient) -> list[str]:
    try:
        granted = (await client.validate_auth()).scopes
    except LfrError:
        return []  # the notes' own calls will say what is wrong, record by record
    return [scope for scope in SCOPES if granted and scope not in granted]


async def _stamp_one(
    client: LightfieldClient,
    result: RecordResult,
    change: RecordChange,
    plan: Plan,
    provenance: Provenance,
    out: StampReport,
) -> None:
    assert result.id is not None
    digest = change_digest(change)
    try:
        if await _already_noted(client, result.id, marker(digest)):
            out.present.append(change.name)
            return
        body = {
            "fields": {
                "$title": note_title(change, provenance),
                "$content": note_content(change, provenance, plan.labels, digest),
            },
            "relationships": {"$opportunity": [result.id]},
        }
        await client.create("notes", body, idempotency_key=NOTE_KEY_PREFIX + digest)
    except LfrError as exc:
        out.warnings.append(_warning(change.name, result.id, exc))
        return
    out.written.append(change.name)


async def _already_noted(client: LightfieldClient, record_id: str, mark: str) -> bool:
    """Whether one of the record's newest notes holds ``mark``. A listing the API refuses (the
    relationship filter is documented for records, not spelled out for notes) is "not known":
    the create still goes out under its key, which dedupes within 24 hours."""
    seen = 0
    try:
        async for note in client.iterate("notes", filters={"$opportunity": record_id}):
            content = note.value("$content")
            if isinstance(content, str) and mark in content:
                return True
            seen += 1
            if seen >= _SCAN_LIMIT:  # newest first: an earlier run's note is near the top
                return False
    except ApiError:
        return False
    return False


def _warning(name: str, record_id: str, exc: LfrError) -> StampWarning:
    cause = exc.last_error if isinstance(exc, RetryBudgetExhausted) else exc
    if isinstance(cause, ApiError):
        return StampWarning(name, record_id, str(exc), type=cause.type, code=cause.code)
    return StampWarning(name, record_id, str(exc), type=type(cause).__name__)
