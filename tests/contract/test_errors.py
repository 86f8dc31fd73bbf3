"""Documented error cases come back as the SDK's typed exceptions, with the documented envelope
``{"error": {"type", "message", "code"?, "param"?}}`` (lightfield-api.md §1.2).

Requests the SDK cannot produce (no JSON content type) go through a raw ``httpx`` sdk.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import lightfield
import pytest
from lightfield import Lightfield, Omit
from lightfield.types import OpportunityDefinitionsResponse

from tests.support.demo import FULL_KEY
from tests.support.emulator import VERSION as API_VERSION
from tests.support.sdk import Demo, Served, create_opportunity, error_of, linked, unique


@pytest.fixture
def raw(served: Served) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": API_VERSION}
    with httpx.Client(base_url=served.base_url, headers=headers) as http:
        yield http


@pytest.fixture(scope="module")
def ambiguous_stage(definitions: OpportunityDefinitionsResponse) -> str:
    """A stage label that several pipelines use (the demo has two pipelines sharing one)."""
    labels = [
        o.label for o in definitions.field_definitions["$stage"].type_configuration.options or []
    ]
    shared = sorted({label for label in labels if labels.count(label) > 1})
    assert shared, f"the demo should share a stage label between pipelines: {labels}"
    return shared[0]


def test_unknown_field_is_a_bad_request_naming_the_param(sdk: Lightfield, demo: Demo) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.update(created.id, fields={"bogus": 1})

    error = error_of(caught.value)
    assert (error["type"], error["code"], error["param"]) == (
        "bad_request",
        "unknown_field",
        "fields.bogus",
    )


def test_unknown_relationship_is_a_bad_request_naming_the_param(
    sdk: Lightfield, demo: Demo
) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.update(created.id, relationships={"bogus": {"add": demo.contact_ids[0]}})

    error = error_of(caught.value)
    assert (error["code"], error["param"]) == ("unknown_relationship", "relationships.bogus")


def test_writing_a_read_only_field_is_rejected(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    assert definitions.field_definitions["$opportunityStatus"].read_only is True
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.update(created.id, fields={"$opportunityStatus": "Won"})

    error = error_of(caught.value)
    assert (error["code"], error["param"]) == ("read_only_field", "fields.$opportunityStatus")


def test_a_missing_version_header_is_a_bad_request(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.list(extra_headers={"Lightfield-Version": Omit()})

    error = error_of(caught.value)
    assert (error["type"], error["code"]) == ("bad_request", "version_header")


def test_an_unknown_version_is_a_bad_request(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.auth.validate(extra_headers={"Lightfield-Version": "1999-01-01"})

    assert error_of(caught.value)["code"] == "version_header"


def test_raw_request_without_version_header(served: Served) -> None:
    response = httpx.get(
        f"{served.base_url}/v1/opportunities", headers={"Authorization": f"Bearer {FULL_KEY}"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "version_header"


def test_an_overlong_idempotency_key_is_a_bad_request(sdk: Lightfield, demo: Demo) -> None:
    name = unique("Too long key")

    with pytest.raises(lightfield.BadRequestError) as caught:
        create_opportunity(
            sdk, demo.account_ids[0], name=name, extra_headers={"Idempotency-Key": "k" * 256}
        )

    error = error_of(caught.value)
    assert (error["code"], error["param"]) == ("idempotency_key_too_long", "Idempotency-Key")
    assert sdk.opportunity.list(extra_query={"$name[equal]": name}).total_count == 0

    # 255 characters is the documented maximum and is accepted.
    created = create_opportunity(
        sdk, demo.account_ids[0], name=name, extra_headers={"Idempotency-Key": "k" * 255}
    )
    assert created.fields["$name"].value == name


def test_a_bad_key_is_unauthenticated_and_not_echoed(served: Served) -> None:
    bad_key = "sk_lf_not_a_real_key_123"
    with served.client(bad_key) as sdk, pytest.raises(lightfield.AuthenticationError) as caught:
        sdk.opportunity.list()

    error = error_of(caught.value)
    assert error["type"] == "unauthorized"
    assert bad_key not in caught.value.response.text


def test_a_missing_authorization_header_is_unauthenticated(raw: httpx.Client) -> None:
    response = raw.get("/v1/opportunities", headers={"Authorization": ""})

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"


def test_a_read_key_may_not_update(sdk: Lightfield, read_sdk: Lightfield, demo: Demo) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.PermissionDeniedError) as caught:
        read_sdk.opportunity.update(created.id, fields={"$name": "Not allowed"})

    error = error_of(caught.value)
    assert error["type"] == "forbidden"
    assert "opportunities:update" in error["message"]
    unchanged = sdk.opportunity.retrieve(created.id)
    assert unchanged.fields["$name"].value == created.fields["$name"].value


def test_a_read_key_may_read(read_sdk: Lightfield, demo: Demo) -> None:
    assert read_sdk.account.retrieve(demo.account_ids[0]).id == demo.account_ids[0]


def test_updating_an_unknown_opportunity_is_not_found(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.NotFoundError) as caught:
        sdk.opportunity.update("opp_doesnotexist000", fields={"$name": "x"})

    assert error_of(caught.value)["type"] == "not_found"


def test_an_ambiguous_stage_label_lists_the_candidates(
    sdk: Lightfield,
    demo: Demo,
    definitions: OpportunityDefinitionsResponse,
    ambiguous_stage: str,
) -> None:
    stage = definitions.field_definitions["$stage"]
    pipelines = {
        o.id: o.label
        for o in definitions.field_definitions["$pipeline"].type_configuration.options or []
    }
    expected = {
        (o.id, o.label, o.parent_id, pipelines[o.parent_id or ""])
        for o in stage.type_configuration.options or []
        if o.label == ambiguous_stage
    }
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.UnprocessableEntityError) as caught:
        sdk.opportunity.update(created.id, fields={"$stage": ambiguous_stage})

    error = error_of(caught.value)
    assert (error["type"], error["code"]) == ("unprocessable_content", "ambiguous_stage_label")
    candidates = {
        (c["stageOptionId"], c["stageLabel"], c["pipelineId"], c["pipelineName"])
        for c in error["candidates"]
    }
    assert candidates == expected


def test_an_ambiguous_stage_label_in_a_filter_is_a_bad_request(
    sdk: Lightfield, ambiguous_stage: str
) -> None:
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.list(extra_query={"$stage[equal]": ambiguous_stage})

    assert error_of(caught.value)["code"] == "ambiguous_stage_label"


@pytest.fixture(scope="module")
def many_contacts(sdk: Lightfield) -> list[str]:
    """26 contacts: one more than a request may reference."""
    return [
        sdk.contact.create(
            fields={"$name": {"first_name": "Bulk", "last_name": unique("contact")}},
            skip_enrichment=True,
        ).id
        for _ in range(26)
    ]


def test_26_relationship_ids_exceed_the_write_limit(
    sdk: Lightfield, demo: Demo, many_contacts: list[str]
) -> None:
    created = create_opportunity(sdk, demo.account_ids[0])

    with pytest.raises(lightfield.UnprocessableEntityError) as caught:
        sdk.opportunity.update(created.id, relationships={"$contact": {"add": many_contacts}})

    error = error_of(caught.value)
    assert (error["type"], error["code"]) == (
        "unprocessable_content",
        "relationship_write_limit_exceeded",
    )
    assert linked(sdk.opportunity.retrieve(created.id), "$contact") == []

    # 25 is the documented maximum and goes through.
    updated = sdk.opportunity.update(
        created.id, relationships={"$contact": {"add": many_contacts[:25]}}
    )
    assert set(updated.relationships["$contact"].values) == set(many_contacts[:25])


def test_create_without_account_is_unprocessable(sdk: Lightfield) -> None:
    name = unique("No account")

    with pytest.raises(lightfield.UnprocessableEntityError) as caught:
        sdk.opportunity.create(fields={"$name": name}, relationships={})

    error = error_of(caught.value)
    assert (error["type"], error["code"], error["param"]) == (
        "unprocessable_content",
        "parameter_missing",
        "relationships.$account",
    )
    assert sdk.opportunity.list(extra_query={"$name[equal]": name}).total_count == 0


def test_create_without_name_is_unprocessable(sdk: Lightfield, demo: Demo) -> None:
    with pytest.raises(lightfield.UnprocessableEntityError) as caught:
        sdk.opportunity.create(fields={}, relationships={"$account": demo.account_ids[0]})

    error = error_of(caught.value)
    assert (error["code"], error["param"]) == ("parameter_missing", "fields.$name")


def test_a_body_that_is_not_json_is_unsupported_media_type(raw: httpx.Client) -> None:
    response = raw.post(
        "/v1/opportunities", content=b"$name=x", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.json()["error"]["type"] == "unsupported_media_type"


def test_a_json_content_type_with_broken_json_is_a_bad_request(raw: httpx.Client) -> None:
    response = raw.post(
        "/v1/opportunities", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "bad_request"
