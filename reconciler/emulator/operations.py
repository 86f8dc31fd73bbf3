"""The record operations of the emulated API, independent of HTTP.

Owns ``Records``: create / retrieve / update / delete / restore / list / field history for
opportunities, accounts, contacts (and reads of members), each as one transaction in the order
the API checks things, the fields a write derives (``$pipeline`` and ``$opportunityStatus`` from
``$stage``), the default stage and creator of a new opportunity, and the mutation log. The jobs
it runs in order live beside it: validation.py (what a body may say), relationships.py (link
plans and the two-sided links), history.py, listing.py and wire.py (the record's wire shape).
Called by app.py (one call per request) and seed.py (with back-dated ``at``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .definitions import OBJECT_TYPES, ObjectDefs, build_definitions, stage_outcome
from .errors import not_found, unprocessable
from .history import field_history, history_keys
from .listing import list_records
from .relationships import RelPlan, link_inverses, plan_create, plan_update
from .store import Store
from .stored import OrgSettings, Record
from .validation import (
    check_not_cleared,
    check_required,
    coerce_fields,
    create_body,
    update_body,
)
from .wire import render

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_record_id(prefix: str) -> str:
    return f"{prefix}_cm" + "".join(secrets.choice(_ALPHABET) for _ in range(13))


@dataclass(frozen=True)
class Caller:
    """Who asked, for the mutation log (``None`` for seeding, which logs nothing)."""

    org: str
    method: str
    path: str
    idempotency_key: str | None = None


class Records:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._defs: dict[str, dict[str, ObjectDefs]] = {}

    def defs(self, org: str, object_type: str) -> ObjectDefs:
        if org not in self._defs:
            self._defs[org] = build_definitions(org)
        return self._defs[org][object_type]

    def definitions(self, org: str, object_type: str) -> dict[str, Any]:
        wire = self.defs(org, object_type).to_wire()
        settings = self.store.org(org) or OrgSettings(org)
        if object_type == "opportunity" and settings.require_stage_on_create:
            # Where a create needs them, the definitions say so: ``required: true`` on the
            # field (docs/api-contract.md §4), which SDK models keep as an extra member.
            for key in ("$name", "$stage"):
                wire["fieldDefinitions"][key]["required"] = True
        return wire

    # ---- reading ------------------------------------------------------------------------
    def render(self, record: Record) -> dict[str, Any]:
        """The wire record: every defined field (null when unset) and relationship ([] empty)."""
        return render(
            self.defs(record.org, record.object_type),
            record,
            mark_trashed=self.store.profile.serve_trashed,
        )

    def _live(self, org: str, object_type: str, record_id: str) -> Record:
        """The active record, or 404 (a trashed record is not found outside trash/restore)."""
        record = self._any(org, object_type, record_id)
        if record.trashed and not self.store.profile.serve_trashed:
            raise not_found(OBJECT_TYPES[object_type][0])
        return record

    def _any(self, org: str, object_type: str, record_id: str) -> Record:
        record = self.store.get(record_id)
        if record is None or record.org != org or record.object_type != object_type:
            raise not_found(OBJECT_TYPES[object_type][0])
        return record

    def retrieve(self, org: str, object_type: str, record_id: str) -> dict[str, Any]:
        return self.render(self._live(org, object_type, record_id))

    def list_records(
        self,
        org: str,
        object_type: str,
        query: list[tuple[str, str]],
        *,
        lag_seconds: float = 0.0,
    ) -> dict[str, Any]:
        defs = self.defs(org, object_type)
        return list_records(self.store, self.clock, org, defs, query, lag_seconds=lag_seconds)

    def history(
        self,
        org: str,
        object_type: str,
        record_id: str,
        field_key: str,
        *,
        after: str | None,
        limit: str | None,
    ) -> dict[str, Any]:
        record = self._live(org, object_type, record_id)
        defs = self.defs(org, object_type)
        return field_history(self.store, defs, record, field_key, after=after, limit=limit)

    # ---- writing ------------------------------------------------------------------------
    def create(
        self,
        caller: Caller | None,
        org: str,
        object_type: str,
        body: Any,
        *,
        at: float | None = None,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock.now() if at is None else at
        defs = self.defs(org, object_type)
        fields_in, rels_in = create_body(object_type, body)
        values = coerce_fields(defs, fields_in, {}, normalise=self.store.profile.normalising)
        check_required(defs, values)
        if object_type == "opportunity" and values.get("$stage") is None:
            settings = self.store.org(org) or OrgSettings(org)
            if settings.require_stage_on_create:
                raise unprocessable(
                    "'$stage' is required to create an opportunity.",
                    code="parameter_missing",
                    param="fields.$stage",
                )
            values["$stage"] = defs.fields["$stage"].options[0].id
        plans = plan_create(self.store, org, defs, rels_in)
        for rel in defs.relationships.values():
            if rel.required and not (rel.key in plans and plans[rel.key].new):
                raise unprocessable(
                    f"Relationship '{rel.key}' is required to create a record in '{defs.plural}'.",
                    code="parameter_missing",
                    param=f"relationships.{rel.key}",
                )
        # The creator (a note's author, lightfield-api.md §5) is the key's owner.
        if object_type in ("opportunity", "note") and "$createdBy" not in plans:
            members = self.store.records(org, "member")
            if members:
                creator = members[-1].id  # the org's first member (the admin who made the key)
                plans["$createdBy"] = RelPlan(
                    defs.relationships["$createdBy"], [creator], [creator], []
                )
        record = Record(
            id=record_id or new_record_id(defs.prefix),
            org=org,
            object_type=object_type,
            seq=self.store.next_seq(),
            created_at=now,
            updated_at=now,
        )
        with self.store.transaction():
            fields_changes = _apply_values(defs, record, values)
            record.relationships = {k: p.new for k, p in plans.items() if p.new}
            self.store.insert(record, now)
            link_inverses(self.store, self.defs, record, plans.values(), now)
            history = [
                (record.id, key, now, record.fields[key], True)
                for key in record.fields
                if defs.fields[key].has_history
            ]
            self.store.add_history_many(history)
            self._log(caller, record, "create", now, fields_changes, plans.values())
        return self.render(record)

    def update(
        self,
        caller: Caller | None,
        org: str,
        object_type: str,
        record_id: str,
        body: Any,
        *,
        at: float | None = None,
    ) -> dict[str, Any]:
        now = self.clock.now() if at is None else at
        defs = self.defs(org, object_type)
        current = self._live(org, object_type, record_id)
        fields_in, rels_in = update_body(body)
        values = coerce_fields(
            defs, fields_in, current.fields, normalise=self.store.profile.normalising
        )
        check_not_cleared(defs, values)
        plans = plan_update(self.store, org, defs, current, rels_in)
        record = current.snapshot()
        with self.store.transaction():
            fields_changes = _apply_values(defs, record, values)
            for key, plan in plans.items():
                if plan.new:
                    record.relationships[key] = plan.new
                else:
                    record.relationships.pop(key, None)
            changed = bool(fields_changes) or any(p.added or p.removed for p in plans.values())
            if changed:
                record.updated_at = now
            self.store.save(record, now)
            link_inverses(self.store, self.defs, record, plans.values(), now)
            # Every written field gets a history entry, even an unchanged value: history reads
            # collapse consecutive identical values (lightfield-api.md §2.9).
            self.store.add_history_many(
                [
                    (record.id, key, now, record.fields.get(key), False)
                    for key in history_keys(defs, values)
                ]
            )
            self._log(caller, record, "update", now, fields_changes, plans.values())
        return self.render(record)

    def delete(self, caller: Caller, org: str, object_type: str, record_id: str) -> dict[str, Any]:
        return self._set_trashed(caller, org, object_type, record_id, trashed=True)

    def restore(self, caller: Caller, org: str, object_type: str, record_id: str) -> dict[str, Any]:
        return self._set_trashed(caller, org, object_type, record_id, trashed=False)

    def _set_trashed(
        self, caller: Caller, org: str, object_type: str, record_id: str, *, trashed: bool
    ) -> dict[str, Any]:
        current = self._any(org, object_type, record_id)
        if current.trashed == trashed:  # documented no-op: nothing changes, nothing is logged
            return self.render(current)
        now = self.clock.now()
        record = current.snapshot()
        record.trashed = trashed
        record.updated_at = now
        with self.store.transaction():
            self.store.save(record, now)
            self._log(caller, record, "delete" if trashed else "restore", now, {}, ())
        return self.render(record)

    def _log(
        self,
        caller: Caller | None,
        record: Record,
        operation: str,
        at: float,
        fields_changes: dict[str, dict[str, Any]],
        plans: Iterable[RelPlan],
    ) -> None:
        if caller is None:
            return
        relationships = {
            plan.rel.key: {"added": plan.added, "removed": plan.removed}
            for plan in plans
            if plan.added or plan.removed
        }
        self.store.log_mutation(
            {
                "at": at,
                "org": caller.org,
                "method": caller.method,
                "path": caller.path,
                "idempotency_key": caller.idempotency_key,
                "record_id": record.id,
                "object_type": record.object_type,
                "operation": operation,
                "changes": {"fields": fields_changes, "relationships": relationships},
            }
        )


def _apply_values(
    defs: ObjectDefs, record: Record, values: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Write values (plus the fields derived from ``$stage``); return before/after changes."""
    derived = dict(values)
    if "$stage" in values and defs.object_type == "opportunity":
        stage_id = values["$stage"]
        stage = defs.fields["$stage"].option_by_id(stage_id) if stage_id else None
        derived["$pipeline"] = stage.parent_id if stage else None
        status = stage_outcome(defs, stage_id)
        derived["$opportunityStatus"] = (
            defs.fields["$opportunityStatus"].options_by_label(status)[0].id
        )
    changes: dict[str, dict[str, Any]] = {}
    fields = dict(record.fields)
    for key, value in derived.items():
        before = fields.get(key)
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
        if before != value:
            changes[key] = {"before": before, "after": value}
    record.fields = fields
    return changes
