"""A saved plan file (``lfr plan --out``) read as hostile input (architecture.md §4, issue 12).

A reviewer may be handed a plan made elsewhere: a fork's CI artifact, a colleague's laptop. This
module owns every rule such a file must pass before apply uses it: a size cap checked before
reading, strict UTF-8 JSON (no NaN, no duplicate keys), bounded nesting, no control characters,
every key and type of ``format_version`` 1 with unknown keys refused, ids of the API's shape for
their kind, only the request paths and method lfr sends, and that each record sends exactly
what it shows: ``core.diff.rebuilt`` computes its parts, bodies, idempotency keys and fingerprint
again from its planned-from values and targets, and anything else in the file is refused (so a
plan cannot show ``$amount: 1 → 2`` and send an ``$owner`` change, nor carry a key forged to
collide with another record's replay).

The guardrails' review saved with a plan (``policy``, ``impact``) is checked by
``core.saved_review`` (its shape, and that it fits the plan) and handed back with the plan
(``parse_saved``) for ``lfr show`` only. Nor does apply trust ``planned_from`` for what it
leaves out: apply compares each key it holds with the CRM (stale), but nothing here can tell
that an unchanged key was left out, so the guardrails read every pipeline key from the
record's fresh read (``core.impact``). Any problem is one ``SavedPlanError`` naming the file
and the JSON path. Pure: it is handed the file's bytes (``adapters.plan_file`` reads them,
capped); the checks against the CRM (stale values, create re-match) are ``runs.saved_plan``'s.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, ValidationError

from .diff import rebuilt
from .errors import LfrError
from .model import NAME_PATTERN
from .org import ID_PREFIXES, OrgSchema
from .plan import (
    CREATE_PATH,
    FORMAT_VERSION,
    KEY_PREFIX,
    UPDATE_PATH,
    DiffOptions,
    Plan,
    RecordChange,
    RelationshipChange,
    plan_from_dict,
)
from .saved_review import ImpactReview, PolicyReview, mismatch
from .vocabulary import MAX_DEPTH as MANIFEST_DEPTH

# A 10,000-record plan is ~15 MiB; the cap stops a file from exhausting memory before a check.
MAX_FILE_BYTES = 64 * 1024 * 1024
# A manifest value nests at most MANIFEST_DEPTH deep; a plan holds it a few levels down.
MAX_DEPTH = MANIFEST_DEPTH + 8
MAX_TEXT = 1024 * 1024  # no manifest (1 MiB) can give a longer string
# The same characters manifests refuse: invisible in a review, so a reviewer could not see them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FROM_CRM = frozenset({"planned_from", "before", "body", "removed"})
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(NAME_PATTERN)


class SavedPlanError(LfrError):
    """A saved plan file that cannot be used; the message names the file and the JSON path."""


# The API's ids: a type prefix and a short alphanumeric tail (cuid / ULID-like), by kind.
_TAIL = "_[A-Za-z0-9]{1,64}$"
OpportunityId = Annotated[str, StringConstraints(pattern="^opp" + _TAIL)]
RecordId = Annotated[str, StringConstraints(pattern="^(acc|con|mem|opp)" + _TAIL)]
LabelId = Annotated[str, StringConstraints(pattern="^(acc|con|mem|opp|opt|pd)" + _TAIL)]
_RECORD_ID = re.compile("^(acc|con|mem|opp)" + _TAIL)
Key = Annotated[str, StringConstraints(pattern=r"^[$A-Za-z0-9_][A-Za-z0-9_.$-]{0,127}$")]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=4096)]
IdempotencyKey = Annotated[str, StringConstraints(pattern=rf"^{KEY_PREFIX}[0-9a-f]{{64}}$")]
Timestamp = Annotated[
    str,
    StringConstraints(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
    ),
]
# revision.manifest_revision: the manifests' commit, or the hash of their content.
Revision = Annotated[str, StringConstraints(pattern=r"^(git|sha256):[0-9a-f]{1,64}$")]
HttpLink = Annotated[str, StringConstraints(pattern=r"^https?://[^\s<>\"'`]{1,2048}$")]
Fingerprint = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
Ids = list[RecordId]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Origin(_Strict):
    file: Text
    line: Annotated[int, Field(ge=0)]


class _Field(_Strict):
    key: Key
    before: JsonValue
    after: JsonValue
    parts: list[Key]
    added: list[JsonValue]
    removed: list[JsonValue]
    origin: _Origin


class _Relationship(_Strict):
    key: Key
    cardinality: Literal["HAS_ONE", "HAS_MANY"]
    before: Ids
    after: Ids
    add: Ids
    remove: Ids
    exact: bool
    origin: _Origin


class _Request(_Strict):
    method: Literal["POST"]
    path: Text | None
    body: dict[Key, JsonValue]
    idempotency_key: IdempotencyKey


class _Record(_Strict):
    action: Literal["create", "update", "noop"]
    name: Name
    id: OpportunityId | None
    origin: _Origin
    http_link: HttpLink | None
    fields: list[_Field]
    relationships: list[_Relationship]
    requests: list[_Request]
    planned_from: dict[Key, JsonValue]
    fingerprint: Fingerprint
    live_updated_at: Timestamp | None
    match: dict[Key, JsonValue]
    # The set(s) a record is grouped under: names, comma-separated.
    group: Annotated[str, Field(max_length=2000)] = ""
    # planned_from's keys read only by a set's selector → the set(s), comma-separated.
    selected_by: dict[Key, Annotated[str, Field(max_length=2000)]] = {}


class _Summary(_Strict):
    create: Annotated[int, Field(ge=0)]
    update: Annotated[int, Field(ge=0)]
    noop: Annotated[int, Field(ge=0)]


class _Plan(_Strict):
    format_version: int
    revision: Revision
    target: Text
    summary: _Summary
    records: list[_Record]
    labels: dict[LabelId, Text]
    # What the guardrails said when the plan was made (``render.review``): informational only.
    # Apply never reads them; it judges the plan again by the current lfr.yaml (core.policies).
    policy: PolicyReview | None = None
    impact: ImpactReview | None = None


@dataclass(frozen=True)
class SavedPlan:
    """A checked saved plan and the guardrails' review saved with it (None: not saved, by an
    lfr before the review existed), as its file says it, for ``lfr show``."""

    plan: Plan
    policy: PolicyReview | None
    impact: ImpactReview | None


def parse_saved_plan(raw: bytes, file: str, *, target: str | None) -> Plan:
    """The plan in ``raw`` (the bytes of ``file``, read under ``MAX_FILE_BYTES`` + 1) for
    ``target`` (the API it will be applied to; None to only show it), every rule above
    checked; else a ``SavedPlanError``. The target is checked before the requests, whose keys
    it is part of: a plan for another org is refused as that, not as a forgery."""
    return _Reader(file).read(raw, target).plan


def parse_saved(raw: bytes, file: str, *, target: str | None) -> SavedPlan:
    """``parse_saved_plan``, with the review saved with the plan (checked as strictly)."""
    return _Reader(file).read(raw, target)


def malformed(file: str, message: str) -> SavedPlanError:
    """The error for a file that is no saved plan as a whole (e.g. too large to read)."""
    return _Reader(file).fail("", message)


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, where: str, message: str) -> SavedPlanError:
        place = f"{self.file}: {where}: " if where else f"{self.file}: "
        return SavedPlanError(f"{place}{message} (not a plan as `lfr plan --out` writes it)")

    def read(self, raw: bytes, target: str | None) -> SavedPlan:
        data = self.load(raw)
        if not isinstance(data, dict):
            raise self.fail("", f"a JSON {type(data).__name__}, not an object")
        version = data.get("format_version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            # Quoted only when a number: a string here could be a megabyte of anything.
            shown = repr(version) if type(version) in (int, float) else type(version).__name__
            raise self.fail(
                "format_version",
                f"{shown} is not supported (this lfr reads {FORMAT_VERSION})",
            )
        if _suspect(data, 0):  # the walk that builds JSON paths, only to name the place
            self.scan(data, "", 0)
        try:
            shaped = _Plan.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise self.fail(_json_path(first["loc"]), first["msg"] + more) from None
        plan = plan_from_dict(data)
        if (
            target is not None and plan.target != target
        ):  # before any request: the key may not fit that org
            raise SavedPlanError(
                f"{self.file} was planned against {plan.target}, not {target}; "
                "run lfr plan against this target."
            )
        self.check(plan, shaped)
        wrong = mismatch(shaped.policy, shaped.impact, plan)
        if wrong is not None:
            raise self.fail(*wrong)
        return SavedPlan(plan, shaped.policy, shaped.impact)

    def load(self, raw: bytes) -> Any:
        if len(raw) > MAX_FILE_BYTES:
            raise self.fail("", f"over {MAX_FILE_BYTES:,} bytes; saved plans are limited to that")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail("", f"not UTF-8 (byte {exc.start})") from None
        try:
            return json.loads(
                text,
                parse_constant=_no_constant,
                parse_float=_finite,
                object_pairs_hook=_no_duplicates,
            )
        except RecursionError:
            raise self.fail("", f"nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # JSONDecodeError, a duplicate key, NaN, a 5,000-digit number
            raise self.fail("", f"not valid JSON: {exc}") from None

    def scan(self, value: Any, where: str, depth: int, crm: bool = False) -> None:
        """Nesting, lengths and control characters, before the shape (whose messages quote
        none of them). Values read from the CRM (``planned_from``, a field's ``before``, and
        bodies, which hold only what the changes show) may hold control characters: a record
        someone typed one into can still be planned; renderers show them escaped."""
        if depth > MAX_DEPTH:
            raise self.fail(where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise self.fail(where, f"text of {len(value):,} characters (at most {MAX_TEXT:,})")
            if not crm and _CONTROL.search(value):
                raise self.fail(where, "a control character (invisible in a review)")
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = _join(where, key)
                if _CONTROL.search(key) or len(key) > 256:
                    raise self.fail(inner, "a key with a control character or over 256 long")
                self.scan(item, inner, depth + 1, crm or key in _FROM_CRM)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.scan(item, f"{where}[{index}]", depth + 1, crm)

    def check(self, plan: Plan, shaped: _Plan) -> None:
        """What types cannot say: paths, consistency, and that each record sends what it shows."""
        counts = Counter(record.action for record in plan.records)
        if shaped.summary.model_dump() != {a: counts[a] for a in ("create", "update", "noop")}:
            raise self.fail("summary", "does not count the records' actions")
        names: set[str] = set()
        ids: set[str] = set()
        for index, change in enumerate(plan.records):
            where = f"records[{index}]"
            # A set's records share its name (core.sets); each has its own id, never a create.
            if change.group and change.action == "create":
                raise self.fail(f"{where}.group", "a set never creates a record")
            if change.name in names and not change.group:
                raise self.fail(f"{where}.name", f"{change.name} appears twice")
            if change.id is not None and change.id in ids:
                raise self.fail(f"{where}.id", f"{change.id} appears twice")
            names.add(change.name)
            ids.update([change.id] if change.id else [])
            self.check_record(change, where)
            self.check_sent_is_shown(plan, change, where)

    def check_record(self, change: RecordChange, where: str) -> None:
        keys = [c.key for c in change.fields] + [c.key for c in change.relationships]
        for key, count in Counter(keys).items():
            if count > 1:
                raise self.fail(where, f"{key} is changed twice")
        if change.action == "create":
            self.check_create(change, where)
            return
        if change.id is None:
            raise self.fail(f"{where}.id", f"an {change.action} names its record")
        if change.match:
            raise self.fail(f"{where}.match", "only a create has one")
        for index, request in enumerate(change.requests):
            if request.path != UPDATE_PATH.format(id=change.id):
                raise self.fail(
                    f"{where}.requests[{index}].path",
                    f"must be {UPDATE_PATH.format(id=change.id)} (this record's own)",
                )
        kinds = ["fields"] * len(change.fields) + ["relationships"] * len(change.relationships)
        for kind, key in zip(kinds, keys, strict=True):
            if key not in change.planned_from:
                raise self.fail(f"{where}.{kind}", f"{key} is not in planned_from")
        self.check_selected_by(change, set(keys), where)
        for field in change.fields:
            live = change.planned_from[field.key]
            if isinstance(field.after, dict) and not isinstance(live, dict | None):
                raise self.fail(
                    f"{where}.planned_from.{field.key}", "an object field's value is an object"
                )
        for index, link in enumerate(change.relationships):
            live = change.planned_from[link.key]
            if not isinstance(live, tuple) or not all(_is_record_id(i) for i in live):
                raise self.fail(
                    f"{where}.planned_from.{link.key}", "a relationship's value is a list of ids"
                )
            self.check_link(link, f"{where}.relationships[{index}]")

    def check_selected_by(self, change: RecordChange, changed: set[str], where: str) -> None:
        """A selector-only key names a planned-from value the record does not change, and the
        sets whose selector read it. Forged, it can add a value the stale check compares, or
        take an unchanged one out of ``managed_from``: out of the fingerprint and keys (which
        the rebuild recomputes: what is sent is still what the changes show), as leaving the
        key out of ``planned_from`` can. Neither hides anything from the guardrails: apply
        judges the plan with each record's fresh read (``runs.saved_plan``), and the pipeline
        impact and ``amount-change``'s ``max_total_change`` take every pipeline key from that
        read (``core.impact``), never from what this file says it was planned from. A key the
        record changes is managed, never only selected."""
        for key, names in change.selected_by.items():
            at = _join(f"{where}.selected_by", key)
            if key not in change.planned_from:
                raise self.fail(at, f"{key} is not in planned_from")
            if key in changed:
                raise self.fail(at, f"{key} is changed by this record, not only selected by")
            if not all(_NAME.match(name) for name in names.split(", ")):
                raise self.fail(at, "not the names of sets")

    def check_create(self, change: RecordChange, where: str) -> None:
        if change.id is not None or change.http_link is not None:
            raise self.fail(f"{where}.id", "a create has no id yet")
        if change.selected_by:
            raise self.fail(f"{where}.selected_by", "a set never creates a record")
        if change.planned_from or change.live_updated_at is not None:
            raise self.fail(f"{where}.planned_from", "a create is planned from no live record")
        # Apply looks for the record again before creating it, by this match: it must be the
        # values the create sets, or a forged one could hide the duplicate it would make.
        if not change.match:
            raise self.fail(f"{where}.match", "a create has one (apply looks for the record again)")
        shown: dict[str, Any] = {c.key: c.after for c in change.fields}
        shown.update((c.key, c.after) for c in change.relationships)
        for key, value in change.match.items():
            if key not in shown or shown[key] != value:
                raise self.fail(_join(f"{where}.match", key), "not a value the create sets")
        for index, request in enumerate(change.requests):
            expected = CREATE_PATH if index == 0 else None
            if request.path != expected:
                raise self.fail(
                    f"{where}.requests[{index}].path",
                    f"must be {expected or 'null (the record the create returns)'}",
                )
        for index, link in enumerate(change.relationships):
            if not link.after:
                raise self.fail(f"{where}.relationships[{index}].after", "a create links ids")
            self.check_link(link, f"{where}.relationships[{index}]")

    def check_link(self, link: RelationshipChange, where: str) -> None:
        if link.cardinality == "HAS_ONE" and (not link.exact or len(link.after) > 1):
            raise self.fail(where, "a HAS_ONE relationship links at most one id, exactly")

    def check_sent_is_shown(self, plan: Plan, change: RecordChange, where: str) -> None:
        """The saved record must equal its rebuild (with or without HAS_MANY array ``replace``,
        as it was planned); else the first part that differs is named."""
        best: list[str] | None = None
        for array_replace in (True, False):
            options = DiffOptions(plan.revision, plan.target, array_replace)
            try:
                again = rebuilt(change, options)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError):
                raise self.fail(where, f"the changes of {change.name} cannot be rebuilt") from None
            differences = _differences(change, again)
            if not differences:
                return
            if best is None or len(differences) < len(best):
                best = differences
        assert best is not None
        raise self.fail(
            f"{where}.{best[0]}",
            f"differs from what record {change.name!r} shows (rebuilt from its changes and "
            "planned-from values); lfr sends only what a plan shows",
        )


def check_against_org(file: str, plan: Plan, schema: OrgSchema) -> None:
    """What only the org's definitions can say, before any write: every key a record changes
    or was selected by (``selected_by``) is one of the org's, a relationship's cardinality is
    the org's, and its ids are of the object type it links (a ``con_`` id is no ``$owner``;
    a selector's planned-from links are ids), and a create sets every field the org's
    definitions mark required (docs/api-contract.md §4: a plan made against another org may
    not). A ``SavedPlanError`` by JSON path."""
    reader = _Reader(file)
    required = schema.required_fields()
    for index, change in enumerate(plan.records):
        where = f"records[{index}]"
        if change.action == "create":
            missing = [key for key in required if key not in {f.key for f in change.fields}]
            if missing:
                raise reader.fail(
                    f"{where}.fields",
                    f"this org requires {', '.join(missing)} on create; the planned create of "
                    f"{change.name!r} does not set it (plan again against this org)",
                )
        for key in change.selected_by:
            # Read again by the stale check: a key of this org, a relationship's as ids.
            relationship = schema.relationship(key)
            if relationship is None and schema.field(key) is None:
                raise reader.fail(
                    _join(f"{where}.selected_by", key),
                    f"{key} is not a field or relationship of this org",
                )
            live = change.planned_from[key]
            if relationship is not None and not (
                isinstance(live, tuple) and all(_is_record_id(i) for i in live)
            ):
                raise reader.fail(
                    _join(f"{where}.planned_from", key), "a relationship's value is a list of ids"
                )
        for number, field in enumerate(change.fields):
            if schema.field(field.key) is None:
                raise reader.fail(
                    f"{where}.fields[{number}].key", f"{field.key} is not a field of this org"
                )
        for number, link in enumerate(change.relationships):
            at = f"{where}.relationships[{number}]"
            definition = schema.relationship(link.key)
            if definition is None:
                raise reader.fail(f"{at}.key", f"{link.key} is not a relationship of this org")
            if link.cardinality != ("HAS_MANY" if definition.many else "HAS_ONE"):
                raise reader.fail(f"{at}.cardinality", f"{link.key} is not {link.cardinality}")
            prefix = ID_PREFIXES.get(definition.object_type)
            for part in ("before", "after", "add", "remove"):
                for item, record_id in enumerate(getattr(link, part)):
                    if prefix is not None and not record_id.startswith(prefix):
                        raise reader.fail(
                            f"{at}.{part}[{item}]",
                            f"{link.key} links {definition.object_type} ids ({prefix}...)",
                        )


def _suspect(value: Any, depth: int) -> bool:
    """Whether ``_Reader.scan`` may find a problem: the same walk without paths (nor the
    allowance for CRM values), ~4x faster (a 10,000-record plan has ~600,000 values)."""
    if depth > MAX_DEPTH:
        return True
    kind = value.__class__
    if kind is str:
        return len(value) > MAX_TEXT or _CONTROL.search(value) is not None
    if kind is dict:
        return any(
            len(key) > 256 or _CONTROL.search(key) is not None or _suspect(item, depth + 1)
            for key, item in value.items()
        )
    if kind is list:
        return any(_suspect(item, depth + 1) for item in value)
    return False


def _differences(saved: RecordChange, again: RecordChange) -> list[str]:
    """JSON paths (below the record) where ``saved`` and its rebuild differ."""
    found: list[str] = []
    if saved.action != again.action:
        found.append("action")
    for kind in ("fields", "relationships"):
        mine, theirs = getattr(saved, kind), getattr(again, kind)
        found += [
            f"{kind}[{i}]" for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b
        ]
        if len(mine) != len(theirs):
            found.append(f"{kind}[{min(len(mine), len(theirs))}]")
    for i, (a, b) in enumerate(zip(saved.requests, again.requests, strict=False)):
        found += [
            f"requests[{i}].{part}"
            for part in ("path", "body", "idempotency_key")
            if getattr(a, part) != getattr(b, part)
        ]
    if len(saved.requests) != len(again.requests):
        found.append(f"requests[{min(len(saved.requests), len(again.requests))}]")
    if saved.fingerprint != again.fingerprint:
        found.append("fingerprint")
    return found


def _is_record_id(value: Any) -> bool:
    return isinstance(value, str) and _RECORD_ID.fullmatch(value) is not None


def _json_path(loc: tuple[int | str, ...]) -> str:
    where = ""
    for part in loc:
        if part == "[key]":  # pydantic's mark for a mapping's key (the one before it)
            continue
        where = f"{where}[{part}]" if isinstance(part, int) else _join(where, part)
    return where or "(document)"


def _join(where: str, key: str) -> str:
    if _SEGMENT.match(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key[:80])}]"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number too large for a float (``1e400``) is refused, not read as infinity: no
    amount or value of a plan is infinite, and rendering one would fail (``money``)."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large a number")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        duplicate = next(key for key, count in Counter(k for k, _ in pairs).items() if count > 1)
        raise ValueError(f"the key {duplicate[:80]!r} appears twice in one object")
    return data
