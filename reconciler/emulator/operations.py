"""The record operations of the emulated API, independent of HTTP.

Owns create / retrieve / update / delete / restore / list / field history for opportunities,
accounts, contacts (and reads of members): body validation per definition (values.py for the value
types, select labels and the ``$stage`` / ``$pipeline`` rules here), relationship operations
(add / remove / replace, the 25-id and 25-link caps, target checks), the two-sided links the
emulator keeps (an opportunity's ``$account`` ↔ the account's ``$opportunity``; a contact's
``$account`` ↔ the account's ``$contact``), field history, the mutation log, and the wire shape
of records. Called by app.py (one call per request) and seed.py (with back-dated ``at``).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .definitions import (
    OBJECT_TYPES,
    FieldDef,
    ObjectDefs,
    Option,
    RelDef,
    build_definitions,
    stage_outcome,
)
from .errors import ApiError, bad_request, invalid_type, not_found, unprocessable
from .filters import parse_filters, stage_candidates
from .store import HistoryEntry, OrgSettings, Record, Store
from .values import coerce, display, format_timestamp

MAX_LIMIT = 25
HISTORY_DEFAULT_LIMIT = 20
HISTORY_MAX_LIMIT = 100
RELATIONSHIP_ID_LIMIT = 25
RELATIONSHIP_CHANGE_LIMIT = 25
HTTP_LINK_BASE = "https://lightfield.emulator.invalid"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

# Create bodies: which top-level members each type accepts, and which fields are required.
CREATE_MEMBERS = {
    "opportunity": {"fields", "relationships"},
    "account": {"fields", "relationships", "skipEnrichment"},
    "contact": {"fields", "relationships", "skipEnrichment"},
}
REQUIRED_FIELDS = {"opportunity": ("$name",), "account": ("$name",), "contact": ()}


def new_record_id(prefix: str) -> str:
    return f"{prefix}_cm" + "".join(secrets.choice(_ALPHABET) for _ in range(13))


@dataclass(frozen=True)
class Caller:
    """Who asked, for the mutation log (``None`` for seeding, which logs nothing)."""

    org: str
    method: str
    path: str
    idempotency_key: str | None = None


@dataclass
class _RelPlan:
    rel: RelDef
    new: list[str]
    added: list[str]
    removed: list[str]


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
        return self.defs(org, object_type).to_wire()

    # ---- reading ------------------------------------------------------------------------
    def render(self, record: Record) -> dict[str, Any]:
        """The wire record: every defined field (null when unset) and relationship ([] empty)."""
        defs = self.defs(record.org, record.object_type)
        out: dict[str, Any] = {
            "id": record.id,
            "createdAt": format_timestamp(record.created_at),
            "updatedAt": format_timestamp(record.updated_at),
            "httpLink": f"{HTTP_LINK_BASE}/{record.org}/{defs.plural}/{record.id}",
        }
        if record.object_type != "member":
            out["externalId"] = None
        out["fields"] = {
            key: {"value": record.fields.get(key), "valueType": f.value_type}
            for key, f in defs.fields.items()
        }
        out["relationships"] = {
            key: {
                "cardinality": r.cardinality,
                "objectType": r.object_type,
                "values": list(record.relationships.get(key, [])),
            }
            for key, r in defs.relationships.items()
        }
        return out

    def _live(self, org: str, object_type: str, record_id: str) -> Record:
        """The active record, or 404 (a trashed record is not found outside trash/restore)."""
        record = self._any(org, object_type, record_id)
        if record.trashed:
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
        limit, offset, status = MAX_LIMIT, 0, "active"
        filter_params = []
        for key, value in query:
            if key == "limit":
                limit = _int_param(value, "limit", 1, MAX_LIMIT)
            elif key == "offset":
                offset = _int_param(value, "offset", 0, None)
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
        as_of = self.clock.now() - lag_seconds if lag_seconds > 0 else None
        want_trashed = status == "trashed"
        matching = [
            r
            for r in self.store.records(org, object_type, as_of=as_of)
            if r.trashed == want_trashed and all(f.matches(r) for f in filters)
        ]
        page = matching[offset : offset + limit]
        return {
            "object": "list",
            "data": [self.render(r) for r in page],
            "totalCount": len(matching),
        }

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
            HISTORY_DEFAULT_LIMIT
            if limit is None
            else _int_param(limit, "limit", 1, HISTORY_MAX_LIMIT)
        )
        runs = _collapse(self.store.history(record.id, field_key))
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
        body = _object_body(body)
        unknown = sorted(set(body) - CREATE_MEMBERS[object_type])
        if unknown:
            raise bad_request(
                f"Unrecognized parameter '{unknown[0]}'.",
                code="unknown_parameter",
                param=unknown[0],
            )
        if "skipEnrichment" in body and not isinstance(body["skipEnrichment"], bool):
            raise invalid_type("'skipEnrichment' must be a boolean.", "skipEnrichment")
        if "fields" not in body:
            raise unprocessable("'fields' is required.", code="parameter_missing", param="fields")
        fields_in = _member_object(body, "fields")
        rels_in = _member_object(body, "relationships")
        values = self._coerce_fields(defs, fields_in, {})
        for key in REQUIRED_FIELDS[object_type]:
            value = values.get(key)
            if value is None or _blank(value):
                raise unprocessable(
                    f"'{key}' is required to create a record in '{defs.plural}'.",
                    code="parameter_missing",
                    param=f"fields.{key}",
                )
        if object_type == "opportunity" and values.get("$stage") is None:
            settings = self.store.org(org) or OrgSettings(org)
            if settings.require_stage_on_create:
                raise unprocessable(
                    "'$stage' is required to create an opportunity.",
                    code="parameter_missing",
                    param="fields.$stage",
                )
            values["$stage"] = defs.fields["$stage"].options[0].id
        plans = self._create_relationships(org, defs, rels_in)
        for rel in defs.relationships.values():
            if rel.required and not (rel.key in plans and plans[rel.key].new):
                raise unprocessable(
                    f"Relationship '{rel.key}' is required to create a record in '{defs.plural}'.",
                    code="parameter_missing",
                    param=f"relationships.{rel.key}",
                )
        if object_type == "opportunity" and "$createdBy" not in plans:
            members = self.store.records(org, "member")
            if members:
                creator = members[-1].id  # the org's first member (the admin who made the key)
                plans["$createdBy"] = _RelPlan(
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
            fields_changes = self._apply_values(defs, record, values)
            record.relationships = {k: p.new for k, p in plans.items() if p.new}
            self.store.insert(record, now)
            self._link_inverses(record, plans.values(), now)
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
        body = _object_body(body)
        unknown = sorted(set(body) - {"fields", "relationships"})
        if unknown:
            raise bad_request(
                f"Unrecognized parameter '{unknown[0]}'.",
                code="unknown_parameter",
                param=unknown[0],
            )
        fields_in = _member_object(body, "fields")
        rels_in = _member_object(body, "relationships")
        values = self._coerce_fields(defs, fields_in, current.fields)
        for key in REQUIRED_FIELDS[object_type] + (
            ("$stage",) if object_type == "opportunity" else ()
        ):
            # Blank is no name, as on create: "CrmAccount requires name field" (digest §1.2).
            if key in values and (values[key] is None or _blank(values[key])):
                raise invalid_type(f"'{key}' cannot be cleared.", f"fields.{key}")
        plans = self._update_relationships(org, defs, current, rels_in)
        record = current.snapshot()
        with self.store.transaction():
            fields_changes = self._apply_values(defs, record, values)
            for key, plan in plans.items():
                if plan.new:
                    record.relationships[key] = plan.new
                else:
                    record.relationships.pop(key, None)
            changed = bool(fields_changes) or any(p.added or p.removed for p in plans.values())
            if changed:
                record.updated_at = now
            self.store.save(record, now)
            self._link_inverses(record, plans.values(), now)
            # Every written field gets a history entry, even an unchanged value: history reads
            # collapse consecutive identical values (digest §2.9).
            self.store.add_history_many(
                [
                    (record.id, key, now, record.fields.get(key), False)
                    for key in _history_keys(defs, values)
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

    # ---- fields -------------------------------------------------------------------------
    def _coerce_fields(
        self, defs: ObjectDefs, fields_in: dict[str, Any], current: dict[str, Any]
    ) -> dict[str, Any]:
        """Stored values for the written keys (``None`` = clear), after every check."""
        values: dict[str, Any] = {}
        for key, raw in fields_in.items():
            f = defs.fields.get(key)
            if f is None:
                raise bad_request(
                    f"Unrecognized field '{key}' for '{defs.plural}'.",
                    code="unknown_field",
                    param=f"fields.{key}",
                )
            if f.read_only:
                raise bad_request(
                    f"Field '{key}' is read-only and cannot be written.",
                    code="read_only_field",
                    param=f"fields.{key}",
                )
            if key in ("$pipeline", "$stage"):
                continue
            if f.value_type == "SINGLE_SELECT":
                values[key] = None if raw is None else self._select(f, raw)
            elif f.value_type == "MULTI_SELECT":
                values[key] = self._multi_select(f, raw)
            else:
                values[key] = coerce(f, raw, current.get(key))
        if "$stage" in fields_in or "$pipeline" in fields_in:
            values["$stage"] = self._stage(defs, fields_in)
        return values

    def _select(self, f: FieldDef, raw: Any) -> str:
        if not isinstance(raw, str):
            raise invalid_type(
                f"Invalid value for '{f.key}': expected an option id or label.", f"fields.{f.key}"
            )
        if f.option_by_id(raw) is not None:
            return raw
        matches = f.options_by_label(raw)
        if len(matches) == 1:
            return matches[0].id
        labels = ", ".join(o.label for o in f.options)
        raise invalid_type(
            f"'{raw}' is not an option of '{f.key}'; options: {labels}.", f"fields.{f.key}"
        )

    def _multi_select(self, f: FieldDef, raw: Any) -> list[str] | None:
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise invalid_type(
                f"Invalid value for '{f.key}' (MULTI_SELECT): expected an array of option ids "
                "or labels.",
                f"fields.{f.key}",
            )
        chosen: list[str] = []
        for item in raw:
            option_id = self._select(f, item)
            if option_id not in chosen:
                chosen.append(option_id)
        return chosen or None

    def _stage(self, defs: ObjectDefs, fields_in: dict[str, Any]) -> str | None:
        """``$stage`` by id or label, with ``$pipeline`` as an optional hint (digest §2.6)."""
        stage_def = defs.fields["$stage"]
        pipeline_def = defs.fields["$pipeline"]
        hint = fields_in.get("$pipeline")
        if "$stage" not in fields_in:
            raise unprocessable(
                "'$pipeline' is only a hint for '$stage'; send it together with '$stage'.",
                code="parameter_missing",
                param="fields.$stage",
            )
        raw = fields_in["$stage"]
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise invalid_type(
                "Invalid value for '$stage': expected an option id or label.", "fields.$stage"
            )
        pipeline: Option | None = None
        if hint is not None:
            if not isinstance(hint, str):
                raise invalid_type(
                    "Invalid value for '$pipeline': expected a pipeline id or name.",
                    "fields.$pipeline",
                )
            pipeline = pipeline_def.option_by_id(hint) or next(
                iter(pipeline_def.options_by_label(hint)), None
            )
            if pipeline is None:
                raise ApiError(
                    422,
                    f"Unknown pipeline '{hint}'.",
                    code="unknown_pipeline",
                    param="fields.$pipeline",
                    extra={"activePipelineIds": [o.id for o in pipeline_def.options]},
                )
        by_id = stage_def.option_by_id(raw)
        candidates = [by_id] if by_id is not None else stage_def.options_by_label(raw)
        if pipeline is not None:
            in_pipeline = [c for c in candidates if c.parent_id == pipeline.id]
            if len(in_pipeline) != 1:
                raise ApiError(
                    422,
                    f"Stage '{raw}' is not exactly one active stage of pipeline "
                    f"'{pipeline.label}'.",
                    code="stage_unresolved_in_pipeline",
                    param="fields.$stage",
                    extra={
                        "pipelineId": pipeline.id,
                        "candidates": stage_candidates(
                            defs, [o for o in stage_def.options if o.parent_id == pipeline.id]
                        ),
                    },
                )
            return in_pipeline[0].id
        if len(candidates) == 1:
            return candidates[0].id
        if not candidates:
            labels = ", ".join(o.label for o in stage_def.options)
            raise invalid_type(f"'{raw}' is not a stage; stages: {labels}.", "fields.$stage")
        raise ApiError(
            422,
            f"Stage label '{raw}' exists in several pipelines; send a stage option id or a "
            "'$pipeline' hint.",
            code="ambiguous_stage_label",
            param="fields.$stage",
            extra={"candidates": stage_candidates(defs, candidates)},
        )

    def _apply_values(
        self, defs: ObjectDefs, record: Record, values: dict[str, Any]
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

    # ---- relationships ------------------------------------------------------------------
    def _writable_rel(self, defs: ObjectDefs, key: str) -> RelDef:
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

    def _create_relationships(
        self, org: str, defs: ObjectDefs, rels_in: dict[str, Any]
    ) -> dict[str, _RelPlan]:
        plans: dict[str, _RelPlan] = {}
        referenced = 0
        for key, raw in rels_in.items():
            rel = self._writable_rel(defs, key)
            param = f"relationships.{key}"
            ids = [] if raw is None else _ids(raw, param)
            referenced += len(ids)
            ids = list(dict.fromkeys(ids))
            if rel.cardinality == "HAS_ONE" and len(ids) > 1:
                raise invalid_type(f"Relationship '{key}' is HAS_ONE: give one id.", param)
            plans[key] = _RelPlan(rel, ids, list(ids), [])
        self._check_limits(referenced, sum(len(p.added) for p in plans.values()))
        for plan in plans.values():
            self._check_targets(org, plan)
        return plans

    def _update_relationships(
        self, org: str, defs: ObjectDefs, record: Record, rels_in: dict[str, Any]
    ) -> dict[str, _RelPlan]:
        settings = self.store.org(org) or OrgSettings(org)
        plans: dict[str, _RelPlan] = {}
        referenced = 0
        for key, op in rels_in.items():
            rel = self._writable_rel(defs, key)
            param = f"relationships.{key}"
            if not isinstance(op, dict) or not op or set(op) - {"add", "remove", "replace"}:
                raise invalid_type(
                    f"Relationship '{key}' takes an operation object with 'add', 'remove' or "
                    "'replace'.",
                    param,
                )
            current = list(record.relationships.get(key, []))
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
                given_add = _ids(op["add"], param) if "add" in op else []
                given_remove = _ids(op["remove"], param) if "remove" in op else []
                referenced += len(given_add) + len(given_remove)
                add = list(dict.fromkeys(given_add))
                remove = list(dict.fromkeys(given_remove))
                if set(add) & set(remove):
                    raise invalid_type(
                        f"The same id is both added to and removed from '{key}'.", param
                    )
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
            plans[key] = _RelPlan(rel, new, added, removed)
        changes = sum(len(p.added) + len(p.removed) for p in plans.values())
        self._check_limits(referenced, changes)
        for plan in plans.values():
            self._check_targets(org, plan)
        return plans

    def _check_limits(self, referenced: int, changes: int) -> None:
        if referenced > RELATIONSHIP_ID_LIMIT or changes > RELATIONSHIP_CHANGE_LIMIT:
            raise unprocessable(
                f"A request may reference at most {RELATIONSHIP_ID_LIMIT} ids and change at most "
                f"{RELATIONSHIP_CHANGE_LIMIT} links (got {referenced} ids, {changes} changes).",
                code="relationship_write_limit_exceeded",
                param="relationships",
            )

    def _check_targets(self, org: str, plan: _RelPlan) -> None:
        """Newly linked ids must exist in the org, be of the target type, and be active."""
        param = f"relationships.{plan.rel.key}"
        for target_id in plan.added:
            target = self.store.get(target_id)
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

    def _link_inverses(self, record: Record, plans: Any, at: float) -> None:
        """Keep the other side of two-sided links in step (no updatedAt, no mutation entry)."""
        for plan in plans:
            inverse_key = plan.rel.inverse
            if inverse_key is None:
                continue
            for target_id in plan.removed:
                target = self._snapshot(target_id)
                if target is not None:
                    _unlink(target, inverse_key, record.id)
                    self.store.save(target, at)
            for target_id in plan.added:
                target = self._snapshot(target_id)
                if target is None:
                    continue
                inverse = self.defs(target.org, target.object_type).relationships[inverse_key]
                if inverse.cardinality == "HAS_ONE":
                    for previous_id in target.relationships.get(inverse_key, []):
                        if previous_id == record.id:
                            continue
                        previous = self._snapshot(previous_id)
                        if previous is not None:
                            _unlink(previous, plan.rel.key, target.id)
                            self.store.save(previous, at)
                    target.relationships[inverse_key] = [record.id]
                else:
                    values = target.relationships.setdefault(inverse_key, [])
                    if record.id not in values:
                        values.append(record.id)
                self.store.save(target, at)

    def _snapshot(self, record_id: str) -> Record | None:
        found = self.store.get(record_id)
        return found.snapshot() if found is not None else None

    def _log(
        self,
        caller: Caller | None,
        record: Record,
        operation: str,
        at: float,
        fields_changes: dict[str, dict[str, Any]],
        plans: Any,
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


def _unlink(record: Record, key: str, target_id: str) -> None:
    values = [v for v in record.relationships.get(key, []) if v != target_id]
    if values:
        record.relationships[key] = values
    else:
        record.relationships.pop(key, None)


def _history_keys(defs: ObjectDefs, values: dict[str, Any]) -> list[str]:
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


def _int_param(value: str, name: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(
            f"'{name}' must be an integer {bounds}.", code="invalid_parameter", param=name
        )
    return number


def _object_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body


def _member_object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_type(f"'{name}' must be an object.", name)
    return value


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


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
