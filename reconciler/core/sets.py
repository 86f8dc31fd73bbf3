"""``kind: OpportunitySet``: keys managed across every live opportunity a selector matches.

Owns the selector's grammar and its meaning, pure (no I/O): ``build_sets`` checks each set against
the org (every problem at ``file:line``) into a ``DesiredSet``; ``selects`` says whether a record
(a fresh read) is matched; ``merge_into`` folds a set's keys into the desired state of one matched
record, where a key another document manages with a different value is a conflict (a problem
naming both origins and the record), noting the selector keys it reads but does not manage (the
plan records their live values: a saved plan is refused when its record stopped matching).
Finding the matched records is ``runs.sets``'s.

The selector (``spec.selector``), a mapping:

- a field or relationship key, with a value written as ``metadata.match`` writes it (a field's
  value, compared as match compares it; a relationship's id or reference, which the record must
  link), or a list of such values: the record has any of them;
- ``status: open`` (``$opportunityStatus`` Open) or ``status: closed`` (Won or Lost);
- ``all: true``, alone: every opportunity. An empty selector is refused: matching everything
  must be said.

``read_selector`` is the one reading of this grammar: a policy's ``selector`` in ``lfr.yaml``
(``core.policies``, ``core.scope``) is read by it too, where ``all: true`` is refused (no
selector already means every record).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .desired import Located, selector_value, set_keys
from .model import DesiredField, DesiredRecord, DesiredRelationship, LoadedSet
from .org import OrgSchema, fold, normalize_live, same_value
from .records import Record
from .vocabulary import Origin, Problem

Status = Literal["open", "closed"]
STATUS_KEY = "$opportunityStatus"
_WORDS = ("all", "status")
# A policy's selector that says nothing (``selector: {}``, ``selector:``).
EMPTY_SCOPE = "an empty selector would match every record: omit selector to judge every record"


@dataclass(frozen=True)
class FieldTerm:
    """A selector's field key: the record's value must equal one of ``values`` (canonical)."""

    key: str
    values: tuple[Any, ...]
    origin: Origin


@dataclass(frozen=True)
class DesiredSet:
    """One set as desired state. ``links`` are the selector's relationship keys (the record must
    link any one of ``include``); until ``runs.resolve`` has run they hold references.
    ``template`` carries the managed keys (and ``links`` as its match relationships) through
    the resolver; ``resolved`` takes them back."""

    name: str
    origin: Origin
    everything: bool
    status: Status | None
    terms: tuple[FieldTerm, ...]
    links: tuple[DesiredRelationship, ...]
    fields: tuple[DesiredField, ...]
    relationships: tuple[DesiredRelationship, ...]

    def template(self) -> DesiredRecord:
        return DesiredRecord(
            name=self.name,
            origin=self.origin,
            id=None,
            match_fields=(),
            match_relationships=self.links,
            on_missing="error",
            fields=self.fields,
            relationships=self.relationships,
        )

    def selector_keys(self) -> tuple[str, ...]:
        """The record's keys the selector reads (``$opportunityStatus`` for ``status``)."""
        status = (STATUS_KEY,) if self.status is not None else ()
        return (*(t.key for t in self.terms), *(link.key for link in self.links), *status)

    def resolved(self, template: DesiredRecord) -> DesiredSet:
        return replace(
            self, links=template.match_relationships, relationships=template.relationships
        )


def build_sets(
    loaded_sets: Sequence[LoadedSet], schema: OrgSchema
) -> tuple[list[DesiredSet], list[Problem]]:
    """Check every set against ``schema``; sets with problems are left out."""
    sets: list[DesiredSet] = []
    problems: list[Problem] = []
    for loaded in loaded_sets:
        found: list[Problem] = []

        def report(origin: Origin, message: str, found: list[Problem] = found) -> None:
            found.append(Problem(origin, message))

        fields, relationships = set_keys(loaded, schema, report)
        everything, status, terms, links = _selector(loaded, schema, report)
        problems.extend(found)
        if not found:
            name = loaded.manifest.metadata.name
            sets.append(
                DesiredSet(
                    name, loaded.origin, everything, status, terms, links, fields, relationships
                )
            )
    return sets, sorted(set(problems))


# A selector as read: (everything, status, field terms, relationship links).
Selector = tuple[bool, Status | None, tuple[FieldTerm, ...], tuple[DesiredRelationship, ...]]


def _selector(
    loaded: LoadedSet, schema: OrgSchema, report: Callable[[Origin, str], None]
) -> Selector:
    selector = loaded.manifest.spec.selector
    return read_selector(selector, loaded, ("spec", "selector"), schema, report)


def read_selector(
    selector: Mapping[str, Any],
    located: Located,
    at: tuple[str | int, ...],
    schema: OrgSchema,
    report: Callable[[Origin, str], None],
    *,
    scope: bool = False,
) -> Selector:
    """A selector (at path ``at`` of ``located``) read by the grammar above: (everything,
    status, field terms, links), each problem reported at its key's line. ``scope``: the
    selector is a policy's scope in lfr.yaml, where ``all: true`` means nothing (a policy
    without a selector judges every record) and is refused like an empty selector."""
    where = located.origin_of(*at)
    everything, status = False, None
    terms: list[FieldTerm] = []
    links: list[DesiredRelationship] = []
    if not selector:
        report(
            where,
            EMPTY_SCOPE
            if scope
            else "an empty selector would match every opportunity: write {all: true} to mean it",
        )
    for key, value in selector.items():
        origin = located.origin_of(*at, key)
        if key == "all":
            if scope:
                report(origin, "selector 'all' is no scope: omit selector to judge every record")
            elif value is not True:
                report(origin, "selector 'all' can only be true (every opportunity)")
            elif len(selector) > 1:
                report(origin, "selector 'all: true' matches everything: give it alone")
            everything = True
            continue
        if key == "status":
            if value not in ("open", "closed"):
                report(origin, f"selector 'status' is open or closed, not {value!r}")
            else:
                status = value
            continue
        alternatives = value if isinstance(value, list) else [value]
        if not alternatives:
            report(origin, f"selector {key!r}: an empty list matches nothing")
            continue
        read = [selector_value(located, at, schema, key, v, report) for v in alternatives]
        if any(r is None for r in read):
            continue
        if isinstance(read[0], DesiredField):
            values = tuple(r.value for r in read if isinstance(r, DesiredField))
            terms.append(FieldTerm(key, values, origin))
        else:
            refs = [r for r in read if isinstance(r, DesiredRelationship)]
            includes = tuple(ref for r in refs for ref in r.include)
            links.append(replace(refs[0], include=includes, origin=origin, item_origins=()))
    return everything, status, tuple(terms), tuple(links)


def selects(desired: DesiredSet, record: Record, schema: OrgSchema) -> bool:
    """Whether ``record`` is matched: every key of the selector holds (any of its values)."""
    if desired.status is not None:
        label = _status_label(record, schema)
        if (label == "open") != (desired.status == "open") or not label:
            return False
    for term in desired.terms:
        value = normalize_live(schema.field(term.key), record.value(term.key))
        if not any(_same(wanted, value) for wanted in term.values):
            return False
    for link in desired.links:
        if set(map(str, link.include)).isdisjoint(record.related_ids(link.key)):
            return False
    return True


def _same(wanted: Any, value: Any) -> bool:
    if isinstance(value, str) and isinstance(wanted, str):
        return fold(value) == fold(wanted)
    return same_value(wanted, value)


def _status_label(record: Record, schema: OrgSchema) -> str:
    """``$opportunityStatus`` as a folded label (``open``, ``won``, ``lost``), or ""."""
    value = record.value(STATUS_KEY)
    if not isinstance(value, str):
        return ""
    definition = schema.field(STATUS_KEY)
    options = () if definition is None else definition.type_configuration.options
    label = next((o.label for o in options if o.id == value), value)
    return fold(label)


def group_name(sets: Iterable[DesiredSet]) -> str:
    return ", ".join(s.name for s in sets)


def merge_into(
    base: DesiredRecord, sets: Sequence[DesiredSet], record: Record
) -> tuple[DesiredRecord, list[Problem]]:
    """``base`` (a record manifest's desired state, or an empty one) with the keys of every set
    that matched ``record``. A key two documents manage with different values is a problem at
    the later one's line naming the earlier one's; equal values are kept once (the first
    origin). The sets' selector keys the record does not manage become its ``selected_by``."""
    fields = {f.key: f for f in base.fields}
    links = {r.key: r for r in base.relationships}
    owner = dict.fromkeys((*fields, *links), base.name)
    problems: list[Problem] = []
    label = f"{record.id} ({record.value('$name')})"
    for s in sets:
        for f in s.fields:
            first = fields.get(f.key)
            if first is None:
                fields[f.key], owner[f.key] = f, s.name
            elif not same_value(first.value, f.value):
                problems.append(_conflict(f.key, label, s.name, f.origin, owner[f.key], first))
        for r in s.relationships:
            had = links.get(r.key)
            if had is None:
                links[r.key], owner[r.key] = r, s.name
            elif _link_value(had) != _link_value(r):
                problems.append(_conflict(r.key, label, s.name, r.origin, owner[r.key], had))
    # The selector keys the record does not manage: planned from too, so a saved plan of a
    # record that no longer matches is refused as stale (runs.saved_plan) rather than written.
    selected: dict[str, list[str]] = {}
    for s in sets:
        for key in s.selector_keys():
            if key not in owner:
                names = selected.setdefault(key, [])
                names.extend([s.name] if s.name not in names else [])
    merged = replace(
        base,
        fields=tuple(fields.values()),
        relationships=tuple(links.values()),
        selected_by=tuple((key, ", ".join(names)) for key, names in selected.items()),
    )
    return merged, problems


def _link_value(link: DesiredRelationship) -> tuple[bool, frozenset[str], frozenset[str]]:
    return link.exact, frozenset(map(str, link.include)), frozenset(map(str, link.exclude))


def _conflict(
    key: str,
    record: str,
    name: str,
    origin: Origin,
    other: str,
    first: DesiredField | DesiredRelationship,
) -> Problem:
    return Problem(
        origin,
        f"{key} of opportunity {record}: set {name} and {other} ({first.origin}) both manage it "
        "with different values; make them agree or narrow the set's selector",
    )


def set_record(sets: Sequence[DesiredSet], record: Record) -> DesiredRecord:
    """The desired state of a record only sets manage, before ``merge_into``: named after (and
    shown at) the first set."""
    first = sets[0]
    return DesiredRecord(
        name=first.name,
        origin=first.origin,
        id=record.id,
        match_fields=(),
        match_relationships=(),
        on_missing="error",
        fields=(),
        relationships=(),
        identity_origin=first.origin,
        group=group_name(sets),
    )


def sets_by_record(
    sets: Sequence[DesiredSet], members: Mapping[str, Sequence[str]]
) -> dict[str, list[DesiredSet]]:
    """Record id → the sets that matched it, in manifest order."""
    found: dict[str, list[DesiredSet]] = {}
    for s in sorted(sets, key=lambda s: s.origin):
        for record_id in members.get(s.name, ()):
            found.setdefault(record_id, []).append(s)
    return found
