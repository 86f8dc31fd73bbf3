"""A parsed record stays small: plan holds one per managed record (10,000 in the benchmark).

Every record carries every defined field and relationship (22 + 10 for an opportunity); as
pydantic models those entries cost ~480 bytes each and a record ~23 KiB. They are slotted
dataclasses now (~10 KiB a record), whose keys, value types, cardinalities and object types are
shared between records (~5.5 KiB a record), and still read the wire the same way.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

from reconciler.core.records import Record
from reconciler.emulator import Emulator
from tests.support.demo import ACME_RENEWAL


def _wire() -> bytes:
    emu = Emulator()
    return json.dumps(emu.records.retrieve("org_demo", "opportunity", ACME_RENEWAL)).encode()


def test_a_parsed_opportunity_takes_under_8_kib() -> None:
    wire = _wire()
    Record.model_validate_json(wire)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [Record.model_validate_json(wire) for _ in range(200)]
        per_record = (tracemalloc.get_traced_memory()[0] - before) / len(held)
    finally:
        tracemalloc.stop()
    assert len(held[0].fields) >= 20 and len(held[0].relationships) >= 10
    assert per_record < 8 * 1024, per_record


def test_entries_read_the_wire_as_before() -> None:
    record = Record.model_validate(
        {
            "id": "opp_x",
            "fields": {
                "$amount": {"value": 5, "valueType": "CURRENCY", "newKey": 1},
                "$nextSteps": None,
            },
            "relationships": {
                "$owner": {"cardinality": "HAS_ONE", "objectType": "member", "values": ["mem_a"]},
                "$contact": {"values": None},
                "partners": None,
            },
        }
    )
    assert record.value("$amount") == 5
    assert record.fields["$amount"].value_type == "CURRENCY"
    assert record.value("$nextSteps") is None
    assert record.related_ids("$owner") == ["mem_a"]
    assert record.relationships["$owner"].object_type == "member"
    assert record.related_ids("$contact") == []
    assert record.related_ids("partners") == []


def test_the_texts_every_record_repeats_are_held_once() -> None:
    wire = _wire()
    first, second = Record.model_validate_json(wire), Record.model_validate_json(wire)
    for key in ("$amount", "$stage"):
        (one,) = (k for k in first.fields if k == key)
        (other,) = (k for k in second.fields if k == key)
        assert one is other
        assert first.fields[key].value_type is second.fields[key].value_type
    one_link, other_link = first.relationships["$owner"], second.relationships["$owner"]
    assert one_link.cardinality is other_link.cardinality
    assert one_link.object_type is other_link.object_type
    assert next(iter(first.relationships)) is next(iter(second.relationships))


def test_a_record_given_text_of_a_str_subclass_still_reads_it() -> None:
    class Label(str):
        pass

    record = Record.model_validate(
        {"id": "opp_x", "fields": {Label("$amount"): {"value": 5, "valueType": Label("CURRENCY")}}}
    )
    assert record.fields["$amount"].value_type == "CURRENCY"
    assert record.value("$amount") == 5
