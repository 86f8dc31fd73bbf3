"""Accounts, contacts, members and the auth check through the official SDK: the reference-
resolution endpoints a reconciler needs (find an account by name, a contact by email, a member
by email) and the key self-description.
"""

from __future__ import annotations

import lightfield
import pytest
from lightfield import Lightfield

from tests.support.sdk import Demo, error_of, parse_timestamp, unique


def test_account_definitions(sdk: Lightfield) -> None:
    definitions = sdk.account.definitions()

    assert definitions.object_type == "account"
    assert definitions.field_definitions["$name"].value_type == "TEXT"
    assert "$opportunity" in definitions.relationship_definitions


def test_account_create_retrieve_update_and_find_by_name(sdk: Lightfield, demo: Demo) -> None:
    name = unique("Account")
    owner = demo.member_ids[0]

    created = sdk.account.create(
        fields={"$name": name}, relationships={"$owner": owner}, skip_enrichment=True
    )
    assert created.id.startswith("acc_")
    parse_timestamp(created.created_at)
    assert created.fields["$name"].value == name
    assert created.relationships["$owner"].values == [owner]

    assert sdk.account.retrieve(created.id).fields["$name"].value == name

    renamed = sdk.account.update(created.id, fields={"$name": name + " renamed"})
    assert renamed.fields["$name"].value == name + " renamed"

    found = sdk.account.list(extra_query={"$name[equal]": name + " renamed"})
    assert [record.id for record in found.data] == [created.id]
    assert found.total_count == 1
    assert sdk.account.list(extra_query={"$name[equal]": name}).total_count == 0


def test_account_list_pages(sdk: Lightfield) -> None:
    whole = sdk.account.list(limit=25)
    first = sdk.account.list(limit=1)
    second = sdk.account.list(limit=1, offset=1)

    assert whole.object == "list"
    assert whole.total_count == first.total_count >= 2
    assert [first.data[0].id, second.data[0].id] == [r.id for r in whole.data[:2]]


def test_unknown_account_is_not_found(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.NotFoundError) as caught:
        sdk.account.retrieve("acc_doesnotexist000")

    assert error_of(caught.value)["type"] == "not_found"


def test_contact_definitions(sdk: Lightfield) -> None:
    definitions = sdk.contact.definitions()

    assert definitions.object_type == "contact"
    assert definitions.field_definitions["$name"].value_type == "FULL_NAME"
    assert definitions.field_definitions["$email"].value_type == "EMAIL"
    assert definitions.relationship_definitions["$account"].object_type == "account"


def test_contact_create_retrieve_update_and_find_by_email(sdk: Lightfield, demo: Demo) -> None:
    email = f"{unique('ada').replace(' ', '.')}@example.com"
    account_id = demo.account_ids[0]

    created = sdk.contact.create(
        # The SDK's typed params use snake_case and send the wire's camelCase.
        fields={"$name": {"first_name": "Ada", "last_name": "Lovelace"}, "$email": [email]},
        relationships={"$account": account_id},
        skip_enrichment=True,
    )
    assert created.id.startswith("con_")
    name = created.fields["$name"]
    assert name.value_type == "FULL_NAME"
    assert isinstance(name.value, lightfield.BaseModel)
    assert name.value.model_dump(by_alias=True, exclude_none=True) == {
        "firstName": "Ada",
        "lastName": "Lovelace",
    }
    assert created.fields["$email"].value == [email]
    assert account_id in created.relationships["$account"].values

    retrieved = sdk.contact.retrieve(created.id)
    assert retrieved.fields["$email"].value == [email]

    updated = sdk.contact.update(created.id, fields={"$title": "Chief Analyst"})
    assert updated.fields["$title"].value == "Chief Analyst"
    assert updated.fields["$email"].value == [email]

    found = sdk.contact.list(extra_query={"$email[contains]": email})
    assert [record.id for record in found.data] == [created.id]
    assert found.total_count == 1


def test_contact_list_pages(sdk: Lightfield) -> None:
    whole = sdk.contact.list(limit=25)
    offset = sdk.contact.list(limit=2, offset=1)

    assert whole.total_count >= 3
    assert [r.id for r in offset.data] == [r.id for r in whole.data[1:3]]


def test_member_list_and_retrieve(sdk: Lightfield) -> None:
    page = sdk.member.list()

    assert page.object == "list"
    assert page.total_count == len(page.data) >= 2
    for member in page.data:
        assert member.id.startswith("mem_")
        assert "@" in member.fields.email.value
        assert member.fields.role.value
        assert member.relationships.user.values, member.id
        retrieved = sdk.member.retrieve(member.id)
        assert retrieved.model_dump() == member.model_dump()

    one = sdk.member.list(limit=1, offset=1)
    assert [m.id for m in one.data] == [page.data[1].id]
    assert one.total_count == page.total_count


def test_unknown_member_is_not_found(sdk: Lightfield) -> None:
    with pytest.raises(lightfield.NotFoundError) as caught:
        sdk.member.retrieve("mem_doesnotexist000")

    assert error_of(caught.value)["type"] == "not_found"


def test_auth_validate_full_key(sdk: Lightfield) -> None:
    validation = sdk.auth.validate()

    assert validation.active is True
    assert validation.token_type == "api_key"
    assert validation.subject_type in ("user", "workspace")
    assert validation.scopes == []  # documented: empty means full access


def test_auth_validate_read_key(read_sdk: Lightfield) -> None:
    validation = read_sdk.auth.validate()

    assert validation.active is True
    assert validation.scopes, "a restricted key lists its scopes"
    assert all(scope.endswith(":read") for scope in validation.scopes), validation.scopes
    assert {"opportunities:read", "accounts:read", "contacts:read", "members:read"} <= set(
        validation.scopes
    )
