"""A policy's scope by selector (``lfr.yaml``'s ``policies[].selector``): whether a plan's
record is judged by the rule.

Owns the meaning of the scope: a record is in it when the selector (the grammar of an
``OpportunitySet``'s, ``core.sets.read_selector``; matched by ``core.sets.selects``) matches
the record as it is live before the plan OR as the plan leaves it, so a change that moves a
deal into the scope or out of it is judged either way. A create has no before: only the state
it is created with counts, where a key the create does not set is absent. ``$opportunityStatus``
is Lightfield's to set from the stage: after a planned stage change it is the status the new
stage's outcome implies (``core.impact.PipelineFacts``, lfr.yaml's ``pipeline.won`` / ``lost``).

Pure: the runs read the live records (``runs.plan``'s ``Outcome.live``, a saved plan's fresh
reads) and resolve the selector's references (member emails, account names) into ids.
"""

from __future__ import annotations

from typing import Any

from .impact import PipelineFacts
from .org import OrgSchema, fold
from .plan import RecordChange
from .records import FieldValue, Record, RelationshipValue
from .sets import STATUS_KEY, DesiredSet, selects


def in_scope(
    scope: DesiredSet,
    change: RecordChange,
    live: Record | None,
    schema: OrgSchema,
    facts: PipelineFacts,
) -> bool:
    """Whether the selector ``scope`` (references resolved) matches ``change``'s record before
    the plan (``live``; None for a create) or after it."""
    if live is not None and selects(scope, live, schema):
        return True
    return selects(scope, planned_record(live, change, schema, facts), schema)


def planned_record(
    live: Record | None, change: RecordChange, schema: OrgSchema, facts: PipelineFacts
) -> Record:
    """The record as ``change`` leaves it: ``live`` (nothing for a create) with each changed
    field's and relationship's value after the plan, and the status a new stage implies."""
    fields = dict(live.fields) if live is not None else {}
    for field in change.fields:
        if field.after is None:
            fields.pop(field.key, None)
        else:
            fields[field.key] = FieldValue(value=_wire(field.after))
        if field.key == facts.stage:
            status = _status_of(field.after, schema, facts)
            if status is None:
                fields.pop(STATUS_KEY, None)  # unknown: no stale status is kept
            else:
                fields[STATUS_KEY] = FieldValue(value=status)
    relationships = dict(live.relationships) if live is not None else {}
    for link in change.relationships:
        relationships[link.key] = RelationshipValue(
            cardinality=link.cardinality, values=list(link.after)
        )
    base = live if live is not None else Record(id=change.id or "")
    return base.model_copy(update={"fields": fields, "relationships": relationships})


def _status_of(stage: Any, schema: OrgSchema, facts: PipelineFacts) -> str | None:
    """The ``$opportunityStatus`` option (id) the stage option ``stage`` implies."""
    outcome = facts.outcomes.get(str(stage)) if stage is not None else None
    definition = schema.field(STATUS_KEY)
    if outcome is None or definition is None:
        return None
    options = definition.type_configuration.options
    return next((o.id for o in options if fold(o.label) == outcome), None)


def _wire(value: Any) -> Any:
    """A canonical value (``core.org``) as the API would return it: lists, not tuples."""
    if isinstance(value, tuple | list):
        return [_wire(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)
