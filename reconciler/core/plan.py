"""The Plan: immutable data describing what apply will do, and its JSON form (architecture.md §4).

Owns ``Plan`` / ``RecordChange`` / ``FieldChange`` / ``RelationshipChange`` / ``PlannedRequest``,
the live-value fingerprint a saved plan is checked against, the idempotency-key recipe
(architecture.md §5), and (de)serialisation with a ``format_version`` (a saved file is hostile
input: ``core.saved_plan`` checks it before ``plan_from_dict`` builds the plan). A closed set of
actions (``create | update | noop``), before/after values, and "what it was computed from": the
Terraform ``internal/plans`` shape. Built by ``core.diff``; read by renderers and ``runs.apply``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ApplyRefused
from .vocabulary import Origin

FORMAT_VERSION = 1
Action = Literal["create", "update", "noop"]
KEY_PREFIX = "lfr1-"


@dataclass(frozen=True)
class FieldChange:
    """A managed field whose live value differs from the manifest's (canonical forms)."""

    key: str
    before: Any
    after: Any
    origin: Origin
    # deepdiff's detail of the difference (``core.diff``), what the plan shows of an update.
    # For objects (ADDRESS, FULL_NAME): the parts that differ, e.g. ("city",); their values
    # are ``before[part]`` and ``after[part]``.
    parts: tuple[str, ...] = ()
    # For lists (MULTI_SELECT; EMAIL / URL / TELEPHONE with multiple values): the items the
    # update adds and removes, in the canonical (sorted) order.
    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()


@dataclass(frozen=True)
class RelationshipChange:
    """A managed relationship whose linked ids must change."""

    key: str
    cardinality: str
    before: tuple[str, ...]
    after: tuple[str, ...]  # the links once applied (for partial HAS_MANY: all of them)
    add: tuple[str, ...]
    remove: tuple[str, ...]
    origin: Origin
    # False under partial ownership ({include}/{exclude}): other links are not lfr's.
    exact: bool = True


# The two writes lfr sends (lightfield-api.md §2.1): a create to the collection, an update to a
# record.
# The API's request body limit (docs/emulator.md "Bounds"; the emulator's body.MAX_BODY_BYTES,
# held equal by tests/plan/test_values_agree_with_the_api.py).
MAX_BODY_BYTES = 1024 * 1024
CREATE_PATH = "/v1/opportunities"
UPDATE_PATH = "/v1/opportunities/{id}"


@dataclass(frozen=True)
class DiffOptions:
    revision: str
    target: str
    # HAS_MANY id-array ``replace``: opt-in, since SDK 0.20 types ``replace`` as one id or null
    # (docs/api-contract.md §1); apply falls back to add/remove when an org refuses it.
    array_replace: bool = False


@dataclass(frozen=True)
class PlannedRequest:
    """One write apply sends: ``POST path`` with ``body`` and ``Idempotency-Key: key``.

    ``path`` is None for the follow-up writes of a create whose links did not fit in one body:
    they go to the record the create returns.
    """

    method: str
    path: str | None
    body: dict[str, Any]
    idempotency_key: str

    @property
    def kind(self) -> Literal["create", "update"]:
        """A create (to the collection), or an update (of the record, or of the one the create
        before it returned)."""
        return "create" if self.path == CREATE_PATH else "update"


@dataclass(frozen=True)
class RecordChange:
    action: Action
    name: str  # the manifest's metadata.name
    id: str | None  # None for a create
    origin: Origin
    http_link: str | None = None
    fields: tuple[FieldChange, ...] = ()
    relationships: tuple[RelationshipChange, ...] = ()
    requests: tuple[PlannedRequest, ...] = ()
    # Live values of every managed key as planned from (canonical form); apply re-reads the
    # record and refuses a stale plan when any of these moved.
    planned_from: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    # The live record's updatedAt as planned from: a write answered with an older record is a
    # stale idempotent replay, not this run's write.
    live_updated_at: str | None = None
    # A create's ``metadata.match`` (``DesiredRecord.selector``): no record matched when it was
    # planned; a saved plan runs it again before creating, as someone may have made one since.
    match: dict[str, Any] = field(default_factory=dict)
    # The ``OpportunitySet``(s) whose keys alone change this record (``core.sets``): renderers
    # group such records under them. Empty for a record manifest's record.
    group: str = ""
    # The keys of ``planned_from`` that are there only because a set's selector read them (the
    # record does not manage them; never written), each with the set(s) whose selector it is:
    # a saved plan whose record moved out of the selection is refused as stale. Not in the
    # fingerprint nor the idempotency keys (``managed_from``), nor the pipeline impact.
    selected_by: dict[str, str] = field(default_factory=dict)

    @property
    def managed_from(self) -> dict[str, Any]:
        """``planned_from`` without the selector-only keys: the live values of the keys this
        change manages, what its write is computed from.

        The fingerprint and the idempotency keys are made of these alone. A key identifies a
        write (what it sends to which record, computed from which managed values); a selector
        value decides only whether the write is made, which the stale check of a saved plan
        and a fresh plan's selection guard. With them in, the same write would get another key
        when only an unmanaged value moved (or a set that also selects a record manifest's
        record came or went), which can turn a replay into a second application but never the
        reverse; without them, a re-plan after a crash yields the keys of the writes not yet
        landed exactly as before (tests/reliability/test_set_crash.py)."""
        if not self.selected_by:
            return self.planned_from
        return {k: v for k, v in self.planned_from.items() if k not in self.selected_by}

    @property
    def called(self) -> str:
        """How a message names the record: a set's records share the set's name, so with the
        id (``globex-region (opp_...)``); a record manifest's by its unique name."""
        return f"{self.name} ({self.id})" if self.group else self.name


@dataclass(frozen=True)
class Plan:
    revision: str
    target: str
    records: tuple[RecordChange, ...]
    # id → readable label for option ids and related records (renderers only).
    labels: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def count(self, action: Action) -> int:
        return sum(1 for record in self.records if record.action == action)

    @property
    def has_changes(self) -> bool:
        return any(record.action != "noop" for record in self.records)

    def summary(self) -> str:
        return (
            f"Plan: {self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('noop')} unchanged."
        )


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, tuples as lists, UTF-8 kept."""
    return _CANONICAL.encode(value)


def fingerprint(live_values: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(live_values).encode()).hexdigest()[:16]


def idempotency_key(
    *,
    revision: str,
    target: str,
    operation: str,
    record: str,
    body: dict[str, Any],
    planned_from: dict[str, Any],
) -> str:
    """Design §5: the same plan of the same world always yields the same key (so a re-run after a
    crash is replayed, not re-applied), and any change of the world yields a new one."""
    material = canonical_json(
        {
            "revision": revision,
            "target": target,
            "operation": operation,
            "record": record,
            "body": body,
            "live": planned_from,
        }
    )
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


# --- JSON form -------------------------------------------------------------------------------


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {key: list(value) if key == "records" else value for key, value in plan_items(plan)}


def plan_items(plan: Plan, *, for_encoder: bool = False) -> list[tuple[str, Any]]:
    """``plan_to_dict``'s entries in order, the records as a lazy iterator of their dicts:
    ``render.json`` writes a large plan a record at a time instead of holding it twice.

    ``for_encoder``: the dicts only go to a JSON encoder, which writes a tuple as the list it
    stands for, so the records' values are given as they are, not copied into lists first
    (a quarter of writing a 10,000-record plan). The text is the same."""
    records = (
        (_record_to_dict(record, _as_given) for record in plan.records)
        if for_encoder
        else map(_record_to_dict, plan.records)
    )
    return [
        ("format_version", plan.format_version),
        ("revision", plan.revision),
        ("target", plan.target),
        ("summary", {action: plan.count(action) for action in ("create", "update", "noop")}),
        ("records", records),
        ("labels", dict(sorted(plan.labels.items()))),
    ]


def _as_given(value: Any) -> Any:
    return value


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """The dataclasses of ``plan_to_dict``'s shape. Trusts that shape: a file from outside goes
    through ``adapters.plan_file.read_saved_plan``, which checks every part of it first."""
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"plan format_version {version!r} is not supported (this lfr reads {FORMAT_VERSION})"
        )
    return Plan(
        revision=data["revision"],
        target=data["target"],
        records=tuple(_record_from_dict(r) for r in data["records"]),
        labels=dict(data.get("labels", {})),
    )


def _origin(data: dict[str, Any]) -> Origin:
    return Origin(data["file"], data["line"])


def _record_to_dict(
    record: RecordChange, spell: Callable[[Any], Any] | None = None
) -> dict[str, Any]:
    """``record`` as its JSON object; its values through ``spell`` (default ``plain``)."""
    spell = plain if spell is None else spell
    return {
        "action": record.action,
        "name": record.name,
        "id": record.id,
        "origin": {"file": record.origin.file, "line": record.origin.line},
        "http_link": record.http_link,
        "fields": [
            {
                "key": c.key,
                "before": spell(c.before),
                "after": spell(c.after),
                "parts": list(c.parts),
                "added": spell(c.added),
                "removed": spell(c.removed),
                "origin": {"file": c.origin.file, "line": c.origin.line},
            }
            for c in record.fields
        ],
        "relationships": [
            {
                "key": c.key,
                "cardinality": c.cardinality,
                "before": list(c.before),
                "after": list(c.after),
                "add": list(c.add),
                "remove": list(c.remove),
                "exact": c.exact,
                "origin": {"file": c.origin.file, "line": c.origin.line},
            }
            for c in record.relationships
        ],
        "requests": [
            {
                "method": r.method,
                "path": r.path,
                "body": r.body,
                "idempotency_key": r.idempotency_key,
            }
            for r in record.requests
        ],
        "planned_from": spell(record.planned_from),
        "fingerprint": record.fingerprint,
        "live_updated_at": record.live_updated_at,
        "match": spell(record.match),
        **({"group": record.group} if record.group else {}),
        **({"selected_by": dict(record.selected_by)} if record.selected_by else {}),
    }


def _record_from_dict(data: dict[str, Any]) -> RecordChange:
    return RecordChange(
        action=data["action"],
        name=data["name"],
        id=data["id"],
        origin=_origin(data["origin"]),
        http_link=data.get("http_link"),
        fields=tuple(
            FieldChange(
                c["key"],
                _tupled(c["before"]),
                _tupled(c["after"]),
                _origin(c["origin"]),
                tuple(c.get("parts", ())),
                _tupled(c.get("added", [])),
                _tupled(c.get("removed", [])),
            )
            for c in data["fields"]
        ),
        relationships=tuple(
            RelationshipChange(
                c["key"],
                c["cardinality"],
                tuple(c["before"]),
                tuple(c["after"]),
                tuple(c["add"]),
                tuple(c["remove"]),
                _origin(c["origin"]),
                c.get("exact", True),
            )
            for c in data["relationships"]
        ),
        requests=tuple(
            PlannedRequest(r["method"], r["path"], r["body"], r["idempotency_key"])
            for r in data["requests"]
        ),
        planned_from={k: _tupled(v) for k, v in data["planned_from"].items()},
        fingerprint=data["fingerprint"],
        live_updated_at=data.get("live_updated_at"),
        match={k: _tupled(v) for k, v in data.get("match", {}).items()},
        group=data.get("group", ""),
        selected_by=dict(data.get("selected_by", {})),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


# One encoder for every canonical spelling: ``json.dumps`` with options builds a new one each
# call, a fifth of a fingerprint (every record of a plan has one, and each write a key).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
)


def plain(value: Any) -> Any:
    """Canonical values hold tuples (sets); JSON and request bodies have lists."""
    # Exact classes, and no call for a leaf: this runs over every value of every record a
    # plan is written with (a third of writing a 10,000-record plan as JSON, before).
    kind = value.__class__
    if kind is dict:
        return {k: v if v.__class__ in _LEAVES else plain(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [v if v.__class__ in _LEAVES else plain(v) for v in value]
    return value


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _tupled(value: Any) -> Any:
    """Back from JSON: lists were tuples (sets) in the canonical form."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    if isinstance(value, dict):
        return {k: _tupled(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class SafetyRails:
    max_change_fraction: float = 0.30
    min_records_for_fraction: int = 10
    force: bool = False


def check_rails(plan: Plan, rails: SafetyRails) -> None:
    if not plan.records:
        raise ApplyRefused(
            "refusing to apply an empty manifest set: no manifests were found, which would "
            "leave nothing managed. Check the directory you passed."
        )
    managed = len(plan.records)
    changing = sum(1 for r in plan.records if r.action != "noop")
    if (
        not rails.force
        and managed >= rails.min_records_for_fraction
        and changing > rails.max_change_fraction * managed
    ):
        raise ApplyRefused(
            f"this plan changes {changing} of {managed} managed records "
            f"({changing / managed:.0%}, over the {rails.max_change_fraction:.0%} safety "
            "threshold). Review the plan, then re-run with --force if it is intended."
        )


def wire_body(body: Any) -> bytes:
    """``body`` as it is sent (compact JSON, UTF-8): what the API's size limit counts."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
