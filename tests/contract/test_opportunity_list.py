"""Opportunity list through the official SDK: limit / offset / totalCount, newest-first order,
filters passed the way SDK users pass them (``extra_query``, which percent-encodes the keys),
the ``$account`` relationship filter, negation with ``-``, and ``status=trashed``.

Every test creates its own account, so its opportunities are the only ones that filter matches.
"""

from __future__ import annotations

import lightfield
import pytest
from lightfield import Lightfield
from lightfield.types import OpportunityCreateResponse, OpportunityDefinitionsResponse

from tests.support.sdk import create_opportunity, error_of, unique


@pytest.fixture
def account_id(sdk: Lightfield) -> str:
    return sdk.account.create(fields={"$name": unique("List account")}, skip_enrichment=True).id


@pytest.fixture
def three(sdk: Lightfield, account_id: str) -> list[OpportunityCreateResponse]:
    """Three opportunities on a fresh account, in creation order."""
    return [create_opportunity(sdk, account_id, name=unique(f"Listed {i}")) for i in range(3)]


def test_a_relationship_filter_pages_newest_first(
    sdk: Lightfield, account_id: str, three: list[OpportunityCreateResponse]
) -> None:
    newest_first = [record.id for record in reversed(three)]

    first = sdk.opportunity.list(limit=2, extra_query={"$account": account_id})
    second = sdk.opportunity.list(limit=2, offset=2, extra_query={"$account": account_id})
    beyond = sdk.opportunity.list(limit=2, offset=3, extra_query={"$account": account_id})

    assert first.object == "list"
    assert [record.id for record in first.data] == newest_first[:2]
    assert [record.id for record in second.data] == newest_first[2:]
    assert beyond.data == []
    assert first.total_count == second.total_count == beyond.total_count == 3
    for record in first.data:
        assert record.relationships["$account"].values == [account_id]


def test_list_without_limit_returns_at_most_25(sdk: Lightfield) -> None:
    page = sdk.opportunity.list()

    assert len(page.data) <= 25
    assert page.total_count >= len(page.data)
    created = [record.created_at for record in page.data]
    assert created == sorted(created, reverse=True), "not newest first"


@pytest.mark.parametrize("limit", [0, 26])
def test_a_limit_outside_1_to_25_is_a_bad_request(sdk: Lightfield, limit: int) -> None:
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.list(limit=limit)

    assert error_of(caught.value)["param"] == "limit"


def test_total_count_counts_all_matches_not_the_page(
    sdk: Lightfield, account_id: str, three: list[OpportunityCreateResponse]
) -> None:
    page = sdk.opportunity.list(limit=1, extra_query={"$account": account_id})

    assert len(page.data) == 1
    assert page.total_count == 3


def test_name_equal_and_its_negation(
    sdk: Lightfield, account_id: str, three: list[OpportunityCreateResponse]
) -> None:
    name = three[1].fields["$name"].value
    assert isinstance(name, str)

    equal = sdk.opportunity.list(extra_query={"$name[equal]": name})
    not_equal = sdk.opportunity.list(extra_query={"$account": account_id, "$name[-equal]": name})

    assert [record.id for record in equal.data] == [three[1].id]
    assert equal.total_count == 1
    assert {record.id for record in not_equal.data} == {three[0].id, three[2].id}
    assert not_equal.total_count == 2


def test_a_bare_key_means_equal(sdk: Lightfield, three: list[OpportunityCreateResponse]) -> None:
    name = three[0].fields["$name"].value
    assert isinstance(name, str)

    page = sdk.opportunity.list(extra_query={"$name": name})

    assert [record.id for record in page.data] == [three[0].id]


def test_name_starts_with(
    sdk: Lightfield, account_id: str, three: list[OpportunityCreateResponse]
) -> None:
    page = sdk.opportunity.list(
        extra_query={"$account": account_id, "$name[startsWith]": "Listed 1"}
    )

    assert [record.id for record in page.data] == [three[1].id]


def test_negated_account_filter_excludes_the_account(
    sdk: Lightfield, account_id: str, three: list[OpportunityCreateResponse]
) -> None:
    everything = sdk.opportunity.list(limit=1).total_count
    others = sdk.opportunity.list(limit=25, extra_query={"$account[-equal]": account_id})

    assert others.total_count == everything - 3
    for record in others.data:
        assert record.relationships["$account"].values != [account_id]


def test_number_comparison_filters(
    sdk: Lightfield, account_id: str, definitions: OpportunityDefinitionsResponse
) -> None:
    key = next(
        (
            k
            for k, f in definitions.field_definitions.items()
            if f.value_type in ("NUMBER", "CURRENCY") and not f.read_only
        ),
        None,
    )
    assert key is not None, "the demo should have a writable NUMBER or CURRENCY field"
    small = create_opportunity(sdk, account_id, fields={key: 10})
    big = create_opportunity(sdk, account_id, fields={key: 1000})

    at_least = sdk.opportunity.list(
        extra_query={"$account": account_id, f"{key}[greaterThanOrEqual]": "1000"}
    )
    below = sdk.opportunity.list(extra_query={"$account": account_id, f"{key}[lessThan]": "1000"})

    assert [record.id for record in at_least.data] == [big.id]
    assert [record.id for record in below.data] == [small.id]


def test_stage_and_pipeline_filters_take_option_ids(
    sdk: Lightfield, account_id: str, definitions: OpportunityDefinitionsResponse
) -> None:
    stages = definitions.field_definitions["$stage"].type_configuration.options or []
    first, other = stages[0], next(s for s in stages if s.parent_id != stages[0].parent_id)
    in_first = create_opportunity(sdk, account_id, fields={"$stage": first.id})
    in_other = create_opportunity(sdk, account_id, fields={"$stage": other.id})

    by_stage = sdk.opportunity.list(extra_query={"$account": account_id, "$stage[equal]": first.id})
    by_pipeline = sdk.opportunity.list(
        extra_query={"$account": account_id, "$pipeline[equal]": other.parent_id}
    )
    # Filters AND: a stage id with a pipeline that does not own it matches nothing.
    crossed = sdk.opportunity.list(
        extra_query={
            "$account": account_id,
            "$stage[equal]": first.id,
            "$pipeline[equal]": other.parent_id,
        }
    )

    assert [record.id for record in by_stage.data] == [in_first.id]
    assert [record.id for record in by_pipeline.data] == [in_other.id]
    assert crossed.total_count == 0


def test_an_unknown_filter_key_is_a_bad_request(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.list(extra_query={"bogusField[equal]": "x"})

    error = error_of(caught.value)
    assert (error["type"], error["code"]) == ("bad_request", "unknown_field")


def test_an_operator_the_type_does_not_support_is_a_bad_request(sdk: Lightfield) -> None:
    # TEXT supports equal and startsWith only (lightfield-api.md §1.4).
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.list(extra_query={"$name[greaterThan]": "A"})

    assert error_of(caught.value)["type"] == "bad_request"


def test_status_trashed_lists_only_the_trash(
    sdk: Lightfield, account_id: str, three: list[OpportunityCreateResponse]
) -> None:
    sdk.opportunity.delete(three[0].id)

    active = sdk.opportunity.list(extra_query={"$account": account_id})
    trashed = sdk.opportunity.list(status="trashed", extra_query={"$account": account_id})

    assert {record.id for record in active.data} == {three[1].id, three[2].id}
    assert active.total_count == 2
    assert [record.id for record in trashed.data] == [three[0].id]
    assert trashed.total_count == 1


def test_status_trashed_needs_the_restore_scope(read_sdk: Lightfield) -> None:
    with pytest.raises(lightfield.PermissionDeniedError) as caught:
        read_sdk.opportunity.list(status="trashed")

    error = error_of(caught.value)
    assert error["type"] == "forbidden"
    assert "opportunities:restore" in error["message"]
