"""Opportunity field history through the official SDK: newest first, consecutive identical values
collapsed, ``displayValue`` rendering a select option by its label, ``isCreate`` only on a
complete history, and cursor pagination with ``after`` / ``nextCursor`` / ``hasMore``.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightfield
import pytest
from lightfield import Lightfield
from lightfield.types import OpportunityDefinitionsResponse

from tests.support.sdk import Demo, create_opportunity, error_of, parse_timestamp


@dataclass(frozen=True)
class History:
    opportunity_id: str
    field_key: str
    written: list[tuple[str, str]]  # (option id, label), oldest first, without repeats


@pytest.fixture
def history(sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse) -> History:
    """An opportunity whose custom single-select went A (create) -> B -> B -> C."""
    key, field = next(
        (k, f)
        for k, f in definitions.field_definitions.items()
        if not k.startswith("$")
        and f.value_type == "SINGLE_SELECT"
        and not f.read_only
        and len(f.type_configuration.options or []) >= 3
    )
    a, b, c = [(o.id, o.label) for o in (field.type_configuration.options or [])[:3]]
    created = create_opportunity(sdk, demo.account_ids[0], fields={key: a[0]})
    sdk.opportunity.update(created.id, fields={key: b[1]})  # by label
    sdk.opportunity.update(created.id, fields={key: b[0]})  # the same value again
    sdk.opportunity.update(created.id, fields={key: c[0]})
    return History(created.id, key, [a, b, c])


def test_full_history_is_newest_first_collapsed_and_labelled(
    sdk: Lightfield, history: History
) -> None:
    page = sdk.opportunity.field_history(history.field_key, id=history.opportunity_id)

    newest_first = list(reversed(history.written))
    assert [entry.value for entry in page.data] == [option_id for option_id, _ in newest_first]
    assert [entry.display_value for entry in page.data] == [label for _, label in newest_first]
    assert {entry.value_type for entry in page.data} == {"SINGLE_SELECT"}
    assert [entry.is_create for entry in page.data] == [False, False, True]
    stamps = [parse_timestamp(entry.recorded_at) for entry in page.data]
    assert stamps == sorted(stamps, reverse=True)
    assert page.has_more is False
    assert page.next_cursor is None


def test_history_pages_with_after(sdk: Lightfield, history: History) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        if cursor is None:
            page = sdk.opportunity.field_history(
                history.field_key, id=history.opportunity_id, limit=1
            )
        else:
            page = sdk.opportunity.field_history(
                history.field_key, id=history.opportunity_id, limit=1, after=cursor
            )
        pages += 1
        assert len(page.data) == 1
        seen.append(str(page.data[0].value))
        if not page.has_more:
            assert page.next_cursor is None
            break
        # A truncated page never claims to hold the original value.
        assert page.data[0].is_create is False
        assert page.next_cursor
        cursor = page.next_cursor
        assert pages < 10, "the cursor does not advance"

    assert seen == [option_id for option_id, _ in reversed(history.written)]


def test_history_of_a_text_field_shows_the_text(
    sdk: Lightfield, demo: Demo, definitions: OpportunityDefinitionsResponse
) -> None:
    key = next(
        k
        for k, f in definitions.field_definitions.items()
        if not k.startswith("$") and f.value_type == "TEXT" and not f.read_only
    )
    created = create_opportunity(sdk, demo.account_ids[0], fields={key: "first"})
    sdk.opportunity.update(created.id, fields={key: "second"})

    page = sdk.opportunity.field_history(key, id=created.id)

    assert [(e.value, e.display_value) for e in page.data] == [
        ("second", "second"),
        ("first", "first"),
    ]


def test_history_of_an_unknown_opportunity_is_not_found(sdk: Lightfield, history: History) -> None:
    with pytest.raises(lightfield.NotFoundError) as caught:
        sdk.opportunity.field_history(history.field_key, id="opp_doesnotexist000")

    assert error_of(caught.value)["type"] == "not_found"


def test_history_of_an_unknown_field_is_a_bad_request(sdk: Lightfield, history: History) -> None:
    with pytest.raises(lightfield.BadRequestError) as caught:
        sdk.opportunity.field_history("bogus", id=history.opportunity_id)

    assert error_of(caught.value)["code"] == "unknown_field"
