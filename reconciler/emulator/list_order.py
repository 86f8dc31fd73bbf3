"""The order lists show records in (newest first: createdAt, then seq), kept between calls.

A plan pages through thousands of records 25 at a time; sorting and scanning every record of
the type for each page made paging 10,000 records quadratic (most of a local plan's time). A
record's sort key never changes, so the sorted ids hold until a record is added, and the list
without filters holds until any record is added or saved. store.py owns the records and tells
this cache of every change, under its lock.
"""

from __future__ import annotations

from collections.abc import Mapping

from .stored import Record


class ListOrder:
    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], list[str]] = {}
        self._listed: dict[tuple[str, str, bool], tuple[Record, ...]] = {}

    def clear(self) -> None:
        self._ids.clear()
        self._listed.clear()

    def added(self, org: str, object_type: str) -> None:
        self._ids.pop((org, object_type), None)
        self._listed.clear()

    def saved(self) -> None:
        self._listed.clear()

    def ids(
        self, org: str, object_type: str, ids: list[str], records: Mapping[str, Record]
    ) -> list[str]:
        """``ids`` (one type's, in insertion order) newest first."""
        ordered = self._ids.get((org, object_type))
        if ordered is None:
            ordered = sorted(
                ids, key=lambda rid: (records[rid].created_at, records[rid].seq), reverse=True
            )
            self._ids[(org, object_type)] = ordered
        return ordered

    def listed(
        self,
        org: str,
        object_type: str,
        trashed: bool,
        ids: list[str],
        records: Mapping[str, Record],
    ) -> tuple[Record, ...]:
        """The records of one type that are (or are not) trashed, newest first."""
        found = self._listed.get((org, object_type, trashed))
        if found is None:
            ordered = map(records.__getitem__, self.ids(org, object_type, ids, records))
            found = tuple(r for r in ordered if r.trashed == trashed)
            self._listed[(org, object_type, trashed)] = found
        return found
