"""Notes through the official SDK in strict mode (lightfield-api.md §5): create, retrieve, list
(with a relationship filter), update, definitions; ``Idempotency-Key`` on a create as on an
opportunity's; the rate category of each note call (lightfield-api.md §8).

``lfr apply --stamp`` writes one note per changed opportunity; these tests prove the emulator
answers those calls as the SDK's models say the API does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import lightfield
import pytest
from lightfield import Lightfield

from tests.support.sdk import Served, error_of, linked, parse_timestamp, unique


def _opportunity(sdk: Lightfield) -> str:
    return sdk.opportunity.list(limit=1).data[0].id


def test_a_created_note_reads_back_with_its_links_and_author(sdk: Lightfield) -> None:
    opp_id = _opportunity(sdk)
    title = unique("Changed by lfr")

    created = sdk.note.create(
        fields={"title": title, "content": "**Stage**: Discovery → Proposal"},
        relationships={"$opportunity": opp_id},
    )

    assert created.fields["$title"].value == title
    assert created.fields["$title"].value_type == "TEXT"
    assert created.fields["$content"].value == "**Stage**: Discovery → Proposal"
    assert created.fields["$content"].value_type == "MARKDOWN"
    assert linked(created, "$opportunity") == [opp_id]
    assert len(linked(created, "$createdBy")) == 1, "the author is the key's owner"
    parse_timestamp(created.created_at)
    assert sdk.note.retrieve(created.id).model_dump() == created.model_dump()
    # The opportunity's read-only $note is kept from the note's side (lightfield-api.md §2.8).
    assert created.id in linked(sdk.opportunity.retrieve(opp_id), "$note")


def test_a_note_without_a_title_is_refused(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.UnprocessableEntityError) as refused:
        sdk.note.create(fields={"title": "", "content": "body"})

    assert error_of(refused.value)["param"] == "fields.$title"


def test_notes_list_by_opportunity_newest_first(fresh: Served) -> None:
    with fresh.client() as sdk:
        opp_id, other_id = (o.id for o in sdk.opportunity.list(limit=2).data)
        first = sdk.note.create(fields={"title": "first"}, relationships={"$opportunity": opp_id})
        sdk.note.create(fields={"title": "elsewhere"}, relationships={"$opportunity": other_id})
        second = sdk.note.create(
            fields={"title": "second"}, relationships={"$opportunity": [opp_id]}
        )

        page = sdk.note.list(extra_query={"$opportunity": opp_id})

        assert [n.id for n in page.data] == [second.id, first.id]
        assert page.total_count == 2
        assert sdk.note.list().total_count == 3


def test_a_note_update_adds_and_removes_links_but_never_replaces(sdk: Lightfield) -> None:
    opp_id, other_id = (o.id for o in sdk.opportunity.list(limit=2).data)
    note = sdk.note.create(fields={"title": unique("Note")}, relationships={"$opportunity": opp_id})

    updated = sdk.note.update(
        note.id,
        fields={"content": "edited"},
        relationships={"$opportunity": {"add": [other_id], "remove": [opp_id]}},
    )

    assert updated.fields["$content"].value == "edited"
    assert linked(updated, "$opportunity") == [other_id]
    with pytest.raises(lightfield.BadRequestError) as refused:
        sdk.note.update(note.id, relationships={"$opportunity": {"replace": opp_id}})
    assert error_of(refused.value)["param"] == "relationships.$opportunity"


def test_note_definitions_validate(sdk: Lightfield) -> None:
    definitions = sdk.note.definitions()

    assert definitions.object_type == "note"
    assert definitions.field_definitions["$title"].value_type == "TEXT"
    assert definitions.field_definitions["$content"].value_type == "MARKDOWN"
    assert definitions.relationship_definitions["$opportunity"].cardinality == "HAS_MANY"


def test_a_replayed_note_create_writes_one_note(fresh: Served) -> None:
    key = f"contract-{uuid.uuid4()}"
    with fresh.client() as sdk:
        opp_id = _opportunity(sdk)

        def create() -> lightfield.types.NoteCreateResponse:
            return sdk.note.create(
                fields={"title": "once"},
                relationships={"$opportunity": opp_id},
                extra_headers={"Idempotency-Key": key},
            )

        first, second = create(), create()

        assert second.model_dump() == first.model_dump()
        assert sdk.note.list(extra_query={"$opportunity": opp_id}).total_count == 1


@pytest.mark.parametrize(
    ("call", "category"),
    [
        (lambda sdk: sdk.note.create(fields={"title": "rate"}), "write"),
        (lambda sdk: sdk.note.list(limit=1), "search"),
        (lambda sdk: sdk.note.definitions(), "read"),
    ],
)
def test_note_calls_count_against_their_rate_category(
    fresh: Served, call: Callable[[Lightfield], object], category: str
) -> None:
    with fresh.client() as sdk:
        since = len(fresh.emulator.requests())
        call(sdk)

    assert [r["category"] for r in fresh.emulator.requests(since)] == [category]
