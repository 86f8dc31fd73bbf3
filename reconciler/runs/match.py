"""The opportunities a ``metadata.match`` selector picks, on fresh reads (architecture.md §2,
§3), and the near-name warning a planned create from such a manifest gets.

Owns how a selector is asked of the API: list filters narrow the candidates (each value type's
operator; text is compared by the selector case-insensitively with whitespace collapsed, which a
server's `equal` may not do, so an empty answer is asked again with looser filters), and the
selector itself is checked on a fresh ``GET`` of each candidate (``get_active``), as the list
index lags writes; that read (gone, trashed: None) is also the one ``runs.fetch`` and ``runs.sets``
confirm a listed record with. Called by ``runs.fetch`` (the plan's live state),
``runs.saved_plan`` (a saved plan's creates checked again) and ``runs.sets`` (a set's members,
with ``match_filters``).
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Sequence
from typing import Any, Literal

from ..adapters.client import LightfieldClient
from ..core.errors import NotFound
from ..core.model import DesiredRecord
from ..core.org import OrgSchema, fold, normalize_live, same_value
from ..core.records import Record
from ..core.vocabulary import Problem


async def get_active(client: LightfieldClient, record_id: str) -> Record | None:
    """The record, or None when it is gone: not found, or returned with a trash marker (never
    a record to update: docs/api-contract.md §4)."""
    try:
        record = await client.retrieve("opportunities", record_id)
    except NotFound:
        return None
    return None if record.trashed else record


async def find_matching(
    client: LightfieldClient, selector: dict[str, Any], schema: OrgSchema
) -> list[Record]:
    """Every opportunity ``selector`` (``DesiredRecord.selector``) picks, on fresh reads."""
    filters = match_filters(selector, schema)
    found = await _confirmed(client, await client.list_all("opportunities", filters=filters))
    found = [r for r in found if _selected(selector, r, schema)]
    others = match_filters(selector, schema, text="loose")
    if found or others == filters:
        return found
    # The selector compares text case-insensitively with whitespace collapsed, which a server's
    # text `equal` may not do ("Globex  renewal" typed in a manifest or in the CRM): before a
    # create is planned, look again with looser filters (those on other values alone, or the
    # text's first word as a prefix), reading afresh only what the list shows as selected.
    listed = await client.list_all("opportunities", filters=others)
    candidates = [r for r in listed if _selected(selector, r, schema)]
    return [r for r in await _confirmed(client, candidates) if _selected(selector, r, schema)]


async def _confirmed(client: LightfieldClient, listed: Sequence[Record]) -> list[Record]:
    """Fresh reads of listed records (the list lags writes); those gone since are dropped."""
    fresh = await asyncio.gather(*(get_active(client, record.id) for record in listed))
    return [record for record in fresh if record is not None]


# How alike two names must be (difflib's ratio, folded) for a planned create to be flagged as
# perhaps a record that exists under a slightly different name.
NEAR_RATIO = 0.75


async def near_records(client: LightfieldClient, desired: DesiredRecord) -> Problem | None:
    """A warning when a planned create's name is close to an opportunity on the same account
    (``Globex renewal 2027`` beside ``Globex renewal``, a renamed record): the user may mean
    that record, which ``metadata.id`` (``lfr pin``) would manage instead."""
    fields = {f.key: f.value for f in (*desired.match_fields, *desired.fields)}
    links = {r.key: r.include for r in (*desired.match_relationships, *desired.relationships)}
    name, accounts = fields.get("$name"), links.get("$account", ())
    if not isinstance(name, str) or len(accounts) != 1:
        return None
    listed = await client.list_all("opportunities", filters=[("$account", str(accounts[0]))])
    wanted = fold(name)
    near = [
        r
        for r in listed
        if isinstance(r.value("$name"), str)
        and difflib.SequenceMatcher(None, wanted, fold(str(r.value("$name")))).ratio() >= NEAR_RATIO
    ]
    if not near:
        return None
    names = ", ".join(f"{r.id} ({r.value('$name')!r})" for r in near[:5])
    return Problem(
        desired.origin,
        f"{desired.name}: creates {name!r}, but the same account has {names}; if that is the "
        "record meant, set metadata.id to it (or fix the match) instead of creating another",
    )


# The list filter operator each value type supports for a match (lightfield-api.md §1.4); types with
# none (multi-select, address, ...) are not filtered, and the fresh read decides.
_FILTER_OPERATOR = {
    "TEXT": "equal",
    "NUMBER": "equal",
    "CURRENCY": "equal",
    "DATETIME": "equal",
    "CHECKBOX": "equal",
    "SINGLE_SELECT": "equal",
    "SOCIAL_HANDLE": "equal",
    "EMAIL": "contains",
    "URL": "contains",
    "TELEPHONE": "contains",
}


# Text types whose list filter is `equal`: a server may compare them exactly, while
# ``_selected`` folds case and whitespace (as it does every text value).
_TEXT_TYPES = frozenset({"TEXT", "SOCIAL_HANDLE"})


def match_filters(
    selector: dict[str, Any], schema: OrgSchema, *, text: Literal["equal", "loose"] = "equal"
) -> list[tuple[str, str]]:
    """List filters narrowing the candidates; the selector itself is checked on fresh reads.

    ``text="loose"`` drops the `equal` filters on text values when another filter narrows the
    list, else spells each as `startsWith` its first word: both find a value written with other
    whitespace or case, which `equal` may miss."""
    filters: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for key, value in selector.items():
        if schema.relationship(key) is not None:
            filters.extend((key, record_id) for record_id in value)
            continue
        definition = schema.field(key)
        kind = definition.value_type if definition else ""
        operator = _FILTER_OPERATOR.get(kind)
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        if operator is None or not isinstance(value, str | int | float | bool):
            continue
        if text == "loose" and kind in _TEXT_TYPES and isinstance(value, str):
            words = value.split()
            if words:
                texts.append((f"{key}[startsWith]", words[0]))
            continue
        spelled = str(value).lower() if isinstance(value, bool) else str(value)
        filters.append((f"{key}[{operator}]", spelled))
    return filters if filters or text == "equal" else texts


def _selected(selector: dict[str, Any], record: Record, schema: OrgSchema) -> bool:
    """Whether a fresh record satisfies the selector, compared as the diff compares values
    (canonical forms; text case-insensitively with whitespace collapsed)."""
    for key, wanted in selector.items():
        if schema.relationship(key) is not None:
            if not set(wanted) <= set(record.related_ids(key)):
                return False
            continue
        value = normalize_live(schema.field(key), record.value(key))
        if isinstance(value, str) and isinstance(wanted, str):
            if fold(value) != fold(wanted):
                return False
        elif not same_value(wanted, value):
            return False
    return True
