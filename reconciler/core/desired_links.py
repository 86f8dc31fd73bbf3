"""A manifest's ``relationships`` (or a set's, or a selector's relationship keys) against the
org's definitions: unknown and read-only keys, the shape a cardinality takes (HAS_ONE: one
reference or null; HAS_MANY: a list, or include / exclude), and references that cannot name a
record of the target type (an id of another type's prefix, a lookup the type has no field for).
Each problem at the line of its own item. Pure; called by ``core.desired``; ``runs.resolve``
then turns the references into ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from .desired_fields import unknown
from .manifest_lines import Located, Path_, path_origins
from .model import (
    LOOKUP_WORDS,
    ByDomain,
    ByEmail,
    ByName,
    DesiredRelationship,
    Lookup,
    Partial,
    Reference,
    RelationshipSpec,
    lookup_of,
)
from .org import ID_PREFIXES, OrgSchema
from .records import RelationshipDefinition
from .value_types import visible
from .vocabulary import Origin

# What a create must carry (lightfield-api.md §2.2); it cannot be cleared either.
CREATE_REQUIRED_RELATIONSHIPS = ("$account",)
_TYPE_OF_PREFIX = {prefix: kind for kind, prefix in ID_PREFIXES.items()}
# Which lookups can find which object type (architecture.md §3).
REFERENCE_KINDS: dict[str, tuple[type[Lookup], ...]] = {
    "member": (ByEmail,),
    "contact": (ByEmail,),
    "account": (ByName, ByDomain),
}


class LinkRules:
    """Each relationship key's definition and whether a manifest may write it, looked up once
    a run instead of once a manifest (absent: not a relationship of the org)."""

    def __init__(self, schema: OrgSchema) -> None:
        self.known: dict[str, tuple[RelationshipDefinition, bool]] = {
            key: (definition, schema.relationship_read_only(key))
            for key, definition in schema.definitions.relationship_definitions.items()
        }


def links_of(
    loaded: Located,
    schema: OrgSchema,
    values: dict[str, RelationshipSpec],
    at: tuple[str | int, ...],
    report: Any,
    in_match: bool = False,
    rules: LinkRules | None = None,
) -> tuple[DesiredRelationship, ...]:
    """The relationships of ``values`` (written under ``at``) checked; each problem reported
    at its line (a reference's own line in a list) and the relationship left out."""
    result: list[DesiredRelationship] = []
    known = (rules or LinkRules(schema)).known
    origin_of = path_origins(loaded)
    for key, spec in values.items():
        origin = origin_of((*at, key))
        found = known.get(key)
        if found is None:
            report(origin, unknown(schema, key, "relationship"))
            continue
        definition, read_only = found
        if read_only and not in_match:
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
            written = _item_origins(origin_of, (*at, key), spec)
            item_origins = tuple(written.get(ref_key(r), origin) for r in (*include, *exclude))
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
    origin_of: Callable[[Path_], Origin], at: Path_, spec: list[Reference] | Partial
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
        key = ref_key(ref)
        if key not in origins:
            origins[key] = origin_of(path)
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
        overlap = set(map(ref_key, spec.include)) & set(map(ref_key, spec.exclude))
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
    return f"relationship {key!r} links {object_type}s: use {spelled}, not {ref_key(ref)}"


def as_relationship_spec(value: Any) -> RelationshipSpec | None:
    """A match selector's relationship value, parsed like ``spec.relationships`` values."""
    if isinstance(value, str) and value:
        return value
    return lookup_of(value)


def ref_key(ref: Reference) -> str:
    """One spelling per reference: the id, or ``{kind: value}``."""
    if isinstance(ref, str):
        return ref
    ((kind, value),) = ref.model_dump().items()
    return f"{{{kind}: {value}}}"


def _unique(refs: Sequence[Reference]) -> list[Reference]:
    seen: set[str] = set()
    result = []
    for ref in refs:
        key = ref_key(ref)
        if key not in seen:
            seen.add(key)
            result.append(ref)
    return result
