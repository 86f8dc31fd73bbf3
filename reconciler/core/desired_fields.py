"""A manifest's ``fields`` (or a set's, or a selector's field keys) against the org's
definitions: unknown and read-only keys, each value checked and normalised by its type (once a
run per distinct value, ``Normalized``), the pipeline a ``$stage`` implies, and the rules across
fields a write must keep (required fields stay set, ``$pipeline`` comes with its ``$stage``).
Pure; called by ``core.desired``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .manifest_lines import Located, path_origins
from .model import DesiredField
from .org import OrgSchema, fold, normalize_desired
from .value_types import ValueProblem

# The fields no write may empty (the API answers "cannot be cleared"; a blank name is no name).
UNCLEARABLE_FIELDS = ("$name", "$stage")
_CROSS_FIELD_KEYS = frozenset({*UNCLEARABLE_FIELDS, "$pipeline"})


def fields_of(
    loaded: Located,
    schema: OrgSchema,
    values: dict[str, Any],
    at: tuple[str | int, ...],
    report: Any,
    in_match: bool = False,
    normalize: Normalized | None = None,
) -> tuple[DesiredField, ...]:
    """The fields of ``values`` (written under ``at``) checked and normalised; each problem
    reported at its line and the field left out."""
    result: list[DesiredField] = []
    normalize = normalize or Normalized(schema)
    writable = normalize.writable
    values = _stage_in_its_pipeline(schema, values)
    origin_of = path_origins(loaded)
    for key, value in values.items():
        origin = origin_of((*at, key))
        may_write = writable.get(key)
        if may_write is None:
            report(origin, unknown(schema, key, "field"))
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


# The values ``Normalized`` remembers: a text, number or boolean, or a list of them.
_SCALARS = frozenset({str, int, float, bool})
_NOT_YET = object()
# At most this many (key, value) answers are kept: a run's distinct values, not every record's.
NORMALIZED_CACHE_SIZE = 16_384


class Normalized:
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
            for option in options(self.schema, "$stage"):
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


def with_implied_pipeline(
    schema: OrgSchema, fields: tuple[DesiredField, ...], normalized: Normalized | None = None
) -> tuple[DesiredField, ...]:
    """A ``$stage`` without ``$pipeline`` also manages the pipeline it implies, at the line of
    the stage: a stage change that moves the record to another pipeline then shows (and is
    sent) as the pipeline change it is, not just as ``Proposal → Negotiation``."""
    by_key = {f.key: f for f in fields}
    stage = by_key.get("$stage")
    if stage is None or "$pipeline" in by_key or schema.field("$pipeline") is None:
        return fields
    parent = (normalized or Normalized(schema)).stage_parent(stage.value)
    if parent is None:
        return fields
    return (*fields, DesiredField("$pipeline", parent, stage.origin))


def check_written_fields(
    schema: OrgSchema,
    fields: Sequence[DesiredField],
    report: Any,
    normalized: Normalized | None = None,
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
    if (normalized or Normalized(schema)).stage_parent(stage.value) != pipeline.value:
        stages = options(schema, "$stage")
        label = next((o.label for o in stages if o.id == stage.value), stage.value)
        report(
            pipeline.origin,
            f"$stage {label!r} is not a stage of pipeline {schema.pipeline_name(pipeline.value)!r}",
        )


def options(schema: OrgSchema, key: str) -> Sequence[Any]:
    definition = schema.field(key)
    return () if definition is None else definition.type_configuration.options


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def unknown(schema: OrgSchema, key: str, what: str) -> str:
    """The problem of an unknown field or relationship key, with the nearest known keys."""
    hints = schema.suggest(key)
    suggestion = f" (did you mean {' or '.join(repr(h) for h in hints)}?)" if hints else ""
    return f"unknown {what} {key!r}{suggestion}"
