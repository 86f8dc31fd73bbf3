"""A policy's scope by selector (``lfr.yaml``'s ``policies[].selector``): whether a plan's
record is judged by the rule.

Owns the meaning of the scope: a record is in it when the selector (the grammar of an
``OpportunitySet``'s, ``core.sets.read_selector``; matched by ``core.sets.selects``) matches
the record as it is live before the plan OR as the plan leaves it, so a change that moves a
deal into the scope or out of it is judged either way. A create has no before: only the state
it is created with counts, where a key the create does not set is absent. ``$opportunityStatus``
is Lightfield's to set from the stage, by each stage's own outcome, which the API does not show
(lfr.yaml's ``pipeline.won`` / ``lost`` are lfr's reading, not the org's): after a planned stage
change the status is unknown, and a selector's ``status`` is taken to hold on that side (the
record is judged: a guess must not take a record out of a rule's scope).

Pure: the runs read the live records (``runs.plan``'s ``Outcome.live``, a saved plan's fresh
reads) and resolve the selector's references (member emails, account names) into ids.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .impact import PipelineFacts
from .org import OrgSchema
from .plan import RecordChange
from .records import FieldValue, Record, RelationshipValue
from .sets import STATUS_KEY, DesiredSet, selects

STAGE_KEY = "$stage"  # what Lightfield derives $opportunityStatus from


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
    after = planned_record(live, change, schema, facts)
    if scope.status is not None and _moves_stage(change, facts):
        scope = replace(scope, status=None)  # the status after is unknown: it may hold
    return selects(scope, after, schema)


def _moves_stage(change: RecordChange, facts: PipelineFacts) -> bool:
    return any(f.key in (STAGE_KEY, facts.stage) for f in change.fields)


def planned_record(
    live: Record | None, change: RecordChange, schema: OrgSchema, facts: PipelineFacts
) -> Record:
    """The record as ``change`` leaves it: ``live`` (nothing for a create) with each changed
    field's and relationship's value after the plan; after a stage change, no status (the
    org derives it; lfr cannot tell which)."""
    fields = dict(live.fields) if live is not None else {}
    for field in change.fields:
        if field.after is None:
            fields.pop(field.key, None)
        else:
            fields[field.key] = FieldValue(value=_wire(field.after))
        if field.key in (STAGE_KEY, facts.stage):
            fields.pop(STATUS_KEY, None)  # unknown: no stale status is kept
    relationships = dict(live.relationships) if live is not None else {}
    for link in change.relationships:
        relationships[link.key] = RelationshipValue(
            cardinality=link.cardinality, values=list(link.after)
        )
    base = live if live is not None else Record(id=change.id or "")
    return base.model_copy(update={"fields": fields, "relationships": relationships})


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
