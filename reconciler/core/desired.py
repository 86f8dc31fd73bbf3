"""Manifests × the org's definitions → desired state, or every problem with ``file:line``.

Owns the rules that need both a manifest and the org (architecture.md §3), record by record:
a manifest's ``spec`` and ``metadata.match`` checked (their fields by ``core.desired_fields``:
unknown and read-only keys, value types and select labels; their relationships by
``core.desired_links``: shapes and reference kinds), the keys a create needs, the same record
managed twice, and how many problems of one kind are listed. Pure: no I/O; ``runs.resolve``
then turns the references into ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .desired_fields import (
    UNCLEARABLE_FIELDS,
    Normalized,
    check_written_fields,
    fields_of,
    with_implied_pipeline,
)
from .desired_links import (
    CREATE_REQUIRED_RELATIONSHIPS,
    REFERENCE_KINDS,
    LinkRules,
    as_relationship_spec,
    links_of,
)
from .manifest_lines import Located
from .model import (
    DesiredField,
    DesiredRecord,
    DesiredRelationship,
    LoadedManifest,
    LoadedSet,
    RelationshipSpec,
)
from .org import OrgSchema, is_empty
from .vocabulary import Origin, Problem

__all__ = [
    "REFERENCE_KINDS",
    "UNCLEARABLE_FIELDS",
    "Located",
    "build_desired",
    "cap_problems",
    "selector_value",
    "set_keys",
]

# What a create must carry (lightfield-api.md §2.2; its relationships: ``core.desired_links``).
CREATE_REQUIRED_FIELDS = ("$name",)
# At most this many problems of one kind are listed per file (cap_problems).
PROBLEMS_PER_KIND = 20
# The parts of a message that vary between problems of one kind: quoted values, numbers.
_VARIABLE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\d[\d,.]*")


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
    normalized, rules = Normalized(schema), LinkRules(schema)
    for loaded in manifests:
        record, found = _build_one(loaded, schema, normalized, rules)
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
    loaded: LoadedManifest, schema: OrgSchema, normalized: Normalized, rules: LinkRules
) -> tuple[DesiredRecord | None, list[Problem]]:
    manifest = loaded.manifest
    problems: list[Problem] = []

    def report(origin: Origin, message: str) -> None:
        problems.append(Problem(origin, message))

    fields = fields_of(
        loaded, schema, manifest.spec.fields, ("spec", "fields"), report, normalize=normalized
    )
    fields = with_implied_pipeline(schema, fields, normalized)
    relationships = links_of(
        loaded, schema, manifest.spec.relationships, ("spec", "relationships"), report, rules=rules
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
        match_fields = fields_of(loaded, schema, field_part, at, report, True, normalized)
        parsed: dict[str, RelationshipSpec] = {}
        for key, value in relationship_part.items():
            spec = as_relationship_spec(value)
            if spec is None:
                report(
                    loaded.origin_of("metadata", "match", key),
                    f"match {key!r}: expected an id or a reference like {{name: ...}}",
                )
            else:
                parsed[key] = spec
        match_relationships = links_of(loaded, schema, parsed, at, report, True, rules)
        if manifest.metadata.on_missing == "create":
            _check_create_requirements(
                schema, loaded, fields, relationships, match_fields, match_relationships, report
            )
    # What a write sends: spec; for a record that may be created, the match values too.
    # (a create leaves empty values out, and the check above names a missing $name)
    may_create = manifest.metadata.match is not None and manifest.metadata.on_missing == "create"
    if may_create:
        sent = [f for f in match_fields if not is_empty(f.value)]
        check_written_fields(schema, [*sent, *fields], report, normalized)
    else:
        check_written_fields(schema, fields, report, normalized)
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


def set_keys(
    loaded: LoadedSet, schema: OrgSchema, report: Any
) -> tuple[tuple[DesiredField, ...], tuple[DesiredRelationship, ...]]:
    """An ``OpportunitySet``'s ``spec.fields`` / ``spec.relationships``, checked and normalised by
    the rules of a record manifest's spec."""
    spec = loaded.manifest.spec
    normalized = Normalized(schema)
    fields = with_implied_pipeline(
        schema,
        fields_of(loaded, schema, spec.fields, ("spec", "fields"), report, normalize=normalized),
        normalized,
    )
    relationships = links_of(loaded, schema, spec.relationships, ("spec", "relationships"), report)
    check_written_fields(schema, fields, report, normalized)
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
        found = fields_of(loaded, schema, {key: value}, at, report, True)
        return found[0] if found else None
    spec = as_relationship_spec(value)
    if spec is None:
        message = f"selector {key!r}: expected an id or a reference like {{name: ...}}"
        report(loaded.origin_of(*at, key), message)
        return None
    links = links_of(loaded, schema, {key: spec}, at, report, True)
    return links[0] if links else None


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
