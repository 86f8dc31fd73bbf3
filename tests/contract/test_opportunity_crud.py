"""Opportunity create / retrieve / delete / restore / definitions through the official SDK.

Each test checks what the endpoint returns (ids, wrapped values, relationship blocks) and not
only that the SDK accepted the response in strict mode.
"""

from __future__ import annotations

from typing import Literal

import lightfield
import pytest
from lightfield import AsyncLightfield, Lightfield
from lightfield.types import OpportunityDefinitionsResponse

from tests.support.sdk import Demo, Served, create_opportunity, error_of, parse_timestamp, unique


def _stage_options(definitions: OpportunityDefinitionsResponse) -> list[tuple[str, str]]:
    options = definitions.field_definitions["$stage"].type_configuration.options or []
    return [(option.id, option.label) for option in options]


def _unambiguous_stage(definitions: OpportunityDefinitionsResponse) -> tuple[str, str]:
    """A stage option whose label exists once, so writing the label is not ambiguous."""
    options = _stage_options(definitions)
    labels = [label.casefold() for _, label in options]
    for option_id, label in options:
        if labels.count(label.casefold()) == 1:
            return option_id, label
    raise AssertionError(f"no stage label is unique in the demo definitions: {options}")


def test_definitions_describe_the_opportunity_schema(
    definitions: OpportunityDefinitionsResponse,
) -> None:
    assert definitions.object_type == "opportunity"
    fields = definitions.field_definitions
    assert fields["$name"].value_type == "TEXT"
    assert not fields["$name"].read_only
    stage = fields["$stage"]
    assert stage.value_type == "SINGLE_SELECT"
    options = stage.type_configuration.options or []
    assert options, "the $stage field lists no options"
    # Pipelines beta (lightfield-api.md §2.6): $stage depends on $pipeline, each stage names its
    # pipeline.
    assert stage.type_configuration.parent_field_key == "$pipeline"
    pipeline_ids = {o.id for o in fields["$pipeline"].type_configuration.options or []}
    assert pipeline_ids
    assert all(pipeline_id.startswith("pd_") for pipeline_id in pipeline_ids), pipeline_ids
    assert {option.parent_id for option in options} == pipeline_ids
    option_ids = [option.id for option in options]
    assert all(option_id.startswith("opt_") for option_id in option_ids), option_ids
    assert len(set(option_ids)) == len(option_ids), "option ids repeat"
    if "$opportunityStatus" in fields:
        assert fields["$opportunityStatus"].read_only is True
    for key, field in fields.items():
        if field.id is not None:
            assert field.id.startswith("ad_"), (key, field.id)

    relationships = definitions.relationship_definitions
    account = relationships["$account"]
    assert (account.cardinality, account.object_type) == ("HAS_ONE", "account")
    assert relationships["$owner"].object_type == "member"
    for key, relationship in relationships.items():
        if relationship.id is not None:
            assert relationship.id.startswith("rd_"), (key, relationship.id)


def test_create_returns_the_full_record(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    stage_id, _ = _stage_options(definitions)[0]
    name = unique("Create")
    account_id, owner_id = demo.account_ids[0], demo.member_ids[0]

    created = sdk.opportunity.create(
        fields={"$name": name, "$stage": stage_id},
        relationships={"$account": account_id, "$owner": owner_id},
    )

    assert created.id.startswith("opp_")
    parse_timestamp(created.created_at)
    assert created.fields["$name"].value == name
    assert created.fields["$name"].value_type == "TEXT"
    assert created.fields["$stage"].value == stage_id
    assert created.fields["$stage"].value_type == "SINGLE_SELECT"
    account = created.relationships["$account"]
    assert (account.cardinality, account.object_type, account.values) == (
        "HAS_ONE",
        "account",
        [account_id],
    )
    owner = created.relationships["$owner"]
    assert (owner.object_type, owner.values) == ("member", [owner_id])


def test_retrieve_returns_what_create_returned(sdk: Lightfield, demo: Demo) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])

    retrieved = sdk.opportunity.retrieve(created.id)

    # Nothing changed in between, so the two responses carry the same record.
    assert retrieved.model_dump() == created.model_dump()
    assert retrieved.relationships["$account"].values == [demo.account_ids[0]]
    assert retrieved.http_link is None or retrieved.http_link.startswith("http")


def test_create_takes_a_stage_label_and_stores_the_option_id(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    stage_id, stage_label = _unambiguous_stage(definitions)

    created = create_opportunity(sdk, demo.account_ids[0], fields={"$stage": stage_label})

    assert created.fields["$stage"].value == stage_id


def test_create_accepts_a_one_element_array_for_a_has_one_relationship(
    sdk: Lightfield, demo: Demo
) -> None:
    created = sdk.opportunity.create(
        fields={"$name": unique("Array account")}, relationships={"$account": [demo.account_ids[1]]}
    )

    assert created.relationships["$account"].values == [demo.account_ids[1]]


def test_retrieve_of_an_unknown_id_is_not_found(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.NotFoundError) as caught:
        sdk.opportunity.retrieve("opp_doesnotexist000")

    assert error_of(caught.value)["type"] == "not_found"


def _listed(
    sdk: Lightfield, name: str, status: Literal["active", "trashed"] = "active"
) -> list[str]:
    page = sdk.opportunity.list(status=status, extra_query={"$name[equal]": name})
    return [record.id for record in page.data]


def test_delete_trashes_and_restore_brings_back(sdk: Lightfield, demo: Demo) -> None:
    name = unique("Trash me")
    created = create_opportunity(sdk, demo.account_ids[0], name=name)

    deleted = sdk.opportunity.delete(created.id)
    assert deleted.id == created.id
    assert deleted.fields["$name"].value == name
    assert _listed(sdk, name) == []
    assert _listed(sdk, name, "trashed") == [created.id]

    again = sdk.opportunity.delete(created.id)  # documented no-op on a trashed record
    assert again.id == created.id
    assert _listed(sdk, name, "trashed") == [created.id]

    restored = sdk.opportunity.restore(created.id)
    assert restored.id == created.id
    assert restored.fields["$name"].value == name
    assert _listed(sdk, name) == [created.id]
    assert _listed(sdk, name, "trashed") == []

    noop = sdk.opportunity.restore(created.id)  # documented no-op on an active record
    assert noop.id == created.id
    assert _listed(sdk, name) == [created.id]


def test_delete_of_an_unknown_id_is_not_found(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.NotFoundError) as caught:
        sdk.opportunity.delete("opp_doesnotexist000")

    assert error_of(caught.value)["type"] == "not_found"


@pytest.mark.anyio
async def test_the_async_client_creates_updates_and_lists(served: Served, demo: Demo) -> None:
    name = unique("Async")
    sdk: AsyncLightfield
    async with served.async_client() as sdk:
        created = await sdk.opportunity.create(
            fields={"$name": name}, relationships={"$account": demo.account_ids[0]}
        )
        updated = await sdk.opportunity.update(created.id, fields={"priority": 3})
        retrieved = await sdk.opportunity.retrieve(created.id)
        listed = await sdk.opportunity.list(extra_query={"$name[equal]": name})

    assert updated.fields["priority"].value == 3
    assert retrieved.model_dump() == updated.model_dump()
    assert [record.id for record in listed.data] == [created.id]
