"""The pure core of a policy's selector scope (``core.scope``), on the frozen demo definitions:
the record as a change leaves it (cleared keys absent, lists as the API returns them, the
status a new stage implies) and the before-or-after rule."""

from __future__ import annotations

from typing import Any

from reconciler.core.impact import pipeline_facts
from reconciler.core.plan import Action, FieldChange, RecordChange, RelationshipChange
from reconciler.core.policy_settings import PipelineSettings
from reconciler.core.records import Record
from reconciler.core.scope import in_scope, planned_record
from reconciler.core.sets import DesiredSet, read_selector
from reconciler.core.vocabulary import Origin
from tests.support.definitions import demo_schema

SCHEMA = demo_schema()
FACTS = pipeline_facts(SCHEMA, PipelineSettings())
PROPOSAL, CLOSED_WON = "opt_01vy1dv62xqxe6w7dzkxb6jgy", "opt_01hfctgke96vmk1rgwh36v8a3"
OPEN, WON = "opt_01cwx3gsq49scb4qzwqqqp3z9", "opt_01p21zy8dn3apdwpqacerpy1w"
PLATFORM, SUPPORT = "opt_015mct1hbjh4z408vb887fa01", "opt_01wn41p84xt2dpvvfzh0877cy"
AT = Origin("m.yaml", 1)
LIVE = Record.model_validate(
    {
        "id": "opp_1",
        "fields": {
            "$stage": {"value": PROPOSAL},
            "$opportunityStatus": {"value": OPEN},
            "priority": {"value": 2},
        },
        "relationships": {"$owner": {"values": ["mem_jane"]}},
    }
)


class _Lines:
    def origin_of(self, *path: str | int) -> Origin:
        return Origin("lfr.yaml", len(path))


def selector(written: dict[str, Any]) -> DesiredSet:
    problems: list[str] = []
    _, status, terms, links = read_selector(
        written, _Lines(), ("policies", 0, "selector"), SCHEMA, lambda o, m: problems.append(m)
    )
    assert problems == []
    return DesiredSet("rule", AT, False, status, terms, links, (), ())


def change(
    action: Action = "update", *fields: FieldChange, **links: tuple[str, ...]
) -> RecordChange:
    relationships = tuple(
        RelationshipChange(key.replace("_", "$"), "HAS_ONE", (), after, after, (), AT)
        for key, after in links.items()
    )
    return RecordChange(
        action,
        "r",
        "opp_1" if action == "update" else None,
        AT,
        fields=fields,
        relationships=relationships,
    )


def test_the_record_a_change_leaves() -> None:
    after = planned_record(
        LIVE,
        change(
            "update",
            FieldChange("priority", 2, None, AT),
            FieldChange("products", None, (PLATFORM, SUPPORT), AT),
            FieldChange("$stage", PROPOSAL, CLOSED_WON, AT),
            _owner=("mem_priya",),
        ),
        SCHEMA,
        FACTS,
    )
    assert "priority" not in after.fields  # cleared: absent, as the API shows it
    assert after.value("products") == [PLATFORM, SUPPORT]
    assert after.value("$stage") == CLOSED_WON
    # Lightfield derives the status from the stage by an outcome the API does not show.
    assert after.value("$opportunityStatus") is None
    assert after.related_ids("$owner") == ["mem_priya"]
    assert LIVE.value("priority") == 2  # the live record is left as it was


def test_a_create_has_only_the_keys_it_sets() -> None:
    after = planned_record(
        None, change("create", FieldChange("priority", None, 1, AT)), SCHEMA, FACTS
    )
    assert dict(after.fields).keys() == {"priority"}
    assert after.relationships == {}


def test_in_scope_before_or_after() -> None:
    proposal = selector({"$stage": "Proposal"})
    won = selector({"status": "closed"})
    moved = change("update", FieldChange("$stage", PROPOSAL, CLOSED_WON, AT))
    assert in_scope(proposal, moved, LIVE, SCHEMA, FACTS)  # before
    assert in_scope(won, moved, LIVE, SCHEMA, FACTS)  # after
    untouched = change("update", FieldChange("priority", 2, 3, AT))
    assert not in_scope(won, untouched, LIVE, SCHEMA, FACTS)
    # After a stage change the status is unknown: a status term is taken to hold (fail closed),
    # even where lfr.yaml's reading of the stage says open.
    assert in_scope(won, change("update", FieldChange("$stage", PROPOSAL, PROPOSAL + "x", AT)),
                    LIVE, SCHEMA, FACTS)  # fmt: skip
    created = change("create", FieldChange("$stage", None, CLOSED_WON, AT))
    assert in_scope(won, created, None, SCHEMA, FACTS)
    assert not in_scope(proposal, created, None, SCHEMA, FACTS)
    owner = selector({"$owner": "mem_jane"})
    assert in_scope(owner, change("update", _owner=("mem_priya",)), LIVE, SCHEMA, FACTS)
    assert not in_scope(owner, change("create", _owner=("mem_priya",)), None, SCHEMA, FACTS)
