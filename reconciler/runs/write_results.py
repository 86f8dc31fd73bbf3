"""What one record's writes report: its ``RecordResult``, and a ``Failure`` placed at the
manifest key concerned.

Owns how an API error becomes a failure (its type, code and message; the ``file:line`` of the
key its ``param`` names, in either of the API's spellings: ``fields.name`` for ``$name``), and
the message for a value the server stored other than the one sent. Pure; called by
``runs.record_writes`` and ``runs.send``.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ApiError, LfrError, RetryBudgetExhausted
from ..core.plan import RecordChange, canonical_json
from ..core.reports import Failure, RecordResult, Status
from ..core.vocabulary import Origin


def result(
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


def failure(change: RecordChange, exc: LfrError) -> Failure:
    if isinstance(exc, RetryBudgetExhausted) and isinstance(exc.last_error, ApiError):
        inner = exc.last_error
        return Failure(str(exc), inner.type, inner.code, inner.param, change.origin)
    if isinstance(exc, ApiError):
        key = param_key(exc.param)
        origin = origin_of(change, key) if key else change.origin
        return Failure(exc.message or str(exc), exc.type, exc.code, exc.param, origin)
    return Failure(str(exc), origin=change.origin)


def rewrite_failure(change: RecordChange, rewrites: list[tuple[str, Any, Any]]) -> Failure:
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
        origin=origin_of(change, rewrites[0][0]),
    )


def param_key(param: str | None) -> str | None:
    """``fields.$amount`` / ``relationships.$contact`` / ``fields.name`` → the key."""
    if not param or "." not in param:
        return None
    section, _, key = param.partition(".")
    return key.split(".")[0] if section in ("fields", "relationships") else None


def origin_of(change: RecordChange, key: str | None) -> Origin:
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
