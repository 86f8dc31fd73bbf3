"""Listing records: paging, the active / trashed view, filters, and the lagging index.

Owns ``GET /v1/<plural>``: ``limit`` (1-25, default 25) and ``offset``, ``status=active|trashed``
(not on members), every other parameter handed to filters.py, and the list read as of
``lag_seconds`` ago when a fault config asks for a lagging index (store.py keeps the versions).
Called by operations.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .clock import Clock
from .definitions import ObjectDefs
from .errors import bad_request
from .filters import parse_filters
from .store import Store
from .stored import Record
from .validation import int_param
from .wire import render

MAX_LIMIT = 25


def list_records(
    store: Store,
    clock: Clock,
    org: str,
    defs: ObjectDefs,
    query: list[tuple[str, str]],
    *,
    lag_seconds: float = 0.0,
) -> dict[str, Any]:
    """One page of ``org``'s records of ``defs``' type that match ``query``, and their count."""
    object_type = defs.object_type
    limit, offset, status = MAX_LIMIT, 0, "active"
    filter_params = []
    for key, value in query:
        if key == "limit":
            limit = int_param(value, "limit", 1, MAX_LIMIT)
        elif key == "offset":
            offset = int_param(value, "offset", 0, None)
        elif key == "status" and object_type != "member":
            if value not in ("active", "trashed"):
                raise bad_request(
                    "'status' must be 'active' or 'trashed'.",
                    code="invalid_parameter",
                    param="status",
                )
            status = value
        else:
            filter_params.append((key, value))
    filters = parse_filters(defs, filter_params)
    as_of = clock.now() - lag_seconds if lag_seconds > 0 else None
    want_trashed = status == "trashed"
    matching: Sequence[Record]
    if filters or as_of is not None:
        matching = [
            r
            for r in store.records(org, object_type, as_of=as_of)
            if r.trashed == want_trashed and all(f.matches(r) for f in filters)
        ]
    else:  # paging through everything, as a plan does: a slice of the store's kept list
        matching = store.listed(org, object_type, trashed=want_trashed)
    page = matching[offset : offset + limit]
    return {
        "object": "list",
        "data": [render(defs, r) for r in page],
        "totalCount": len(matching),
    }
