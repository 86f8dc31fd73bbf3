"""Field history: which written keys get an entry, and reading a field's history page by page.

Owns the history read (``GET …/fields/{key}/history``): the field must exist and keep history,
consecutive identical values collapse into one entry (the time the value was first recorded),
pages run newest first behind an opaque ``after`` cursor, and ``isCreate`` marks the first value
only when the whole history is on the page. Also owns which keys a write records (every written
key with history, plus ``$pipeline`` / ``$opportunityStatus`` when ``$stage`` is written).
The entries themselves are stored by store.py. Called by operations.py.
"""

from __future__ import annotations

import base64
from typing import Any

from .definitions import ObjectDefs
from .display import display
from .errors import bad_request
from .store import Store
from .stored import HistoryEntry, Record
from .validation import int_param
from .values import format_timestamp

HISTORY_DEFAULT_LIMIT = 20
HISTORY_MAX_LIMIT = 100


def field_history(
    store: Store,
    defs: ObjectDefs,
    record: Record,
    field_key: str,
    *,
    after: str | None,
    limit: str | None,
) -> dict[str, Any]:
    """One page of ``field_key``'s history of ``record`` (an active record of ``defs``' type)."""
    f = defs.fields.get(field_key)
    if f is None:
        raise bad_request(
            f"Unrecognized field '{field_key}' for '{defs.plural}'.",
            code="unknown_field",
            param="fieldKey",
        )
    if not f.has_history:
        raise bad_request(
            f"Field '{field_key}' is column-backed and has no value history.",
            code="history_unavailable",
            param="fieldKey",
        )
    size = (
        HISTORY_DEFAULT_LIMIT if limit is None else int_param(limit, "limit", 1, HISTORY_MAX_LIMIT)
    )
    runs = _collapse(store.history(record.id, field_key))
    newest_first = list(reversed(runs))
    start = 0
    if after is not None:
        cursor_seq = _decode_cursor(after)
        start = next(
            (i for i, e in enumerate(newest_first) if e.seq < cursor_seq), len(newest_first)
        )
    page = newest_first[start : start + size]
    has_more = start + size < len(newest_first)
    whole = after is None and not has_more
    data = [
        {
            "value": entry.value,
            "valueType": f.value_type,
            "displayValue": display(f, entry.value),
            "recordedAt": format_timestamp(entry.at),
            "isCreate": whole and entry.is_create and entry is runs[0],
        }
        for entry in page
    ]
    return {
        "data": data,
        "hasMore": has_more,
        "nextCursor": _encode_cursor(page[-1].seq) if has_more and page else None,
    }


def history_keys(defs: ObjectDefs, values: dict[str, Any]) -> list[str]:
    keys = list(values)
    if "$stage" in values and defs.object_type == "opportunity":
        keys += ["$pipeline", "$opportunityStatus"]
    return [k for k in keys if defs.fields[k].has_history]


def _collapse(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Consecutive identical values are one entry: the time the value was first recorded."""
    runs: list[HistoryEntry] = []
    for entry in entries:
        if runs and runs[-1].value == entry.value:
            continue
        runs.append(entry)
    return runs


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"h:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("h:"):
            raise ValueError(cursor)
        return int(text[2:])
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            "Invalid 'after' cursor.", code="invalid_parameter", param="after"
        ) from None
