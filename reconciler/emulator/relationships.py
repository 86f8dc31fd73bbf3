"""Relationship writes: what a create or update body may do to links, and the other side.

Owns the plan of each written relationship (``RelPlan``: the new ids, what is added, what is
removed) from a create body (ids) or an update body (``add`` / ``remove`` / ``replace``), its
checks (writable key, HAS_ONE cardinality, the 25-id and 25-link caps, targets that exist in the
org, are of the target type and are not trashed), and the two-sided links the emulator keeps in
step (an opportunity's ``$account`` ↔ the account's ``$opportunity``; a contact's ``$account`` ↔
the account's ``$contact``; a note's ``$opportunity`` / ``$account`` ↔ the record's ``$note``).
Called by operations.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .definitions import ObjectDefs, RelDef
from .errors import bad_request, invalid_type, unprocessable
from .store import Store
from .stored import OrgSettings, Record

RELATIONSHIP_ID_LIMIT = 25
RELATIONSHIP_CHANGE_LIMIT = 25


@dataclass
class RelPlan:
    rel: RelDef
    new: list[str]
    added: list[str]
    removed: list[str]


def plan_create(
    store: Store, org: str, defs: ObjectDefs, rels_in: dict[str, Any]
) -> dict[str, RelPlan]:
    plans: dict[str, RelPlan] = {}
    referenced = 0
    for key, raw in rels_in.items():
        rel = _writable_rel(defs, key)
        param = f"relationships.{key}"
        ids = [] if raw is None else _ids(raw, param)
        referenced += len(ids)
        ids = list(dict.fromkeys(ids))
        if rel.cardinality == "HAS_ONE" and len(ids) > 1:
            raise invalid_type(f"Relationship '{key}' is HAS_ONE: give one id.", param)
        plans[key] = RelPlan(rel, ids, list(ids), [])
    _check_limits(referenced, sum(len(p.added) for p in plans.values()))
    for plan in plans.values():
        _check_targets(store, org, plan)
    return plans


def plan_update(
    store: Store, org: str, defs: ObjectDefs, record: Record, rels_in: dict[str, Any]
) -> dict[str, RelPlan]:
    settings = store.org(org) or OrgSettings(org)
    plans: dict[str, RelPlan] = {}
    referenced = 0
    for key, op in rels_in.items():
        rel = _writable_rel(defs, key)
        param = f"relationships.{key}"
        if not isinstance(op, dict) or not op or set(op) - {"add", "remove", "replace"}:
            raise invalid_type(
                f"Relationship '{key}' takes an operation object with 'add', 'remove' or "
                "'replace'.",
                param,
            )
        current = list(record.relationships.get(key, []))
        if "replace" in op and defs.object_type == "note":
            # lightfield-api.md §5: a note's links are HAS_MANY, "add and/or remove" only.
            raise invalid_type(
                f"'replace' is not supported on note relationships; use 'add' and 'remove' "
                f"on '{key}'.",
                param,
            )
        if "replace" in op:
            if len(op) > 1:
                raise invalid_type(
                    f"'replace' cannot be combined with 'add' or 'remove' on '{key}'.", param
                )
            raw = op["replace"]
            if isinstance(raw, list):
                if rel.cardinality == "HAS_ONE":
                    raise invalid_type(
                        f"Relationship '{key}' is HAS_ONE: 'replace' takes one id or null.",
                        param,
                    )
                if not settings.allow_array_replace:
                    raise invalid_type(
                        f"'replace' on '{key}' takes one id or null; use 'add' and 'remove' "
                        "to change several links.",
                        param,
                    )
            given = [] if raw is None else _ids(raw, param)
            referenced += len(given)  # per occurrence, as on create (docs/emulator.md)
            new = list(dict.fromkeys(given))
        else:
            if len(op) > 1 and store.profile.one_verb_per_operation:
                raise invalid_type(
                    f"Provide one of 'add', 'remove' or 'replace' on '{key}', not several.", param
                )
            given_add = _ids(op["add"], param) if "add" in op else []
            given_remove = _ids(op["remove"], param) if "remove" in op else []
            referenced += len(given_add) + len(given_remove)
            add = list(dict.fromkeys(given_add))
            remove = list(dict.fromkeys(given_remove))
            if set(add) & set(remove):
                raise invalid_type(f"The same id is both added to and removed from '{key}'.", param)
            kept = [c for c in current if c not in remove]
            if rel.cardinality == "HAS_ONE":
                if len(add) > 1:
                    raise invalid_type(f"Relationship '{key}' is HAS_ONE: add one id.", param)
                if add and kept and kept != add:
                    raise invalid_type(
                        f"Relationship '{key}' is HAS_ONE and already set; use 'replace' to "
                        "switch it.",
                        param,
                    )
            new = kept + [a for a in add if a not in kept]
        if rel.required and not new:
            raise unprocessable(
                f"Relationship '{key}' is required and cannot be cleared.",
                code="parameter_missing",
                param=param,
            )
        added = [x for x in new if x not in current]
        removed = [x for x in current if x not in new]
        plans[key] = RelPlan(rel, new, added, removed)
    changes = sum(len(p.added) + len(p.removed) for p in plans.values())
    _check_limits(referenced, changes)
    for plan in plans.values():
        _check_targets(store, org, plan)
    return plans


def link_inverses(
    store: Store,
    defs_of: Callable[[str, str], ObjectDefs],
    record: Record,
    plans: Iterable[RelPlan],
    at: float,
) -> None:
    """Keep the other side of two-sided links in step (no updatedAt, no mutation entry)."""
    for plan in plans:
        inverse_key = plan.rel.inverse
        if inverse_key is None:
            continue
        for target_id in plan.removed:
            target = _snapshot(store, target_id)
            if target is not None:
                _unlink(target, inverse_key, record.id)
                store.save(target, at)
        for target_id in plan.added:
            target = _snapshot(store, target_id)
            if target is None:
                continue
            inverse = defs_of(target.org, target.object_type).relationships[inverse_key]
            if inverse.cardinality == "HAS_ONE":
                for previous_id in target.relationships.get(inverse_key, []):
                    if previous_id == record.id:
                        continue
                    previous = _snapshot(store, previous_id)
                    if previous is not None:
                        _unlink(previous, plan.rel.key, target.id)
                        store.save(previous, at)
                target.relationships[inverse_key] = [record.id]
            else:
                values = target.relationships.setdefault(inverse_key, [])
                if record.id not in values:
                    values.append(record.id)
            store.save(target, at)


def _writable_rel(defs: ObjectDefs, key: str) -> RelDef:
    rel = defs.relationships.get(key)
    if rel is None:
        raise bad_request(
            f"Unrecognized relationship '{key}' for '{defs.plural}'.",
            code="unknown_relationship",
            param=f"relationships.{key}",
        )
    if rel.read_only:
        raise bad_request(
            f"Relationship '{key}' is read-only and cannot be written.",
            code="read_only_relationship",
            param=f"relationships.{key}",
        )
    return rel


def _check_limits(referenced: int, changes: int) -> None:
    if referenced > RELATIONSHIP_ID_LIMIT or changes > RELATIONSHIP_CHANGE_LIMIT:
        raise unprocessable(
            f"A request may reference at most {RELATIONSHIP_ID_LIMIT} ids and change at most "
            f"{RELATIONSHIP_CHANGE_LIMIT} links (got {referenced} ids, {changes} changes).",
            code="relationship_write_limit_exceeded",
            param="relationships",
        )


def _check_targets(store: Store, org: str, plan: RelPlan) -> None:
    """Newly linked ids must exist in the org, be of the target type, and be active."""
    param = f"relationships.{plan.rel.key}"
    for target_id in plan.added:
        target = store.get(target_id)
        if target is None or target.org != org or target.object_type != plan.rel.object_type:
            raise unprocessable(
                f"No {plan.rel.object_type} found with id '{target_id}'.",
                code="relationship_entity_missing",
                param=param,
            )
        if target.trashed:
            raise unprocessable(
                f"The {plan.rel.object_type} '{target_id}' is in the trash.",
                code="relationship_entity_inactive",
                param=param,
            )


def _snapshot(store: Store, record_id: str) -> Record | None:
    found = store.get(record_id)
    return found.snapshot() if found is not None else None


def _unlink(record: Record, key: str, target_id: str) -> None:
    values = [v for v in record.relationships.get(key, []) if v != target_id]
    if values:
        record.relationships[key] = values
    else:
        record.relationships.pop(key, None)


def _ids(raw: Any, param: str) -> list[str]:
    if isinstance(raw, str):
        ids = [raw]
    elif isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        ids = list(raw)
    else:
        raise invalid_type("Relationship values are an id string or an array of id strings.", param)
    for value in ids:
        if not value.strip():
            raise invalid_type("Relationship ids must not be empty.", param)
    return ids
