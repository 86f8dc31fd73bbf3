"""Desired × live → Plan: the pure heart of lfr (architecture.md §4, §5). No I/O.

Owns how one desired record and its live counterpart turn into a ``RecordChange``: which managed
keys differ (canonical values compared with ``==`` first; deepdiff only on what differs, for
the detail the plan shows: an object's changed parts, a list's added and removed items; its
types never leave this module), the minimal request bodies
(HAS_ONE ``replace``; HAS_MANY ``add``/``remove``, or array ``replace`` when that body is
smaller and the org allows it), their split when a body would reference more than 25 ids or
change more than 25 links, and each request's idempotency key.

Only what the manifest declares is compared: an unmanaged key is never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .model import DesiredField, DesiredRecord, DesiredRelationship
from .org import OrgSchema, is_empty, normalize_live, same_value
from .plan import (
    CREATE_PATH,
    MAX_BODY_BYTES,
    UPDATE_PATH,
    FieldChange,
    Plan,
    PlannedRequest,
    RecordChange,
    RelationshipChange,
    canonical_json,
    fingerprint,
    idempotency_key,
    plain,
    wire_body,
)
from .records import Record
from .vocabulary import Problem

_Keyed = TypeVar("_Keyed", DesiredField, DesiredRelationship)

# Per request: at most this many ids referenced and this many link changes (lightfield-api.md §2.3).
MAX_IDS_PER_REQUEST = 25
MAX_LINK_CHANGES_PER_REQUEST = 25


@dataclass(frozen=True)
class DiffOptions:
    revision: str
    target: str
    # Off for orgs whose API types ``replace`` as one id or null (architecture.md §5).
    array_replace: bool = True


def build_plan(
    pairs: Sequence[tuple[DesiredRecord, Record | None]],
    schema: OrgSchema,
    options: DiffOptions,
    labels: Mapping[str, str] | None = None,
) -> Plan:
    """A plan for every (desired, live) pair; ``live`` is None when the record must be created."""
    changes = [diff_record(desired, live, schema, options) for desired, live in pairs]
    return plan_of(changes, options, labels)


def plan_of(
    changes: Iterable[RecordChange], options: DiffOptions, labels: Mapping[str, str] | None = None
) -> Plan:
    """The plan of changes already diffed, in manifest order."""
    records = tuple(
        sorted(changes, key=lambda change: (change.origin.file, change.origin.line, change.name))
    )
    return Plan(options.revision, options.target, records, dict(labels or {}))


def diff_record(
    desired: DesiredRecord, live: Record | None, schema: OrgSchema, options: DiffOptions
) -> RecordChange:
    if live is None:
        return _create(desired, options)
    planned_from = live_values(desired, live, schema)
    fields = tuple(
        change
        for f in desired.fields
        if (change := _field_change(f, planned_from[f.key])) is not None
    )
    relationships = tuple(
        link
        for r in desired.relationships
        if (link := _relationship_change(r, planned_from[r.key])) is not None
    )
    requests = _update_requests(live.id, fields, relationships, planned_from, options)
    return RecordChange(
        action="update" if requests else "noop",
        name=desired.name,
        id=live.id,
        origin=desired.origin,
        http_link=live.http_link,
        fields=fields,
        relationships=relationships,
        requests=requests,
        planned_from=planned_from,
        fingerprint=fingerprint(planned_from),
        live_updated_at=live.updated_at,
    )


def rebuilt(change: RecordChange, options: DiffOptions) -> RecordChange:
    """``change`` computed again from what a reader of it sees: the values it was planned
    from, each key's target (``after``; a partial relationship's ``add`` / ``remove``) and the
    record. Parts, sets to add and remove, request bodies, idempotency keys and fingerprint
    come from the functions that made them, so a change equal to its rebuild sends exactly
    what it shows (a saved plan is held to this). Assumes a well-formed change: every key in
    ``planned_from`` for an update, ids sorted, HAS_ONE exact with at most one id."""
    if change.action == "create":
        fields = tuple(FieldChange(c.key, None, c.after, c.origin) for c in change.fields)
        links = tuple(
            RelationshipChange(c.key, c.cardinality, (), c.after, c.after, (), c.origin)
            for c in change.relationships
        )
        requests = _create_requests(change.name, fields, links, options)
        return replace(
            change,
            fields=fields,
            relationships=links,
            requests=requests,
            planned_from={},
            fingerprint=fingerprint({}),
            live_updated_at=None,
        )
    assert change.id is not None, "an update or noop names its record"
    live = change.planned_from
    field_changes = tuple(
        _field_change(DesiredField(c.key, c.after, c.origin), live[c.key]) for c in change.fields
    )
    link_changes = tuple(
        _relationship_change(
            DesiredRelationship(
                c.key,
                "HAS_ONE" if c.cardinality == "HAS_ONE" else "HAS_MANY",
                "",
                c.exact,
                c.after if c.exact else c.add,
                () if c.exact else c.remove,
                c.origin,
            ),
            live[c.key],
        )
        for c in change.relationships
    )
    # A key shown as changing whose target equals its live value rebuilds to no change.
    fields = tuple(c for c in field_changes if c is not None)
    links = tuple(c for c in link_changes if c is not None)
    requests = _update_requests(change.id, fields, links, live, options)
    return replace(
        change,
        action="update" if requests else "noop",
        fields=fields,
        relationships=links,
        requests=requests,
        fingerprint=fingerprint(live),
        match={},
    )


def live_values(desired: DesiredRecord, live: Record, schema: OrgSchema) -> dict[str, Any]:
    """Canonical live values of the keys ``desired`` manages, and nothing else."""
    keys = [f.key for f in desired.fields] + [r.key for r in desired.relationships]
    return observed(live, keys, schema)


def observed(live: Record, keys: Sequence[str], schema: OrgSchema) -> dict[str, Any]:
    """Canonical values of ``keys`` on a live record (relationships as sorted id tuples)."""
    values: dict[str, Any] = {}
    # Plain dict lookups: this runs for every managed key of every record planned.
    relationships = schema.definitions.relationship_definitions
    fields = schema.definitions.field_definitions
    for key in keys:
        if key in relationships:
            values[key] = tuple(sorted(live.related_ids(key)))
        else:
            values[key] = normalize_live(fields.get(key), live.value(key))
    return values


def unmet(change: RecordChange, live: Record, schema: OrgSchema) -> list[str]:
    """The keys ``change`` sets that ``live`` does not hold as planned (empty = all applied)."""
    expected: dict[str, Any] = {c.key: c.after for c in change.fields}
    expected.update({c.key: c.after for c in change.relationships})
    now = observed(live, list(expected), schema)
    return [key for key, want in expected.items() if not same_value(want, now[key])]


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


# --- fields ----------------------------------------------------------------------------------


def _field_change(desired: DesiredField, live: Any) -> FieldChange | None:
    after = desired.value
    # `==` on canonical values first (~0.1 µs): deepdiff (~0.15 ms) runs only on what differs.
    if same_value(after, live):
        return None
    if isinstance(after, dict):
        if live is not None and not isinstance(live, dict):
            # A live value of another shape (a malformed answer): every part is set anew.
            return FieldChange(desired.key, live, after, desired.origin, tuple(sorted(after)))
        # Objects are managed part by part: only the parts the manifest names count.
        before = {part: (live or {}).get(part) for part in after}
        return FieldChange(
            desired.key, before, after, desired.origin, _changed_parts(before, after)
        )
    present = [value for value in (live, after) if value is not None]
    if present and all(isinstance(value, tuple | list) for value in present):
        # A list (null: must be empty): the items added and removed.
        added, removed = _items_changed(live or (), after or ())
        return FieldChange(desired.key, live, after, desired.origin, (), added, removed)
    return FieldChange(desired.key, live, after, desired.origin)


def _deepdiff(before: Any, after: Any) -> Any:
    """deepdiff's tree of ``before`` → ``after``; its types never leave this module."""
    # Imported on first use: only values that differ need it, and it costs ~75 ms to import.
    from deepdiff import DeepDiff

    # Lists are sets here (canonical forms are sorted); 37 and 37.0 are one number to the
    # API, as to the `==` that found the value changed.
    return DeepDiff(before, after, ignore_order=True, ignore_numeric_type_changes=True, view="tree")


def _changed_parts(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    difference = _deepdiff(before, after)
    parts = {
        level.path(output_format="list")[0] for report in difference.values() for level in report
    }
    return tuple(sorted(str(part) for part in parts))


def _items_changed(
    before: Sequence[Any], after: Sequence[Any]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The items ``after`` adds to ``before`` and those it removes, as deepdiff finds them."""
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    added: list[Any] = []
    removed: list[Any] = []
    if all(isinstance(item, str) for items in (before, after) for item in items):
        # The canonical lists (option ids, e-mails, URLs, phones) are sets of text: compared as
        # a mapping's keys, ~2.5x faster than a list with ignore_order. As plain text: an
        # address whose letter case changes is sent as written, so the plan shows it, and a
        # saved plan (where no value is an EmailAddress) rebuilds to the same detail.
        difference = DeepDiff(
            dict.fromkeys(map(str, before)),
            dict.fromkeys(map(str, after)),
            threshold_to_diff_deeper=0,
            view="tree",
        )
        for report in difference.values():
            for level in report:
                item = level.path(output_format="list")[0]
                (removed if level.t2 is notpresent else added).append(item)
        return _sorted(added), _sorted(removed)
    # A malformed live list (objects, numbers): deepdiff pairs what it can; an item it finds
    # changed is one removed and one added.
    for report in _deepdiff(list(before), list(after)).values():
        for found in report:
            level = found
            while level.up is not None and len(level.path(output_format="list")) > 1:
                level = level.up  # a part inside an item: the item
            if level.t1 is not notpresent:
                removed.append(level.t1)
            if level.t2 is not notpresent:
                added.append(level.t2)
    return (
        _sorted(item for item in added if item not in before),
        _sorted(item for item in removed if item not in after),
    )


def _sorted(found: Iterable[Any]) -> tuple[Any, ...]:
    items = list(found)
    try:
        return tuple(sorted(dict.fromkeys(items)))
    except TypeError:  # a malformed live list (objects, mixed types): as deepdiff gave them
        return tuple(items)


def _field_body_value(change: FieldChange, live: Any) -> Any:
    if isinstance(change.after, dict):
        # Live parts plus the manifest's (nulls included): right whether the API merges a
        # partial object or replaces the whole one.
        merged = {**(live if isinstance(live, dict) else {}), **change.after}
        return plain(merged)
    return plain(change.after)


# --- relationships ---------------------------------------------------------------------------


def _relationship_change(
    desired: DesiredRelationship, live: tuple[str, ...]
) -> RelationshipChange | None:
    include = [str(ref) for ref in desired.include]
    exclude = {str(ref) for ref in desired.exclude}
    if desired.exact:
        after = tuple(sorted(set(include)))
    else:
        after = tuple(sorted((set(live) | set(include)) - exclude))
    if after == live:
        return None
    add = tuple(sorted(set(after) - set(live)))
    remove = tuple(sorted(set(live) - set(after)))
    return RelationshipChange(
        desired.key, desired.cardinality, live, after, add, remove, desired.origin, desired.exact
    )


@dataclass(frozen=True)
class _Op:
    """One relationship operation and what it costs against the per-request limits."""

    key: str
    body: dict[str, Any]
    ids: int
    changes: int


def _relationship_ops(change: RelationshipChange, options: DiffOptions) -> list[_Op]:
    if change.cardinality == "HAS_ONE":
        target = change.after[0] if change.after else None
        return [_Op(change.key, {"replace": target}, len(change.after), len(change.before) + 1)]
    # Adds and removes share the per-request budget, so chunk them together: 30 + 30 changes
    # make bodies of 25, 25 and 10, not 25, 5, 25, 5.
    items = [("add", i) for i in change.add] + [("remove", i) for i in change.remove]
    ops: list[_Op] = []
    for start in range(0, len(items), MAX_LINK_CHANGES_PER_REQUEST):
        chunk = items[start : start + MAX_LINK_CHANGES_PER_REQUEST]
        body: dict[str, Any] = {}
        for verb, record_id in chunk:
            body.setdefault(verb, []).append(record_id)
        ops.append(_Op(change.key, body, len(chunk), len(chunk)))
    n_changes = len(items)
    # Array replace states the whole set, so it only fits a relationship the manifest owns
    # entirely; under partial ownership it would drop links lfr does not manage.
    if (
        change.exact
        and options.array_replace
        and change.after
        and len(change.after) <= MAX_IDS_PER_REQUEST
    ):
        replace = _Op(change.key, {"replace": list(change.after)}, len(change.after), n_changes)
        add_remove = {k: v for op in ops for k, v in op.body.items()}
        if n_changes <= MAX_LINK_CHANGES_PER_REQUEST and len(canonical_json(replace.body)) < len(
            canonical_json(add_remove)
        ):
            return [replace]
    return ops


def _update_requests(
    record_id: str,
    fields: tuple[FieldChange, ...],
    relationships: tuple[RelationshipChange, ...],
    planned_from: dict[str, Any],
    options: DiffOptions,
) -> tuple[PlannedRequest, ...]:
    if not fields and not relationships:
        return ()
    field_body = {c.key: _field_body_value(c, planned_from[c.key]) for c in fields}
    ops = [op for change in relationships for op in _relationship_ops(change, options)]
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


def _pack(field_body: dict[str, Any], ops: list[_Op]) -> list[dict[str, Any]]:
    """Fields and relationship operations into as few bodies as the limits allow."""
    bodies: list[dict[str, Any]] = []
    current: dict[str, Any] = {"fields": field_body} if field_body else {}
    ids = changes = 0
    for op in ops:
        links = current.setdefault("relationships", {})
        fits = (
            ids + op.ids <= MAX_IDS_PER_REQUEST
            and changes + op.changes <= MAX_LINK_CHANGES_PER_REQUEST
            and not set(op.body) & set(links.get(op.key, {}))
        )
        if not fits:
            bodies.append(current)
            current, ids, changes = {}, 0, 0
            links = current.setdefault("relationships", {})
        links.setdefault(op.key, {}).update(op.body)
        ids, changes = ids + op.ids, changes + op.changes
    if current:
        bodies.append(current)
    return bodies


# --- creates ---------------------------------------------------------------------------------


def _create(desired: DesiredRecord, options: DiffOptions) -> RecordChange:
    """``POST /v1/opportunities`` with the desired fields and links (match values included);
    links beyond one body's limits follow as updates of the created record.

    HAS_ONE links go into the create body first (``$account`` leading: the API requires it on
    create), so a long HAS_MANY list can never push them out; what overflows is HAS_MANY only.
    """
    fields = _unique_keys(
        f for f in (*desired.match_fields, *desired.fields) if not is_empty(f.value)
    )
    links = _unique_keys(
        r for r in (*desired.match_relationships, *desired.relationships) if r.include
    )
    links.sort(key=lambda r: (r.cardinality != "HAS_ONE", r.key != "$account"))
    field_changes = tuple(FieldChange(f.key, None, f.value, f.origin) for f in fields)
    link_changes = tuple(
        RelationshipChange(r.key, r.cardinality, (), linked, linked, (), r.origin)
        for r in links
        if (linked := tuple(sorted({str(x) for x in r.include})))
    )
    return RecordChange(
        action="create",
        name=desired.name,
        id=None,
        origin=desired.origin,
        fields=field_changes,
        relationships=link_changes,
        requests=_create_requests(desired.name, field_changes, link_changes, options),
        planned_from={},
        fingerprint=fingerprint({}),
        match=desired.selector(),
    )


def _create_requests(
    name: str,
    fields: tuple[FieldChange, ...],
    links: tuple[RelationshipChange, ...],
    options: DiffOptions,
) -> tuple[PlannedRequest, ...]:
    """A create's requests from the changes it shows (links in create order, ids sorted)."""
    first: dict[str, Any] = {}
    overflow: list[_Op] = []
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
            overflow.append(_Op(link.key, {"add": chunk}, len(chunk), len(chunk)))
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


def _unique_keys(items: Iterable[_Keyed]) -> list[_Keyed]:
    """One entry per key; a key in both match and spec counts once (spec wins)."""
    by_key: dict[str, _Keyed] = {}
    for item in items:
        by_key[item.key] = item
    return list(by_key.values())
