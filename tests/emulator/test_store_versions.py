"""The store's record versions (what a lagging list serves) are read from a workspace file when
first needed, not when it is opened: ``lfr plan --local`` on 10,000 records never needs them,
and decoding them doubled the store's start. A write or a lagging list after a restart still
sees every version the file holds."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from reconciler.emulator.store import Store
from reconciler.emulator.stored import Record

ORG, KIND = "org_demo", "opportunity"


def _record(store: Store, rid: str, at: float, name: str) -> Record:
    return Record(rid, ORG, KIND, store.next_seq(), at, at, fields={"$name": name})


def _names(store: Store, as_of: float | None = None) -> list[str]:
    return [r.fields["$name"] for r in store.records(ORG, KIND, as_of=as_of)]


def test_a_restart_keeps_every_version_for_a_lagging_list_and_a_write_joins_them(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "workspace.sqlite3")
    first = Store(db)
    record = _record(first, "opp_1", 100.0, "Old")
    first.insert(record, 100.0)
    renamed = record.snapshot()
    renamed.fields["$name"], renamed.updated_at = "New", 200.0
    first.save(renamed, 200.0)
    first.close()

    again = Store(db)
    assert _names(again) == ["New"]
    # A write before any lagging read: its version goes after the two read from the file.
    newest = renamed.snapshot()
    newest.fields["$name"], newest.updated_at = "Newest", 300.0
    again.save(newest, 300.0)
    assert [_names(again, t) for t in (50.0, 150.0, 250.0, 350.0)] == [
        [],
        ["Old"],
        ["New"],
        ["Newest"],
    ]
    again.close()
    third = Store(db)
    assert [_names(third, t) for t in (150.0, 250.0, 350.0)] == [["Old"], ["New"], ["Newest"]]
    third.close()


def test_opening_a_workspace_file_decodes_its_records_but_not_their_versions(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "workspace.sqlite3")
    seeded = Store(db)
    fields = {f"field{i}": f"value {i}" for i in range(10)}
    seeded.insert_many(
        [
            Record(f"opp_{n}", ORG, KIND, seeded.next_seq(), 100.0, 100.0, False, dict(fields))
            for n in range(2_000)
        ]
    )
    seeded.close()

    tracemalloc.start()
    try:
        store = Store(db)
        opened, _ = tracemalloc.get_traced_memory()
        assert len(store.records(ORG, KIND, as_of=150.0)) == 2_000  # the versions, read now
        lagged, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    store.close()
    # Each record has one version as large as itself: read at the open, the lagging list would
    # have found them all in memory already.
    assert lagged - opened > 0.6 * opened
