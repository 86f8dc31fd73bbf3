"""Desired × live → Plan: the pure heart of lfr (architecture.md §4, §5). No I/O.

Owns how one desired record and its live counterpart turn into a ``RecordChange``: which managed
keys differ (canonical values compared with ``==`` first; then the detail the plan shows: a
list of texts' added and removed items by set difference, and deepdiff only for an object's
changed parts or a malformed live list; its types never leave this module), and what each
change's write is built from; the bodies themselves, their split and their keys are
``core.requests``'. ``rebuilt`` does the same from a change alone, so a saved plan can be
checked to send what it shows.

Only what the manifest declares is compared: an unmanaged key is never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from .model import DesiredField, DesiredRecord, DesiredRelationship
from .org import OrgSchema, is_empty, normalize_live, same_value
from .plan import (
    DiffOptions,
    FieldChange,
    Plan,
    RecordChange,
    RelationshipChange,
    fingerprint,
    plain,
)
from .records import Record
from .requests import create_requests, update_requests

_Keyed = TypeVar("_Keyed", DesiredField, DesiredRelationship)


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
        sorted(
            changes,
            key=lambda change: (
                change.origin.file,
                change.origin.line,
                change.name,
                change.group,  # records of one set (or one pair of sets) together
                change.id or "",
            ),
        )
    )
    return Plan(options.revision, options.target, records, dict(labels or {}))


def diff_record(
    desired: DesiredRecord, live: Record | None, schema: OrgSchema, options: DiffOptions
) -> RecordChange:
    if live is None:
        return _create(desired, options)
    managed = live_values(desired, live, schema)
    # The selector keys a set matched the record by, which it does not manage: planned from
    # too (a saved plan is refused when they moved), out of the keys (RecordChange.managed_from).
    selected = dict(desired.selected_by)
    planned_from = {**managed, **observed(live, list(selected), schema)} if selected else managed
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
    body = _field_body(fields, planned_from)
    requests = update_requests(live.id, body, relationships, managed, options)
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
        fingerprint=fingerprint(managed),
        live_updated_at=live.updated_at,
        group=desired.group,
        selected_by=selected,
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
        requests = create_requests(change.name, fields, links, options)
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
    managed = change.managed_from
    requests = update_requests(change.id, _field_body(fields, live), links, managed, options)
    return replace(
        change,
        action="update" if requests else "noop",
        fields=fields,
        relationships=links,
        requests=requests,
        fingerprint=fingerprint(managed),
        match={},
    )


def live_values(desired: DesiredRecord, live: Record, schema: OrgSchema) -> dict[str, Any]:
    """Canonical live values of the keys ``desired`` manages, and nothing else."""
    keys = [f.key for f in desired.fields] + [r.key for r in desired.relationships]
    return observed(live, keys, schema)


def observed(live: Record, keys: Sequence[str], schema: OrgSchema) -> dict[str, Any]:
    """Canonical values of ``keys`` on a live record (relationships as sorted id tuples)."""
    values: dict[str, Any] = {}
    # Plain dict lookups, ``Record.value`` and ``related_ids`` inlined (without the copy of
    # the ids): this runs for every managed key of every record planned.
    relationships = schema.definitions.relationship_definitions
    fields = schema.definitions.field_definitions
    live_fields, live_links = live.fields, live.relationships
    for key in keys:
        if key in relationships:
            link = live_links.get(key)
            values[key] = () if link is None else tuple(sorted(link.values))
        else:
            entry = live_fields.get(key)
            values[key] = normalize_live(fields.get(key), None if entry is None else entry.value)
    return values


def unmet(change: RecordChange, live: Record, schema: OrgSchema) -> list[str]:
    """The keys ``change`` sets that ``live`` does not hold as planned (empty = all applied)."""
    expected: dict[str, Any] = {c.key: c.after for c in change.fields}
    expected.update({c.key: c.after for c in change.relationships})
    now = observed(live, list(expected), schema)
    return [key for key, want in expected.items() if not same_value(want, now[key])]


def rewritten(
    change: RecordChange, live: Record, schema: OrgSchema, keys: Sequence[str]
) -> list[tuple[str, Any, Any]]:
    """Of the fields ``keys`` a write did not leave as planned, those the server stored as a
    third value, neither the one sent nor the one before (a server that rounds, truncates or
    reformats what it stores; docs/api-contract.md §3): (key, sent, stored). A field back at
    its old value is not one: an automation or another user changed it back."""
    by_key = {c.key: c for c in change.fields}
    now = observed(live, [k for k in keys if k in by_key], schema)
    return [
        (key, by_key[key].after, stored)
        for key, stored in now.items()
        if not is_empty(stored) and not same_value(stored, by_key[key].before)
    ]


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
    if all(isinstance(item, str) for items in (before, after) for item in items):
        # The canonical lists (option ids, e-mails, URLs, phones) are sets of text: their
        # difference is two set differences, ~100x cheaper than deepdiff on them as a mapping's
        # keys, which this replaces and must read alike. As plain text: an address whose letter
        # case changes is sent as written, so the plan shows it, and a saved plan (where no
        # value is an EmailAddress) rebuilds to the same detail. (deepdiff left out a key
        # starting with `__`, its private-variables rule: such an e-mail was sent unshown.)
        old, new = (set(map(str, items)) for items in (before, after))
        return tuple(sorted(new - old)), tuple(sorted(old - new))
    from deepdiff.helper import notpresent

    added: list[Any] = []
    removed: list[Any] = []
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


def _field_body(fields: tuple[FieldChange, ...], live: dict[str, Any]) -> dict[str, Any]:
    return {c.key: _field_body_value(c, live[c.key]) for c in fields}


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
        requests=create_requests(desired.name, field_changes, link_changes, options),
        planned_from={},
        fingerprint=fingerprint({}),
        match=desired.selector(),
    )


def _unique_keys(items: Iterable[_Keyed]) -> list[_Keyed]:
    """One entry per key; a key in both match and spec counts once (spec wins)."""
    by_key: dict[str, _Keyed] = {}
    for item in items:
        by_key[item.key] = item
    return list(by_key.values())
