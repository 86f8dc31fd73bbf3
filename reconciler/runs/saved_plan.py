"""A saved plan (``lfr plan --out``) made ready to apply: the one place that handles one.

Owns the gate a saved plan passes before any write: the file read and checked whole
(``adapters.plan_file`` reads it, ``core.saved_plan`` owns its strict shape and that it sends only
what it shows), checked against the org's definitions, shown with the org's labels (not the
file's), and refused as stale when any planned-from live value moved (a set's selector keys
among them: the record may have left the selection) or a planned create's ``metadata.match``
now selects a record. Never prints; a refusal is a ``StalePlan``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.plan_file import read_saved_plan
from ..core.diff import observed
from ..core.errors import LfrError, NotFound
from ..core.org import OrgSchema, option_labels
from ..core.plan import Plan, RecordChange
from ..core.records import Record
from ..core.saved_plan import check_against_org
from .match import find_matching


class StalePlan(LfrError):
    """The CRM changed since the saved plan was made; ``details`` says what moved."""


def is_saved_plan(source: Path) -> bool:
    """``apply``'s source is a saved plan (a JSON file) rather than a manifest directory."""
    return source.is_file() and source.suffix == ".json"


async def open_saved_plan(
    client: LightfieldClient,
    source: Path,
    *,
    target: str,
    reads: dict[str, Record] | None = None,
) -> tuple[Plan, OrgSchema]:
    """The saved plan at ``source``, checked whole before any request that could write, and the
    org's definitions it was checked against; ``reads`` (given) gets each updated record's
    fresh read by id (the guardrails judge a selector's scope by it)."""
    plan = read_saved_plan(source, target=target)
    schema = OrgSchema(await client.definitions("opportunities"))
    check_against_org(str(source), plan, schema)
    plan = with_org_labels(plan, schema)
    moved = await check_saved_plan(client, plan, schema, reads)
    if moved:
        stale = StalePlan(f"the saved plan {source} is stale; the CRM changed since it was made:")
        stale.details = (
            *(f"  {line}" for line in moved),
            f"Run `lfr plan --out {source}` again, review it, then apply.",
        )
        raise stale
    return plan, schema


def with_org_labels(plan: Plan, schema: OrgSchema) -> Plan:
    """A saved plan shown with labels from the org, not from the file: a select value is shown
    by its label alone, so a forged label would show one stage and send another. Related
    records are shown by id (their names in the file cannot be checked without reading them)."""
    return replace(plan, labels=option_labels(schema))


async def check_saved_plan(
    client: LightfieldClient, plan: Plan, schema: OrgSchema, reads: dict[str, Record] | None = None
) -> list[str]:
    """What changed in the CRM since a saved plan was made, one line each: every planned-from
    live value that moved (``check_stale``), and every create whose ``metadata.match``
    now selects a record (someone made it since: creating it again would be a duplicate)."""

    async def taken(change: RecordChange) -> list[str]:
        found = await find_matching(client, change.match, schema)
        if not found:
            return []
        ids = ", ".join(record.id for record in found[:10])
        return [
            f"{change.name}: planned as a create, but metadata.match now selects {ids} (made "
            "since the plan, by someone or by an earlier apply of this plan)"
        ]

    creates = [r for r in plan.records if r.action == "create" and r.match]
    moved, *matched = await asyncio.gather(
        check_stale(client, plan, schema, reads), *(taken(change) for change in creates)
    )
    return moved + [line for lines in matched for line in lines]


async def check_stale(
    client: LightfieldClient, plan: Plan, schema: OrgSchema, reads: dict[str, Record] | None = None
) -> list[str]:
    """For a saved plan: every record it touches re-read; each moved value described. Each
    read goes into ``reads`` (when given), by id."""
    touched = [r for r in plan.records if r.action == "update" and r.id]

    async def moved(change: RecordChange) -> list[str]:
        assert change.id is not None
        try:
            live = await client.retrieve("opportunities", change.id)
        except NotFound:
            return [f"{change.name} ({change.id}): the record no longer exists"]
        if reads is not None:
            reads[change.id] = live
        now = observed(live, list(change.planned_from), schema)
        return [
            f"{change.name} ({change.id}) {key}: planned from {_short(change.planned_from[key])}, "
            f"now {_short(now[key])}{_selector_of(change, key)}"
            for key in change.planned_from
            if now[key] != change.planned_from[key]
        ]

    found = await asyncio.gather(*(moved(change) for change in touched))
    return [line for lines in found for line in lines]


def _selector_of(change: RecordChange, key: str) -> str:
    """For a key only a set's selector read: the record may no longer be the set's."""
    names = change.selected_by.get(key)
    if names is None:
        return ""
    sets = f"the selectors of sets {names}" if ", " in names else f"set {names}'s selector"
    return f" ({sets}: the record may no longer match)"


def _short(value: object) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 80 else text[:77] + "..."
