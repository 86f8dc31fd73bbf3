"""Opportunity update through the official SDK: partial writes of every writable field of the
demo (one of each writable value type), null clearing, select options by label and by id, and the
relationship operations (``add`` / ``remove`` on HAS_MANY, ``replace`` with an id or null on
HAS_ONE, and ``replace`` with an array on HAS_MANY, which the seed update contract documents as
"set the whole relationship").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import lightfield
import pytest
from lightfield import Lightfield
from lightfield.types import OpportunityDefinitionsResponse
from lightfield.types.opportunity_definitions_response import FieldDefinitions
from pydantic import BaseModel

from tests.support.demo import WRITABLE_VALUE_TYPES
from tests.support.sdk import Demo, create_opportunity, error_of, linked, parse_timestamp, unique

# Maintained from the other side (SDK docstrings); never written by a client.
READ_ONLY_RELATIONSHIPS = frozenset({"$task", "$note", "$meeting"})
ARRAY_TYPES = frozenset({"EMAIL", "TELEPHONE", "URL", "MULTI_SELECT"})
SOCIAL_URLS = {
    "TWITTER": "https://x.com/contract_test",
    "LINKEDIN": "https://linkedin.com/in/contract-test",
    "FACEBOOK": "https://facebook.com/contract.test",
    "INSTAGRAM": "https://www.instagram.com/contract_test",
}


# Written in their own tests: the stage / pipeline pair has its own rules, and $name is required.
SPECIAL_FIELDS = frozenset({"$name", "$stage", "$pipeline"})


def _writable_fields(definitions: OpportunityDefinitionsResponse) -> dict[str, FieldDefinitions]:
    return {
        key: field
        for key, field in definitions.field_definitions.items()
        if key not in SPECIAL_FIELDS and not field.read_only
    }


def _sample(field: FieldDefinitions) -> tuple[Any, Any]:
    """A value to write into ``field`` and the normalized value a read must then show."""
    config = field.type_configuration
    many = bool(config.multiple_values)
    options = config.options or []
    match field.value_type:
        case "TEXT":
            return "Contract text", "Contract text"
        case "NUMBER":
            return 42.5, 42.5
        case "CURRENCY":
            return 1234.56, 1234.56
        case "CHECKBOX":
            return True, True
        case "DATETIME":
            # Written with an offset, stored and read back as the same instant in UTC.
            return "2026-03-16T12:00:00+02:00", datetime.fromisoformat("2026-03-16T10:00:00+00:00")
        case "EMAIL":
            emails = ["ada@example.com", "grace@example.com"] if many else ["ada@example.com"]
            return (emails if many else emails[0]), set(emails)
        case "TELEPHONE":
            return (["+12025551234"] if many else "+12025551234"), {"+12025551234"}
        case "URL":
            return (["https://example.com/contract"] if many else "https://example.com/contract"), {
                "https://example.com/contract"
            }
        # Written the SDK way (snake_case keys), read in the wire's camelCase.
        case "ADDRESS":
            address = {"street": "1 Main St", "city": "Springfield", "country": "US"}
            return {**address, "postal_code": "12345"}, {**address, "postalCode": "12345"}
        case "FULL_NAME":
            return {"first_name": "Ada", "last_name": "Lovelace"}, {
                "firstName": "Ada",
                "lastName": "Lovelace",
            }
        case "SOCIAL_HANDLE":
            url = SOCIAL_URLS[config.handle_service or "LINKEDIN"]
            return url, url
        case "SINGLE_SELECT":
            assert options, f"select field {field.label!r} has no options"
            return options[-1].label, options[-1].id
        case "MULTI_SELECT":
            assert len(options) >= 2, f"multi-select {field.label!r} needs two options"
            # One option by label and one by id: both are accepted, both read back as ids.
            return [options[0].label, options[1].id], {options[0].id, options[1].id}
    raise AssertionError(f"no sample for value type {field.value_type}")


def _normalized(value_type: str, value: Any) -> Any:
    """A read value in the form ``_sample`` states expectations in."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True)
    if value_type == "DATETIME":
        return parse_timestamp(str(value))
    if value_type in ARRAY_TYPES:
        return set(value) if isinstance(value, list) else {value}
    if value_type in ("NUMBER", "CURRENCY"):
        return float(value)
    return value


def test_the_demo_has_writable_fields_of_every_writable_value_type(
    definitions: OpportunityDefinitionsResponse,
) -> None:
    types = {field.value_type for field in _writable_fields(definitions).values()}
    # MARKDOWN and HTML are AI-maintained, read-only types (lightfield-api.md §3).
    assert types == WRITABLE_VALUE_TYPES, types


def test_each_writable_field_round_trips_and_clears(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])
    name = created.fields["$name"].value
    failures: dict[str, str] = {}

    for key, field in _writable_fields(definitions).items():
        written, expected = _sample(field)
        updated = sdk.opportunity.update(created.id, fields={key: written})
        got = updated.fields.get(key)
        if got is None or got.value_type != field.value_type:
            failures[key] = f"after writing {written!r}: field block {got!r}"
            continue
        if _normalized(field.value_type, got.value) != expected:
            failures[key] = f"wrote {written!r}, read {got.value!r}, expected {expected!r}"
            continue
        if field.type_configuration.multiple_values and not isinstance(got.value, list):
            failures[key] = f"a multipleValues field read back a scalar {got.value!r}"
            continue
        if updated.fields["$name"].value != name:
            failures[key] = "a partial update of one field changed $name"
            continue
        stored = sdk.opportunity.retrieve(created.id).fields[key]
        if _normalized(field.value_type, stored.value) != expected:
            failures[key] = f"retrieve after update shows {stored.value!r}"
            continue

        cleared = sdk.opportunity.update(created.id, fields={key: None}).fields.get(key)
        # Absent and null mean the same (digest 1.5); an empty array is "no values".
        if cleared is not None and cleared.value not in (None, []):
            failures[key] = f"null did not clear it: {cleared.value!r}"

    assert not failures, failures


def test_update_is_partial_and_null_clears_only_the_named_field(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    text_keys = [k for k, f in _writable_fields(definitions).items() if f.value_type == "TEXT"]
    assert text_keys, "the demo should have a writable TEXT field"
    number_keys = [k for k, f in _writable_fields(definitions).items() if f.value_type == "NUMBER"]
    text_key, number_key = text_keys[0], number_keys[0]
    created = create_opportunity(
        sdk, demo.account_ids[0], fields={text_key: "keep me", number_key: 7}
    )

    renamed = sdk.opportunity.update(created.id, fields={"$name": "Renamed " + created.id})
    assert renamed.fields["$name"].value == "Renamed " + created.id
    assert renamed.fields[text_key].value == "keep me"
    assert renamed.fields[number_key].value == 7

    cleared = sdk.opportunity.update(created.id, fields={number_key: None})
    assert cleared.fields.get(number_key) is None or cleared.fields[number_key].value is None
    assert cleared.fields[text_key].value == "keep me"
    assert cleared.relationships["$account"].values == [demo.account_ids[0]]


def _select_field(definitions: OpportunityDefinitionsResponse, value_type: str) -> str:
    for key, field in _writable_fields(definitions).items():
        if field.value_type == value_type and len(field.type_configuration.options or []) >= 2:
            return key
    raise AssertionError(f"the demo should have a writable {value_type} field with two options")


def test_single_select_by_label_and_by_id_reads_back_the_id(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    key = _select_field(definitions, "SINGLE_SELECT")
    options = definitions.field_definitions[key].type_configuration.options or []
    created = create_opportunity(sdk, demo.account_ids[0])

    by_label = sdk.opportunity.update(created.id, fields={key: options[0].label})
    assert by_label.fields[key].value == options[0].id
    by_id = sdk.opportunity.update(created.id, fields={key: options[1].id})
    assert by_id.fields[key].value == options[1].id


def test_multi_select_takes_labels_and_ids_and_reads_back_ids(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    key = _select_field(definitions, "MULTI_SELECT")
    options = definitions.field_definitions[key].type_configuration.options or []
    created = create_opportunity(sdk, demo.account_ids[0])

    updated = sdk.opportunity.update(created.id, fields={key: [options[0].label, options[1].id]})

    value = updated.fields[key].value
    assert isinstance(value, list)
    assert set(value) == {options[0].id, options[1].id}


def test_stage_by_label_reads_back_the_option_id(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    options = definitions.field_definitions["$stage"].type_configuration.options or []
    labels = [option.label.casefold() for option in options]
    target = next(option for option in options if labels.count(option.label.casefold()) == 1)
    created = create_opportunity(sdk, demo.account_ids[0])

    updated = sdk.opportunity.update(created.id, fields={"$stage": target.label})

    assert updated.fields["$stage"].value == target.id


def test_a_pipeline_hint_resolves_a_shared_stage_label(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    stages = definitions.field_definitions["$stage"].type_configuration.options or []
    pipelines = definitions.field_definitions["$pipeline"].type_configuration.options or []
    labels = [stage.label for stage in stages]
    shared = next(stage.label for stage in stages if labels.count(stage.label) > 1)
    created = create_opportunity(sdk, demo.account_ids[0])

    # The hint may name the pipeline or give its id (lightfield-api.md §2.6); it is not stored by
    # itself.
    for pipeline in pipelines:
        owned = [s.id for s in stages if s.label == shared and s.parent_id == pipeline.id]
        if not owned:
            continue
        for hint in (pipeline.label, pipeline.id):
            updated = sdk.opportunity.update(
                created.id, fields={"$pipeline": hint, "$stage": shared}
            )
            assert updated.fields["$stage"].value == owned[0], hint
            if "$pipeline" in updated.fields:
                assert updated.fields["$pipeline"].value in (None, pipeline.id)


def test_a_pipeline_without_a_stage_is_rejected(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    pipelines = definitions.field_definitions["$pipeline"].type_configuration.options or []
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises((lightfield.BadRequestError, lightfield.UnprocessableEntityError)):
        sdk.opportunity.update(created.id, fields={"$pipeline": pipelines[-1].id})

    stage = sdk.opportunity.retrieve(created.id).fields["$stage"].value
    assert stage == created.fields["$stage"].value


def _has_many_contacts(definitions: OpportunityDefinitionsResponse) -> str:
    for key, relationship in definitions.relationship_definitions.items():
        if (
            key not in READ_ONLY_RELATIONSHIPS
            and relationship.cardinality == "HAS_MANY"
            and relationship.object_type == "contact"
            and relationship.directions is None
        ):
            return key
    raise AssertionError("the demo should have a writable HAS_MANY relationship to contacts")


def test_has_many_add_and_remove(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    key = _has_many_contacts(definitions)
    c1, c2, c3 = demo.contact_ids[:3]
    created = create_opportunity(sdk, demo.account_ids[0])

    added = sdk.opportunity.update(created.id, relationships={key: {"add": [c1, c2]}})
    block = added.relationships[key]
    assert (block.cardinality, block.object_type) == ("HAS_MANY", "contact")
    assert set(block.values) == {c1, c2}

    removed = sdk.opportunity.update(created.id, relationships={key: {"remove": c1}})
    assert set(removed.relationships[key].values) == {c2}

    one_more = sdk.opportunity.update(created.id, relationships={key: {"add": c3}})
    assert set(one_more.relationships[key].values) == {c2, c3}

    both = sdk.opportunity.update(created.id, relationships={key: {"add": c1, "remove": [c2, c3]}})
    assert both.relationships[key].values == [c1]
    assert sdk.opportunity.retrieve(created.id).relationships[key].values == [c1]


def test_has_many_replace_with_an_array_sets_the_whole_relationship(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    key = _has_many_contacts(definitions)
    c1, c2, c3 = demo.contact_ids[:3]
    created = create_opportunity(sdk, demo.account_ids[0], relationships={key: [c1, c2]})
    assert set(created.relationships[key].values) == {c1, c2}

    # The SDK 0.20 types ``replace`` as one id or null; the seed update contract (and the older
    # Go SDK) accept an array meaning "exactly these ids", which architecture.md §5 relies on.
    operation = cast(Any, {"replace": [c2, c3]})
    updated = sdk.opportunity.update(created.id, relationships={key: operation})

    assert set(updated.relationships[key].values) == {c2, c3}


def test_has_one_replace_switches_and_null_clears(sdk: Lightfield, demo: Demo) -> None:
    m1, m2 = demo.member_ids[:2]
    created = create_opportunity(sdk, demo.account_ids[0], relationships={"$owner": m1})
    assert created.relationships["$owner"].values == [m1]

    switched = sdk.opportunity.update(created.id, relationships={"$owner": {"replace": m2}})
    owner = switched.relationships["$owner"]
    assert (owner.cardinality, owner.object_type, owner.values) == ("HAS_ONE", "member", [m2])

    cleared = sdk.opportunity.update(created.id, relationships={"$owner": {"replace": None}})
    assert linked(cleared, "$owner") == []
    assert cleared.relationships["$account"].values == [demo.account_ids[0]]


def test_has_one_replace_moves_the_opportunity_to_another_account(
    sdk: Lightfield, demo: Demo
) -> None:
    a1, a2 = demo.account_ids[:2]
    created = create_opportunity(sdk, a1)

    moved = sdk.opportunity.update(created.id, relationships={"$account": {"replace": a2}})

    assert moved.relationships["$account"].values == [a2]
    name = created.fields["$name"].value
    on_a1 = sdk.opportunity.list(extra_query={"$account": a1, "$name[equal]": name})
    on_a2 = sdk.opportunity.list(extra_query={"$account": a2, "$name[equal]": name})
    assert on_a1.total_count == 0
    assert [record.id for record in on_a2.data] == [created.id]


@pytest.mark.parametrize("value", ["not-an-id", "acc_doesnotexist000", "con_of_the_wrong_type"])
def test_a_relationship_id_that_does_not_exist_is_unprocessable(
    sdk: Lightfield, demo: Demo, value: str
) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])
    # A real id of the wrong type is "missing" too (lightfield-api.md §2.3), not a type error.
    target = demo.contact_ids[0] if value == "con_of_the_wrong_type" else value

    with pytest.raises(lightfield.UnprocessableEntityError) as caught:
        sdk.opportunity.update(created.id, relationships={"$account": {"replace": target}})

    error = error_of(caught.value)
    assert (error["code"], error["param"]) == (
        "relationship_entity_missing",
        "relationships.$account",
    )
    unchanged = sdk.opportunity.retrieve(created.id)
    assert unchanged.relationships["$account"].values == [demo.account_ids[0]]


def test_a_trashed_relationship_target_is_inactive(sdk: Lightfield, demo: Demo) -> None:
    trashed = sdk.account.create(fields={"$name": unique("Trashed account")}).id
    sdk.account.delete(trashed)
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.UnprocessableEntityError) as caught:
        sdk.opportunity.update(created.id, relationships={"$account": {"replace": trashed}})

    assert error_of(caught.value)["code"] == "relationship_entity_inactive"
