"""A plan's write requests: the minimal bodies of an update or a create, packed within the API's
per-request limits, each with its idempotency key (architecture.md §5). Pure; called by the diff,
which decides what changes.

Owns HAS_ONE ``replace``; HAS_MANY ``add`` or ``remove`` (one verb per operation object), or a
one-id ``replace`` when exact and smaller (valid under every reading of the contract,
docs/api-contract.md §1), an id-array ``replace`` only on request, and the ``add``/``remove``
fallback apply sends when an API refuses that array; the split when a body would reference more
than 25 ids or change more than 25 links; a create's overflow as updates of the created record;
and the API's body size limit, which a manifest under the file cap can still exceed
(``oversized_bodies``).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as replace_request
from typing import Any

from .plan import (
    CREATE_PATH,
    MAX_BODY_BYTES,
    UPDATE_PATH,
    DiffOptions,
    FieldChange,
    PlannedRequest,
    RecordChange,
    RelationshipChange,
    canonical_json,
    idempotency_key,
    plain,
    wire_body,
)
from .vocabulary import Problem

# Per request: at most this many ids referenced and this many link changes (lightfield-api.md §2.3).
MAX_IDS_PER_REQUEST = 25
MAX_LINK_CHANGES_PER_REQUEST = 25


@dataclass(frozen=True)
class Op:
    """One relationship operation and what it costs against the per-request limits."""

    key: str
    body: dict[str, Any]
    ids: int
    changes: int


def relationship_ops(change: RelationshipChange, options: DiffOptions) -> list[Op]:
    if change.cardinality == "HAS_ONE":
        target = change.after[0] if change.after else None
        return [Op(change.key, {"replace": target}, len(change.after), len(change.before) + 1)]
    ops = _add_remove(change)
    n_changes = len(change.add) + len(change.remove)
    # ``replace`` states the whole set, so it only fits a relationship the manifest owns
    # entirely; under partial ownership it would drop links lfr does not manage.
    if not change.exact or n_changes > MAX_LINK_CHANGES_PER_REQUEST:
        return ops
    add_remove = canonical_json({k: v for op in ops for k, v in op.body.items()})
    # One id (a string) is ``replace`` under every reading of the contract (SDK 0.20 types it
    # as one id or null; the older seed page as an id, an array or null): used whenever smaller.
    if len(change.after) == 1:
        one = Op(change.key, {"replace": change.after[0]}, 1, n_changes)
        if len(canonical_json(one.body)) < len(add_remove):
            return [one]
        return ops
    # An id array only on request (``--array-replace``): SDK 0.20 refuses it, and apply then
    # falls back to ``add``/``remove`` (``without_array_replace``).
    if options.array_replace and change.after and len(change.after) <= MAX_IDS_PER_REQUEST:
        replace = Op(change.key, {"replace": list(change.after)}, len(change.after), n_changes)
        if len(canonical_json(replace.body)) < len(add_remove):
            return [replace]
    return ops


def _add_remove(change: RelationshipChange) -> list[Op]:
    """A HAS_MANY change as ``add`` bodies, then ``remove`` bodies, each operation object with
    one verb: SDK 0.20 says "provide one of add, remove, or replace", which a deployment may
    read as "exactly one" (docs/api-contract.md §1), so a change that adds and removes costs
    two requests, adds first (the record never holds fewer of the links it keeps)."""
    ops: list[Op] = []
    for verb, ids in (("add", change.add), ("remove", change.remove)):
        for start in range(0, len(ids), MAX_LINK_CHANGES_PER_REQUEST):
            chunk = list(ids[start : start + MAX_LINK_CHANGES_PER_REQUEST])
            ops.append(Op(change.key, {verb: chunk}, len(chunk), len(chunk)))
    return ops


def array_replace_keys(request: PlannedRequest) -> list[str]:
    """The relationships ``request`` sets with an id-array ``replace``."""
    links = request.body.get("relationships") or {}
    return [
        k for k, op in links.items() if isinstance(op, dict) and isinstance(op.get("replace"), list)
    ]


def without_array_replace(
    request: PlannedRequest, relationships: tuple[RelationshipChange, ...]
) -> tuple[PlannedRequest, ...]:
    """``request`` (an update) with every id-array ``replace`` turned into ``add``/``remove``,
    repacked within the limits, each body under a new key (derived from the refused one, so a
    re-run of the same fallback replays instead of writing twice). Used by apply when an API
    refuses the array form (400 naming the relationship): the refused request wrote nothing, and
    ``add``/``remove`` of the planned ids cannot duplicate a link."""
    by_key = {r.key: r for r in relationships}
    links = request.body.get("relationships") or {}
    ops: list[Op] = []
    for key, op in links.items():
        change = by_key.get(key)
        if change is not None and isinstance(op, dict) and isinstance(op.get("replace"), list):
            ops.extend(_add_remove(change))
        else:  # kept as planned; costed as the ids it names
            count = sum(len(v) if isinstance(v, list) else int(v is not None) for v in op.values())
            ops.append(Op(key, op, count, max(count, 1)))
    bodies = _pack(dict(request.body.get("fields") or {}), ops)
    return tuple(
        replace_request(request, body=body, idempotency_key=f"{request.idempotency_key}-ar{index}")
        for index, body in enumerate(bodies)
    )


def update_requests(
    record_id: str,
    field_body: dict[str, Any],
    relationships: tuple[RelationshipChange, ...],
    planned_from: dict[str, Any],
    options: DiffOptions,
) -> tuple[PlannedRequest, ...]:
    """An update's requests: the changed fields' values and the relationship operations, packed
    into as few bodies as the limits allow, each with its idempotency key."""
    if not field_body and not relationships:
        return ()
    ops = [op for change in relationships for op in relationship_ops(change, options)]
    bodies = _pack(field_body, ops)
    path = UPDATE_PATH.format(id=record_id)
    return tuple(
        PlannedRequest(
            "POST",
            path,
            body,
            idempotency_key(
                revision=options.revision,
                target=options.target,
                operation="update",
                record=record_id,
                body=body,
                planned_from=planned_from,
            ),
        )
        for body in bodies
    )


def _pack(field_body: dict[str, Any], ops: list[Op]) -> list[dict[str, Any]]:
    """Fields and relationship operations into as few bodies as the limits allow."""
    bodies: list[dict[str, Any]] = []
    current: dict[str, Any] = {"fields": field_body} if field_body else {}
    ids = changes = 0
    for op in ops:
        links = current.setdefault("relationships", {})
        fits = (
            ids + op.ids <= MAX_IDS_PER_REQUEST
            and changes + op.changes <= MAX_LINK_CHANGES_PER_REQUEST
            # One operation object per relationship and body, with one verb (see _add_remove).
            and op.key not in links
        )
        if not fits:
            bodies.append(current)
            current, ids, changes = {}, 0, 0
            links = current.setdefault("relationships", {})
        links[op.key] = op.body
        ids, changes = ids + op.ids, changes + op.changes
    if current:
        bodies.append(current)
    return bodies


def create_requests(
    name: str,
    fields: tuple[FieldChange, ...],
    links: tuple[RelationshipChange, ...],
    options: DiffOptions,
) -> tuple[PlannedRequest, ...]:
    """A create's requests from the changes it shows (links in create order, ids sorted)."""
    first: dict[str, Any] = {}
    overflow: list[Op] = []
    budget = MAX_IDS_PER_REQUEST
    for link in links:
        ids = list(link.after)
        if link.cardinality == "HAS_ONE":
            first[link.key] = ids[0]
            budget -= 1
            continue
        fitting, rest = ids[: max(budget, 0)], ids[max(budget, 0) :]
        budget -= len(fitting)
        if fitting:
            first[link.key] = fitting
        for start in range(0, len(rest), MAX_LINK_CHANGES_PER_REQUEST):
            chunk = rest[start : start + MAX_LINK_CHANGES_PER_REQUEST]
            overflow.append(Op(link.key, {"add": chunk}, len(chunk), len(chunk)))
    field_body = {f.key: plain(f.after) for f in fields}
    bodies = [{"fields": field_body, "relationships": first}, *_pack({}, overflow)]
    return tuple(
        PlannedRequest(
            "POST",
            CREATE_PATH if index == 0 else None,
            body,
            # No revision in a create's key: a new commit must not create the record again
            # while a lagging list index still hides the first one (the API replays instead).
            idempotency_key(
                revision="",
                target=options.target,
                operation="create" if index == 0 else "update",
                record=f"create:{name}",
                body=body,
                planned_from={},
            ),
        )
        for index, body in enumerate(bodies)
    )


def oversized_bodies(change: RecordChange) -> list[Problem]:
    """A problem for each request of ``change`` whose body as sent is over the API's size limit
    (the API refuses it whole; JSON doubles every ``\\`` and ``"``, so a manifest under the file
    cap can make one), at the line of the largest field it sets."""
    problems: list[Problem] = []
    for request in change.requests:
        size = len(wire_body(request.body))
        if size <= MAX_BODY_BYTES:
            continue
        sent = request.body.get("fields") or {}
        named = [c for c in change.fields if c.key in sent]
        largest = max(named, key=lambda c: len(wire_body(sent[c.key])), default=None)
        origin = change.origin if largest is None else largest.origin
        key = f"{largest.key}: " if largest is not None else ""
        problems.append(
            Problem(
                origin,
                f"{key}the request that sets it would be {size:,} bytes as sent (JSON escapes "
                f"included); the API takes at most {MAX_BODY_BYTES:,}",
            )
        )
    return problems
