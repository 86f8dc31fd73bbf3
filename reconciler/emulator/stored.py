"""What the emulator stores: records, org settings, key grants, history entries, stored answers.

Owns the plain data types every part of the emulator passes around (no I/O): a record's state and
its copy-on-write ``snapshot``, an org's settings, what an API key grants, one field-history
entry, and the stored answer of an Idempotency-Key. store.py persists them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    """One record's state. ``fields`` holds only set (non-null) values; ids in relationships."""

    id: str
    org: str
    object_type: str
    seq: int
    created_at: float
    updated_at: float
    trashed: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    relationships: dict[str, list[str]] = field(default_factory=dict)

    def snapshot(self) -> Record:
        return Record(
            self.id,
            self.org,
            self.object_type,
            self.seq,
            self.created_at,
            self.updated_at,
            self.trashed,
            copy.deepcopy(self.fields),
            {k: list(v) for k, v in self.relationships.items()},
        )


@dataclass(frozen=True)
class OrgSettings:
    id: str
    allow_array_replace: bool = True
    require_stage_on_create: bool = False


@dataclass(frozen=True)
class KeyGrant:
    org: str
    scopes: tuple[str, ...]  # empty = full access


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: float
    value: Any
    is_create: bool


@dataclass(frozen=True)
class StoredOutcome:
    """The stored 2xx answer of an Idempotency-Key: ``scope`` is (org, operation, key)."""

    scope: tuple[str, str, str]
    created: float
    fingerprint: str | None
    status: int
    body: bytes
    headers: dict[str, str]
