"""Wire models: absent and null read alike, extra keys pass, the wrong shape is rejected."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.core.records import (
    AuthInfo,
    Definitions,
    FieldHistoryPage,
    ListPage,
    Record,
    trash_marker,
)


def test_record_reads_values_and_tolerates_nulls_and_extras() -> None:
    record = Record.model_validate(
        {
            "id": "opp_1",
            "createdAt": "2026-05-01T16:00:00.000Z",
            "updatedAt": None,
            "futureKey": {"anything": True},
            "fields": {
                "$name": {"valueType": "TEXT", "value": "Acme renewal"},
                "$amount": {"valueType": "CURRENCY", "value": 120000},
                "nextSteps": {"valueType": "TEXT", "value": None},
                "gone": None,
                "$address": {"valueType": "ADDRESS", "value": {"city": "Oslo", "postalCode": "1"}},
            },
            "relationships": {
                "$account": {"cardinality": "HAS_ONE", "objectType": "account", "values": ["a"]},
                "$champion": {"cardinality": "HAS_ONE", "objectType": "contact", "values": None},
                "parent": {
                    "cardinality": "HAS_MANY",
                    "objectType": "opportunity",
                    "values": ["opp_2", "opp_3"],
                    "directions": {
                        "asSource": {"cardinality": "HAS_ONE", "values": ["opp_2"]},
                        "asDestination": {"cardinality": "HAS_MANY", "values": ["opp_3"]},
                    },
                },
            },
        }
    )
    assert record.value("$name") == "Acme renewal"
    amount = record.value("$amount")
    assert amount == 120000 and isinstance(amount, int)  # numbers are not coerced
    assert record.value("nextSteps") is None
    assert record.value("gone") is None
    assert record.value("never-there") is None
    assert record.value("$address") == {"city": "Oslo", "postalCode": "1"}
    assert record.related_ids("$account") == ["a"]
    assert record.related_ids("$champion") == []
    assert record.related_ids("$nothing") == []
    parent = record.relationships["parent"]
    assert parent.directions is not None and parent.directions.as_source is not None
    assert parent.directions.as_source.values == ["opp_2"]
    assert record.updated_at is None


def test_record_without_fields_or_relationships_is_empty_not_an_error() -> None:
    record = Record.model_validate({"id": "mem_1", "fields": None})
    assert record.fields == {} and record.relationships == {}


@pytest.mark.parametrize("payload", [{}, {"error": {"type": "bad_request"}}, {"id": None}])
def test_a_body_without_an_id_is_not_a_record(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Record.model_validate(payload)


def test_list_page_requires_data() -> None:
    page = ListPage.model_validate({"object": "list", "data": [{"id": "a"}], "totalCount": 7})
    assert page.total_count == 7
    assert ListPage.model_validate({"data": []}).total_count is None
    with pytest.raises(ValidationError):
        ListPage.model_validate({"object": "list", "totalCount": 0})


def test_definitions_keep_select_options_and_dependent_select_metadata() -> None:
    definitions = Definitions.model_validate(
        {
            "objectType": "opportunity",
            "fieldDefinitions": {
                "$stage": {
                    "id": "ad_1",
                    "slug": "stage",
                    "label": "Stage",
                    "valueType": "SINGLE_SELECT",
                    "system": True,
                    "readOnly": False,
                    "typeConfiguration": {
                        "parentFieldKey": "$pipeline",
                        "options": [
                            {"id": "opt_1", "label": "Prospecting", "parentId": "pd_1"},
                            {"id": "opt_2", "label": "Won", "description": None},
                        ],
                    },
                },
                "summary": {"label": "Summary", "valueType": "MARKDOWN", "readOnly": True},
                "$amount": {
                    "label": "Amount",
                    "valueType": "CURRENCY",
                    "typeConfiguration": {"currency": "USD"},
                    "readOnly": None,
                },
                "$email": {
                    "label": "Email",
                    "valueType": "EMAIL",
                    "typeConfiguration": {"multipleValues": True, "unique": True},
                },
                "$linkedIn": {
                    "label": "LinkedIn",
                    "valueType": "SOCIAL_HANDLE",
                    "typeConfiguration": {"handleService": "LINKEDIN"},
                },
            },
            "relationshipDefinitions": {
                "$account": {"cardinality": "HAS_ONE", "label": "Account", "objectType": "account"},
                "parent": {
                    "cardinality": "HAS_MANY",
                    "label": "Parent",
                    "objectType": "opportunity",
                    "directions": {
                        "asSource": {"cardinality": "HAS_ONE", "label": "Parent"},
                        "asDestination": {"cardinality": "HAS_MANY", "label": "Children"},
                    },
                },
            },
        }
    )
    stage = definitions.field_definitions["$stage"]
    config = stage.type_configuration
    assert config.parent_field_key == "$pipeline"
    assert [(o.id, o.label, o.parent_id) for o in config.options] == [
        ("opt_1", "Prospecting", "pd_1"),
        ("opt_2", "Won", None),
    ]
    assert definitions.field_definitions["summary"].read_only is True
    assert definitions.field_definitions["summary"].type_configuration.options == []
    assert definitions.field_definitions["$amount"].read_only is False
    assert definitions.field_definitions["$amount"].type_configuration.currency == "USD"
    assert definitions.field_definitions["$email"].type_configuration.multiple_values is True
    assert definitions.field_definitions["$linkedIn"].type_configuration.handle_service == (
        "LINKEDIN"
    )
    parent = definitions.relationship_definitions["parent"]
    assert parent.directions is not None and parent.directions.as_destination is not None
    assert parent.directions.as_destination.label == "Children"


def test_history_and_auth() -> None:
    page = FieldHistoryPage.model_validate(
        {
            "data": [
                {
                    "value": "opt_2",
                    "valueType": "SINGLE_SELECT",
                    "displayValue": "Won",
                    "recordedAt": "2026-04-02T10:00:00.000Z",
                    "isCreate": None,
                }
            ],
            "hasMore": True,
            "nextCursor": "c1",
        }
    )
    assert page.data[0].display_value == "Won" and page.data[0].is_create is False
    assert page.next_cursor == "c1"
    auth = AuthInfo.model_validate(
        {"active": True, "tokenType": "api_key", "subjectType": "user", "scopes": None}
    )
    assert auth.scopes == []
    with pytest.raises(ValidationError):
        AuthInfo.model_validate({"scopes": []})


def test_models_populate_by_name_and_dump_camel_case() -> None:
    record = Record(id="opp_1", created_at="t", http_link="https://x")
    assert record.model_dump()["httpLink"] == "https://x"
    assert Record.model_validate(record.model_dump()) == record


@pytest.mark.parametrize(
    ("marker", "trashed"),
    [
        ({"trashed": True}, True),
        ({"isDeleted": True}, True),
        ({"status": "Trashed"}, True),
        ({"status": "deleted"}, True),
        ({"deletedAt": "2026-01-01T00:00:00.000Z"}, True),
        ({"trashedAt": "2026-01-01T00:00:00.000Z"}, True),
        ({"trashed": False, "deletedAt": None, "status": "active"}, False),
        ({}, False),
    ],
)
def test_every_trash_marker_a_deployment_may_send_is_read(
    marker: dict[str, object], trashed: bool
) -> None:
    record = Record.model_validate({"id": "opp_1", **marker})
    assert record.trashed is trashed
    assert (trash_marker({"id": "opp_1", **marker}) is not None) is trashed


def test_a_definition_may_mark_a_field_required() -> None:
    wire = {
        "fieldDefinitions": {
            "$stage": {"label": "Stage", "valueType": "SINGLE_SELECT", "required": True},
            "$name": {"label": "Name", "valueType": "TEXT"},
        }
    }
    definitions = Definitions.model_validate(wire)
    assert [k for k, d in definitions.field_definitions.items() if d.required] == ["$stage"]
