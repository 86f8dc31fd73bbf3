"""The wire shape of a record: what retrieve, list, create and update answer with.

Owns ``render``: id, timestamps, the emulator's ``httpLink``, ``externalId`` (not on members),
every defined field (``null`` when unset) and every defined relationship (``[]`` when empty), in
definition order. Called by operations.py and listing.py.
"""

from __future__ import annotations

from typing import Any

from .definitions import ObjectDefs
from .stored import Record
from .values import format_timestamp

HTTP_LINK_BASE = "https://lightfield.emulator.invalid"


def render(defs: ObjectDefs, record: Record, *, mark_trashed: bool = False) -> dict[str, Any]:
    """The wire record (``defs`` are the definitions of the record's org and type);
    ``mark_trashed``: a trashed record says so (``"trashed": true``)."""
    out: dict[str, Any] = {
        "id": record.id,
        "createdAt": format_timestamp(record.created_at),
        "updatedAt": format_timestamp(record.updated_at),
        "httpLink": f"{HTTP_LINK_BASE}/{record.org}/{defs.plural}/{record.id}",
    }
    if record.object_type != "member":
        out["externalId"] = None
    if mark_trashed and record.trashed:
        out["trashed"] = True
    out["fields"] = {
        key: {"value": record.fields.get(key), "valueType": f.value_type}
        for key, f in defs.fields.items()
    }
    out["relationships"] = {
        key: {
            "cardinality": r.cardinality,
            "objectType": r.object_type,
            "values": list(record.relationships.get(key, [])),
        }
        for key, r in defs.relationships.items()
    }
    return out
