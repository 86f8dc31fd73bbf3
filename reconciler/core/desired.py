"""Manifests × the org's definitions → desired state, or every problem with ``file:line``.

Owns the rules that need both a manifest and the org (architecture.md §3): unknown keys (with the
nearest valid keys), read-only fields and relationships, value types and select labels (through
``schema``), reference kinds that cannot fit a relationship's target type, the keys a create
needs, and the same record managed twice. Pure: no I/O; ``runs.resolve`` then turns the
references into ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol

from .model import (
    LOOKUP_WORDS,
    ByDomain,
    ByEmail,
    ByName,
    DesiredField,
    DesiredRecord,
    DesiredRelationship,
    LoadedManifest,
    LoadedSet,
    Lookup,
    Partial,
    Reference,
    RelationshipSpec,
    lookup_of,
)
from .org import ID_PREFIXES, OrgSchema, fold, is_empty, normalize_desired
from .value_types import ValueProblem, visible
from .vocabulary import Origin, Problem

# What a create must carry (lightfield-api.md §2.2), and the fields no write may empty (the API
# answers "cannot be cleared"; a blank name is no name).
CREATE_REQUIRED_FIELDS = ("$name",)
UNCLEARABLE_FIELDS = ("$name", "$stage")
_CROSS_FIELD_KEYS = frozenset({*UNCLEARABLE_FIELDS, "$pipeline"})
CREATE_REQUIRED_RELATIONSHIPS = ("$account",)
_TYPE_OF_PREFIX = {prefix: kind for kind, prefix in ID_PREFIXES.items()}
# At most this many problems of one kind are listed per file (cap_problems).
PROBLEMS_PER_KIND = 20
# The parts of a message that vary between problems of one kind: quoted values, numbers.
_VARIABLE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\d[\d,.]*")
# Which lookups can find which object type (architecture.md §3).
REFERENCE_KINDS: dict[str, tuple[type[Lookup], ...]] = {
    "member": (ByEmail,),
    "contact": (ByEmail,),
    "account": (ByName, ByDomain),
}


class Located(Protocol):
    """A document whose keys have lines: a manifest, a set, or lfr.yaml (a policy's selector
    is read by the same rules as a set's)."""

    def origin_of(self, *path: str | int) -> Origin: ...


def build_desired(
    manifests: Iterable[LoadedManifest], schema: OrgSchema
) -> tuple[list[DesiredRecord], list[Problem]]:
    """Check every manifest against ``schema``; records with problems are left out.

    ``manifests`` is gone through once and none is kept (only its desired record and its
    identity's keys, for the same record managed twice): given a stream, each document can
    be let go as soon as it is checked."""
    records: list[DesiredRecord] = []
    problems: list[Problem] = []
    identities = _Identities()
    normalized = _Normalized(schema)
    for loaded in manifests:
        record, found = _build_one(loaded, schema, normalized)
        problems.extend(found)
        if record is not None and not found:
            records.append(record)
        problems.extend(identities.managed_twice(loaded))
    return records, cap_problems(sorted(set(problems)))


def cap_problems(problems: Sequence[Problem], cap: int = PROBLEMS_PER_KIND) -> list[Problem]:
    """``problems`` (sorted) with at most ``cap`` of one kind per file: the first ones, then one
    line, at the first left out, counting the rest. A kind is a message with its quoted values
    and numbers taken out ("partners: no account with name …"), so 10,000 unresolved
    references of one file are 20 lines and a count, not 10,000 lines."""
    seen: dict[tuple[str, str], int] = {}
    kept: list[Problem] = []
    left_out: dict[tuple[str, str], list[Problem]] = {}
    for problem in problems:
        kind = (problem.file, _VARIABLE.sub("…", problem.message))
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= cap:
            kept.append(problem)
        else:
            left_out.setdefault(kind, []).append(problem)
    for (file, template), rest in left_out.items():
        kept.append(
            Problem(
                Origin(file, rest[0].line),
                f"and {len(rest):,} more like this in this file, from this line on: {template}",
            )
        )
    return sorted(kept)


def _build_one(
    loaded: LoadedManifest, schema: OrgSchema, normalized: _Normalized
) -> tuple[DesiredRecord | None, list[Problem]]:
    manifest = loaded.manifest
    problems: list[Problem] = []

    def report(origin: Origin, message: str) -> None:
        problems.append(Problem(origin, message))

    fields = _fields(
        loaded, schema, manifest.spec.fields, ("spec", "fields"), report, normalize=normalized
    )
    fields = _with_implied_pipeline(schema, fields, normalized)
    relationships = _relationships(
        loaded, schema, manifest.spec.relationships, ("spec", "relationships"), report
    )
    match_fields: tuple[DesiredField, ...] = ()
    match_relationships: tuple[DesiredRelationship, ...] = ()
    if manifest.metadata.match is not None:
        selector = manifest.metadata.match
        field_part = {k: v for k, v in selector.items() if schema.relationship(k) is None}
        relationship_part = {
            k: v for k, v in selector.items() if schema.relationship(k) is not None
        }
        at = ("metadata", "match")
        match_fields = _fields(loaded, schema, field_part, at, report, True, normalized)
        parsed: dict[str, RelationshipSpec] = {}
        for key, value in relationship_part.items():
            spec = _as_relationship_spec(value)
            if spec is None:
                report(
                    loaded.origin_of("metadata", "match", key),
                    f"match {key!r}: expected an id or a reference like {{name: ...}}",
                )
            else:
                parsed[key] = spec
        match_relationships = _relationships(
            loaded, schema, parsed, ("metadata", "match"), report, True
        )
        if manifest.metadata.on_missing == "create":
            _check_create_requirements(
                schema, loaded, fields, relationships, match_fields, match_relationships, report
            )
    # What a write sends: spec; for a record that may be created, the match values too.
    # (a create leaves empty values out, and the check above names a missing $name)
    may_create = manifest.metadata.match is not None and manifest.metadata.on_missing == "create"
    if may_create:
        sent = [f for f in match_fields if not is_empty(f.value)]
        _check_written_fields(schema, [*sent, *fields], report, normalized)
    else:
        _check_written_fields(schema, fields, report, normalized)
    if problems:
        return None, problems
    return (
        DesiredRecord(
            name=manifest.metadata.name,
            origin=loaded.origin,
            identity_origin=loaded.origin_of(
                "metadata", "id" if manifest.metadata.id is not None else "match"
            ),
            id=manifest.metadata.id,
            match_fields=match_fields,
            match_relationships=match_relationships,
            on_missing=manifest.metadata.on_missing,
            fields=fields,
            relationships=relationships,
        ),
        [],
    )


def _fields(
    loaded: Located,
    schema: OrgSchema,
    values: dict[str, Any],
    at: tuple[str | int, ...],
    report: Any,
    in_match: bool = False,
    normalize: _Normalized | None = None,
) -> tuple[DesiredField, ...]:
    result: list[DesiredField] = []
    normalize = normalize or _Normalized(schema)
    writable = normalize.writable
    values = _stage_in_its_pipeline(schema, values)
    origin_at = _key_origins(loaded, at)
    for key, value in values.items():
        origin = origin_at(key)
        may_write = writable.get(key)
        if may_write is None:
            report(origin, _unknown(schema, key, "field"))
            continue
        if not may_write and not in_match:
            report(origin, f"field {key!r} is read-only: Lightfield sets it; remove it")
            continue
        try:
            normalized = normalize(key, value)
        except ValueProblem as problem:
            # Each bad item of a list at its own line; a scalar (or the whole list) at the key.
            for index, message in problem.items:
                report(loaded.origin_of(*at, key, index), f"{key}: {message}")
            if not problem.items:
                report(origin, f"{key}: {problem}")
            continue
        result.append(DesiredField(key, normalized, origin))
    return tuple(result)


# The values ``_Normalized`` remembers: a text, number or boolean, or a list of them.
_SCALARS = frozenset({str, int, float, bool})
_NOT_YET = object()
# At most this many (key, value) answers are kept: a run's distinct values, not every record's.
NORMALIZED_CACHE_SIZE = 16_384


class _Normalized:
    """``normalize_desired`` for one run, each (key, value) worked out once: 100,000 manifests
    write a few hundred distinct select labels, amounts and flags, each looked up, folded and
    checked 100,000 times otherwise. Only values of plain texts, numbers and booleans (and lists
    of them) are remembered, by type as well as value (``1``, ``1.0`` and ``true`` answer
    differently), and only answers that cannot change (hashable: never a mapping a caller could
    alter); a value with a problem is worked out again each time, for its own lines."""

    def __init__(self, schema: OrgSchema) -> None:
        self.schema = schema
        self.known: dict[tuple[Any, ...], Any] = {}
        # Each known field: whether a manifest may write it (False: read-only); unknown: absent.
        self.writable: dict[str, bool] = {
            key: not schema.field_read_only(key) for key in schema.definitions.field_definitions
        }
        self.parents: dict[str, str | None] | None = None  # stage id → its pipeline's

    def stage_parent(self, stage: Any) -> str | None:
        """The pipeline of the stage option ``stage`` (an id), or None: looked up in a map
        built once, not by going through every stage option for every manifest."""
        if self.parents is None:
            self.parents = {}
            for option in _options(self.schema, "$stage"):
                self.parents.setdefault(option.id, option.parent_id)  # the first, as before
        return self.parents.get(stage) if stage.__class__ is str else None

    def __call__(self, key: str, value: Any) -> Any:
        kind = value.__class__
        if kind in _SCALARS:
            index: tuple[Any, ...] = (key, kind, value)
        elif kind is list and all(item.__class__ in _SCALARS for item in value):
            index = (key, kind, *((item.__class__, item) for item in value))
        else:
            return normalize_desired(self.schema, key, value)
        found = self.known.get(index, _NOT_YET)
        if found is not _NOT_YET:
            return found
        found = normalize_desired(self.schema, key, value)
        if len(self.known) < NORMALIZED_CACHE_SIZE and _hashable(found):
            self.known[index] = found
        return found


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def set_keys(
    loaded: LoadedSet, schema: OrgSchema, report: Any
) -> tuple[tuple[DesiredField, ...], tuple[DesiredRelationship, ...]]:
    """An ``OpportunitySet``'s ``spec.fields`` / ``spec.relationships``, checked and normalised by
    the rules of a record manifest's spec."""
    spec = loaded.manifest.spec
    normalized = _Normalized(schema)
    fields = _with_implied_pipeline(
        schema,
        _fields(loaded, schema, spec.fields, ("spec", "fields"), report, normalize=normalized),
        normalized,
    )
    relationships = _relationships(
        loaded, schema, spec.relationships, ("spec", "relationships"), report
    )
    _check_written_fields(schema, fields, report, normalized)
    return fields, relationships


def selector_value(
    loaded: Located,
    at: tuple[str | int, ...],
    schema: OrgSchema,
    key: str,
    value: Any,
    report: Any,
) -> DesiredField | DesiredRelationship | None:
    """One alternative of a selector's key (a set's ``spec.selector``, a policy's ``selector``
    at ``at``), read as ``metadata.match`` reads its value: a field's canonical value, or a
    relationship's reference (None: reported)."""
    if schema.relationship(key) is None:
        found = _fields(loaded, schema, {key: value}, at, report, True)
        return found[0] if found else None
    spec = _as_relationship_spec(value)
    if spec is None:
        message = f"selector {key!r}: expected an id or a reference like {{name: ...}}"
        report(loaded.origin_of(*at, key), message)
        return None
    links = _relationships(loaded, schema, {key: spec}, at, report, True)
    return links[0] if links else None


def _stage_in_its_pipeline(schema: OrgSchema, values: dict[str, Any]) -> dict[str, Any]:
    """``$pipeline: Renewals`` beside ``$stage: Negotiation``, a label several pipelines share,
    reads as ``$stage: Renewals / Negotiation``."""
    stage, pipeline = values.get("$stage"), values.get("$pipeline")
    if not isinstance(stage, str) or not isinstance(pipeline, str) or "/" in stage:
        return values
    _, by_label = schema.option_index("$stage")
    if len(by_label.get(fold(stage), ())) < 2:
        return values
    pipeline_ids, _ = schema.option_index("$pipeline")
    name = schema.pipeline_name(pipeline) if pipeline in pipeline_ids else pipeline
    return {**values, "$stage": f"{name} / {stage}"}


def _with_implied_pipeline(
    schema: OrgSchema, fields: tuple[DesiredField, ...], normalized: _Normalized | None = None
) -> tuple[DesiredField, ...]:
    """A ``$stage`` without ``$pipeline`` also manages the pipeline it implies, at the line of
    the stage: a stage change that moves the record to another pipeline then shows (and is
    sent) as the pipeline change it is, not just as ``Proposal → Negotiation``."""
    by_key = {f.key: f for f in fields}
    stage = by_key.get("$stage")
    if stage is None or "$pipeline" in by_key or schema.field("$pipeline") is None:
        return fields
    parent = (normalized or _Normalized(schema)).stage_parent(stage.value)
    if parent is None:
        return fields
    return (*fields, DesiredField("$pipeline", parent, stage.origin))


def _key_origins(loaded: Located, at: tuple[str | int, ...]) -> Callable[[str], Origin]:
    """Where each key under ``at`` was written. A manifest's keys are nearly all on their own
    line: read straight from its line map (the hot path of a large plan); anything else (a
    key the map lacks, lfr.yaml's selector) through ``origin_of``."""
    if not isinstance(loaded, LoadedManifest | LoadedSet):
        return lambda key: loaded.origin_of(*at, key)
    file, lines = loaded.document.file, loaded.document.lines

    def origin(key: str) -> Origin:
        line = lines.get((*at, key))
        return loaded.origin_of(*at, key) if line is None else Origin(file, line)

    return origin


def _relationships(
    loaded: Located,
    schema: OrgSchema,
    values: dict[str, RelationshipSpec],
    at: tuple[str | int, ...],
    report: Any,
    in_match: bool = False,
) -> tuple[DesiredRelationship, ...]:
    result: list[DesiredRelationship] = []
    origin_at = _key_origins(loaded, at)
    for key, spec in values.items():
        origin = origin_at(key)
        definition = schema.relationship(key)
        if definition is None:
            report(origin, _unknown(schema, key, "relationship"))
            continue
        if schema.relationship_read_only(key) and not in_match:
            report(
                origin,
                f"relationship {key!r} is read-only: it is maintained from the other record",
            )
            continue
        cardinality: Literal["HAS_ONE", "HAS_MANY"] = "HAS_MANY" if definition.many else "HAS_ONE"
        if key in CREATE_REQUIRED_RELATIONSHIPS and spec is None:
            report(origin, f"relationship {key!r} cannot be cleared: Lightfield requires it")
            continue
        shaped = _shape(key, cardinality, spec, in_match)
        if isinstance(shaped, str):
            report(origin, shaped)
            continue
        exact, include, exclude = shaped
        item_origins: tuple[Origin, ...] = ()
        if isinstance(spec, list | Partial):  # (one reference is at the key's line)
            written = _item_origins(loaded, (*at, key), spec)
            item_origins = tuple(written.get(_ref_key(r), origin) for r in (*include, *exclude))
        bad = False
        for index, ref in enumerate((*include, *exclude)):
            message = _reference_problem(key, definition.object_type, ref)
            if message:
                where = item_origins[index] if item_origins else origin
                report(where, message)
                bad = True
        if bad:
            continue
        result.append(
            DesiredRelationship(
                key,
                cardinality,
                definition.object_type,
                exact,
                include,
                exclude,
                origin,
                item_origins,
            )
        )
    return tuple(result)


def _item_origins(
    loaded: Located, at: tuple[str | int, ...], spec: list[Reference] | Partial
) -> dict[str, Origin]:
    """The line of each reference of a relationship value, by reference (first one wins)."""
    paths: list[tuple[tuple[str | int, ...], Reference]]
    if isinstance(spec, list):
        paths = [((*at, index), ref) for index, ref in enumerate(spec)]
    else:
        paths = [((*at, "include", i), ref) for i, ref in enumerate(spec.include)]
        paths += [((*at, "exclude", i), ref) for i, ref in enumerate(spec.exclude)]
    # Every item has its own line in a loaded document (else the nearest key's line is given).
    origins: dict[str, Origin] = {}
    for path, ref in paths:
        origins.setdefault(_ref_key(ref), loaded.origin_of(*path))
    return origins


def _shape(
    key: str, cardinality: str, spec: RelationshipSpec, in_match: bool
) -> tuple[bool, tuple[Reference, ...], tuple[Reference, ...]] | str:
    """(exact, include, exclude) for a relationship value, or what is wrong with it."""
    if cardinality == "HAS_ONE":
        if isinstance(spec, list | Partial):
            return (
                f"relationship {key!r} is HAS_ONE: give one id or reference, or null "
                "(a list or include/exclude only fits HAS_MANY)"
            )
        return True, (() if spec is None else (spec,)), ()
    if spec is None:
        return True, (), ()  # null on HAS_MANY: exactly none
    if isinstance(spec, Partial):
        if in_match:
            return f"match {key!r}: include/exclude cannot select a record"
        overlap = set(map(_ref_key, spec.include)) & set(map(_ref_key, spec.exclude))
        if overlap:
            return f"relationship {key!r}: the same reference is both included and excluded"
        return False, tuple(spec.include), tuple(spec.exclude)
    if isinstance(spec, list):
        return True, tuple(_unique(spec)), ()
    return (
        f"relationship {key!r} is HAS_MANY: give a list (exactly these), or "
        "{include: [...]} / {exclude: [...]} to manage only some links"
    )


def _reference_problem(key: str, object_type: str, ref: Reference) -> str | None:
    if isinstance(ref, str):
        # An id that cannot name a record of the target type: the API would answer
        # relationship_entity_missing (a wrong prefix shows up there, lightfield-api.md §2.3).
        prefix = ID_PREFIXES.get(object_type)
        if prefix and ref.startswith(prefix) and len(ref) > len(prefix) and visible(ref):
            return None  # the common case, first
        other = _TYPE_OF_PREFIX.get(ref[: ref.find("_") + 1])
        if prefix and other and other != object_type:
            return f"relationship {key!r} links {object_type}s, but {ref!r} is a {other} id"
        if not visible(ref) or (prefix and (not ref.startswith(prefix) or ref == prefix)):
            spelled = f" ({prefix}...)" if prefix else ""
            return f"relationship {key!r} links {object_type}s: {ref!r} is not an id{spelled}"
        return None
    allowed = REFERENCE_KINDS.get(object_type, ())
    if isinstance(ref, allowed):
        return None
    spelled = ", ".join(f"{{{LOOKUP_WORDS[kind]}: ...}}" for kind in allowed) or "an id"
    return f"relationship {key!r} links {object_type}s: use {spelled}, not {_ref_key(ref)}"


def _check_create_requirements(
    schema: OrgSchema,
    loaded: LoadedManifest,
    fields: tuple[DesiredField, ...],
    relationships: tuple[DesiredRelationship, ...],
    match_fields: tuple[DesiredField, ...],
    match_relationships: tuple[DesiredRelationship, ...],
    report: Any,
) -> None:
    given_fields = {f.key for f in (*fields, *match_fields) if not is_empty(f.value)}
    given_relationships = {r.key for r in (*relationships, *match_relationships) if r.include}
    # The API's own list, plus what the org's definitions mark ``required`` (a deployment that
    # needs ``$stage`` on create says so there: docs/api-contract.md §4).
    required = [
        *CREATE_REQUIRED_FIELDS,
        *(k for k in schema.required_fields() if k not in CREATE_REQUIRED_FIELDS),
    ]
    missing = [k for k in required if k not in given_fields] + [
        k for k in CREATE_REQUIRED_RELATIONSHIPS if k not in given_relationships
    ]
    if missing:
        report(
            loaded.origin_of("metadata", "match"),
            f"a manifest that may create its record (match, onMissing: create) must set "
            f"{' and '.join(missing)} in spec or match; or set onMissing: error",
        )


def _check_written_fields(
    schema: OrgSchema,
    fields: Sequence[DesiredField],
    report: Any,
    normalized: _Normalized | None = None,
) -> None:
    """Rules across fields that the API applies to a write: required fields stay set, and
    ``$pipeline`` is only a hint that comes with its ``$stage`` (lightfield-api.md §2.6)."""
    # (spec after match: spec wins, as in the create body)
    by_key = {f.key: f for f in fields if f.key in _CROSS_FIELD_KEYS}
    if not by_key:
        return
    for key in UNCLEARABLE_FIELDS:
        given = by_key.get(key)
        if given is not None and (given.value is None or _blank(given.value)):
            report(given.origin, f"{key} cannot be empty: Lightfield requires it")
    pipeline, stage = by_key.get("$pipeline"), by_key.get("$stage")
    if pipeline is None:
        return
    if stage is None or pipeline.value is None:
        report(
            pipeline.origin,
            "$pipeline is only a hint for $stage: write the $stage (its pipeline follows), "
            "or both together",
        )
        return
    if (normalized or _Normalized(schema)).stage_parent(stage.value) != pipeline.value:
        stages = _options(schema, "$stage")
        label = next((o.label for o in stages if o.id == stage.value), stage.value)
        report(
            pipeline.origin,
            f"$stage {label!r} is not a stage of pipeline {schema.pipeline_name(pipeline.value)!r}",
        )


def _options(schema: OrgSchema, key: str) -> Sequence[Any]:
    definition = schema.field(key)
    return () if definition is None else definition.type_configuration.options


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


class _Identities:
    """The name and the record (``id``, or the ``match`` selector) of each manifest seen, with
    where the first manifest wrote it: a few short strings each, not the manifest."""

    def __init__(self) -> None:
        # (file, line): a tuple costs a third of an ``Origin``, and 100,000 manifests have 200,000.
        self.first: dict[tuple[str, str], tuple[str, int]] = {}

    def managed_twice(self, loaded: LoadedManifest) -> list[Problem]:
        """Problems for ``loaded`` naming a record (or a name) a manifest seen before names."""
        metadata = loaded.manifest.metadata
        identities = [("name", metadata.name)]
        if metadata.id is not None:
            identities.append(("id", metadata.id))
        else:
            identities.append(("match", repr(sorted(map(repr, (metadata.match or {}).items())))))
        problems: list[Problem] = []
        document = loaded.document
        for kind, value in identities:
            here = (document.file, document.line_of(("metadata", kind)))
            first = self.first.setdefault((kind, value), here)
            if first is here:
                continue
            what = {"name": f"metadata.name {value!r}", "id": f"record {value}"}.get(
                kind, "the same match selector"
            )
            message = f"{what} is managed twice: here and at {Origin(*first)}"
            problems.append(Problem(Origin(*here), message))
        return problems


def _as_relationship_spec(value: Any) -> RelationshipSpec | None:
    """A match selector's relationship value, parsed like ``spec.relationships`` values."""
    if isinstance(value, str) and value:
        return value
    return lookup_of(value)


def _unknown(schema: OrgSchema, key: str, what: str) -> str:
    hints = schema.suggest(key)
    suggestion = f" (did you mean {' or '.join(repr(h) for h in hints)}?)" if hints else ""
    return f"unknown {what} {key!r}{suggestion}"


def _ref_key(ref: Reference) -> str:
    if isinstance(ref, str):
        return ref
    ((kind, value),) = ref.model_dump().items()
    return f"{{{kind}: {value}}}"


def _unique(refs: Sequence[Reference]) -> list[Reference]:
    seen: set[str] = set()
    result = []
    for ref in refs:
        if _ref_key(ref) not in seen:
            seen.add(_ref_key(ref))
            result.append(ref)
    return result
