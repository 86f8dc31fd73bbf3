"""The client against the emulator: what goes on the wire, typed results, typed errors, paging."""

from __future__ import annotations

import json

import pytest

from reconciler.adapters.client import API_VERSION, LightfieldClient
from reconciler.core.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from tests.support.client import RecordingTransport
from tests.support.demo import FULL_KEY, READ_KEY

from .conftest import ClientFactory


@pytest.mark.anyio
async def test_headers_on_reads_and_writes(
    client: LightfieldClient, wire: RecordingTransport, opp_id: str
) -> None:
    await client.retrieve("opportunities", opp_id)
    await client.update(
        "opportunities", opp_id, {"fields": {"$nextSteps": "Call"}}, idempotency_key="k-h"
    )
    read, write = wire.requests
    for request in (read, write):
        assert request.headers["authorization"] == f"Bearer {FULL_KEY}"
        assert request.headers["lightfield-version"] == API_VERSION == "2026-03-01"
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("lfr/")
        assert request.url.host == "emulator.test"
    assert "content-type" not in read.headers
    assert "idempotency-key" not in read.headers
    assert write.headers["content-type"] == "application/json"
    assert write.headers["idempotency-key"] == "k-h"
    assert json.loads(write.content) == {"fields": {"$nextSteps": "Call"}}


@pytest.mark.anyio
async def test_bodiless_writes_send_no_content_type(
    client: LightfieldClient, wire: RecordingTransport, opp_id: str
) -> None:
    trashed = await client.delete("opportunities", opp_id)
    restored = await client.restore("opportunities", opp_id)
    assert trashed.id == restored.id == opp_id
    assert all("content-type" not in r.headers for r in wire.requests)
    assert [r.method for r in wire.requests] == ["DELETE", "POST"]


@pytest.mark.anyio
async def test_typed_results(
    client: LightfieldClient, make_client: ClientFactory, opp_id: str
) -> None:
    auth = await client.validate_auth()
    assert auth.active and auth.token_type == "api_key" and auth.scopes == []

    definitions = await client.definitions("opportunities")
    assert definitions.object_type == "opportunity"
    stage = definitions.field_definitions["$stage"]
    assert stage.value_type == "SINGLE_SELECT"
    assert stage.type_configuration.options
    assert all(o.id.startswith("opt_") for o in stage.type_configuration.options)
    assert definitions.field_definitions["$opportunityStatus"].read_only
    account = definitions.relationship_definitions["$account"]
    assert (account.cardinality, account.object_type) == ("HAS_ONE", "account")

    record = await client.retrieve("opportunities", opp_id)
    assert record.id == opp_id
    assert isinstance(record.value("$name"), str)
    assert record.fields["$stage"].value_type == "SINGLE_SELECT"
    assert len(record.related_ids("$account")) == 1

    updated = await client.update(
        "opportunities", opp_id, {"fields": {"priority": 3}}, idempotency_key=None
    )
    assert updated.value("priority") == 3

    history = await client.history_all("opportunities", opp_id, "priority")
    assert history[0].value == 3  # newest first

    read_only = await make_client(READ_KEY).validate_auth()
    assert "opportunities:read" in read_only.scopes
    assert "opportunities:update" not in read_only.scopes


@pytest.mark.anyio
async def test_create_then_retrieve_round_trip(client: LightfieldClient, emu: Emulator) -> None:
    accounts = await client.list_page("accounts", limit=1)
    created = await client.create(
        "opportunities",
        {
            "fields": {"$name": "Client test deal", "$amount": 5000},
            "relationships": {"$account": accounts.data[0].id},
        },
        idempotency_key="create-1",
    )
    assert created.id.startswith("opp_")
    again = await client.retrieve("opportunities", created.id)
    assert again.value("$name") == "Client test deal"
    assert again.related_ids("$account") == [accounts.data[0].id]
    assert [m["idempotency_key"] for m in emu.mutations() if m["record_id"] == created.id] == [
        "create-1"
    ]


@pytest.mark.anyio
async def test_history_pages_follow_cursors(client: LightfieldClient, opp_id: str) -> None:
    for priority in range(1, 6):
        await client.update(
            "opportunities", opp_id, {"fields": {"priority": priority}}, idempotency_key=None
        )
    first = await client.field_history("opportunities", opp_id, "priority", limit=2)
    assert len(first.data) == 2 and first.has_more and first.next_cursor
    everything = await client.history_all("opportunities", opp_id, "priority", page_size=2)
    assert [e.value for e in everything][:5] == [5, 4, 3, 2, 1]


# -- errors -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_bad_key_is_unauthorized(make_client: ClientFactory, emu: Emulator) -> None:
    with pytest.raises(Unauthorized) as caught:
        await make_client("sk_lf_nope").validate_auth()
    assert caught.value.status == 401 and caught.value.type == "unauthorized"
    assert len(emu.requests()) == 1


@pytest.mark.anyio
async def test_missing_scope_is_forbidden(
    make_client: ClientFactory, emu: Emulator, opp_id: str
) -> None:
    with pytest.raises(Forbidden) as caught:
        await make_client(READ_KEY).update(
            "opportunities", opp_id, {"fields": {"priority": 1}}, idempotency_key="k"
        )
    assert "opportunities:update" in caught.value.message
    assert len(emu.requests()) == 1
    assert emu.mutations() == []


@pytest.mark.anyio
async def test_unknown_id_is_not_found(client: LightfieldClient, emu: Emulator) -> None:
    with pytest.raises(NotFound) as caught:
        await client.retrieve("opportunities", "opp_doesnotexist00")
    assert str(caught.value).startswith("GET /v1/opportunities/opp_doesnotexist00 → 404 not_found")
    assert len(emu.requests()) == 1


@pytest.mark.anyio
async def test_unknown_field_is_bad_request_with_code_and_param(
    client: LightfieldClient, emu: Emulator, opp_id: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await client.update(
            "opportunities", opp_id, {"fields": {"bogus": 1}}, idempotency_key="k-bad"
        )
    assert (caught.value.code, caught.value.param) == ("unknown_field", "fields.bogus")
    assert len(emu.requests()) == 1


@pytest.mark.anyio
async def test_business_rule_is_unprocessable(
    client: LightfieldClient, emu: Emulator, opp_id: str
) -> None:
    contacts = [f"con_fake{i:011d}" for i in range(26)]
    with pytest.raises(Unprocessable) as caught:
        await client.update(
            "opportunities",
            opp_id,
            {"relationships": {"$contact": {"add": contacts}}},
            idempotency_key="k-422",
        )
    assert caught.value.status == 422
    assert caught.value.code is not None
    assert f"POST /v1/opportunities/{opp_id} → 422 unprocessable_content" in str(caught.value)
    assert len(emu.requests()) == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (415, UnsupportedMediaType),
        (422, Unprocessable),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.anyio
async def test_client_errors_are_never_retried(
    client: LightfieldClient,
    emu: Emulator,
    opp_id: str,
    status: int,
    error_class: type[Exception],
    method: str,
) -> None:
    emu.faults.configure(FaultConfig(rules=[FaultRule(action="status", status=status, times=1)]))
    call = (
        client.retrieve("opportunities", opp_id)
        if method == "GET"
        else client.update("opportunities", opp_id, {"fields": {}}, idempotency_key="k")
    )
    with pytest.raises(error_class):
        await call
    assert len(emu.requests()) == 1
    assert client.stats.retries == 0


# -- paging -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_iterate_pages_until_a_short_page(client: LightfieldClient, emu: Emulator) -> None:
    everything = (await client.list_page("opportunities", limit=25)).data
    emu.reset_logs()
    assert 5 < len(everything) < 25
    seen = [r.id async for r in client.iterate("opportunities", page_size=4)]
    assert seen == [r.id for r in everything]
    queries = [q["query"] for q in emu.requests()]
    # totalCount spares the extra empty page even when the count is a multiple of the size.
    assert len(queries) == -(-len(everything) // 4)
    assert queries[:2] == ["limit=4&offset=0", "limit=4&offset=4"]


@pytest.mark.anyio
async def test_iterate_deduplicates_when_the_index_shifts(
    client: LightfieldClient, make_client: ClientFactory
) -> None:
    before = {r.id for r in await client.list_all("opportunities")}
    other = make_client()
    accounts = await client.list_page("accounts", limit=1)
    yielded: list[str] = []
    async for record in client.iterate("opportunities", page_size=3):
        yielded.append(record.id)
        if len(yielded) == 3:
            # A new record enters at the top: every later page shifts down by one.
            await other.create(
                "opportunities",
                {
                    "fields": {"$name": "Shifts the index"},
                    "relationships": {"$account": accounts.data[0].id},
                },
                idempotency_key="shift",
            )
    assert len(yielded) == len(set(yielded))
    assert before <= set(yielded)


@pytest.mark.anyio
async def test_filters_and_status_reach_the_query(
    client: LightfieldClient, wire: RecordingTransport, emu: Emulator
) -> None:
    accounts = await client.list_all("accounts", filters={"$name[equal]": "Acme Corp"})
    assert accounts and all(a.value("$name") == "Acme Corp" for a in accounts)
    trashed = await client.list_all("opportunities", status="trashed")
    assert trashed
    live = {r.id for r in await client.list_all("opportunities")}
    assert not live & {r.id for r in trashed}
    queries = [q["query"] for q in emu.requests()]
    assert "limit=25&offset=0&%24name%5Bequal%5D=Acme+Corp" in queries
    assert "limit=25&offset=0&status=trashed" in queries
    negated = await client.list_all("accounts", filters=[("$name[-equal]", "Acme Corp")])
    assert negated and all(a.value("$name") != "Acme Corp" for a in negated)


@pytest.mark.anyio
async def test_bad_paging_and_filters_fail_before_any_request(
    client: LightfieldClient, emu: Emulator
) -> None:
    with pytest.raises(ValueError, match="limit"):
        await client.list_page("opportunities", limit=26)
    with pytest.raises(ValueError, match="offset"):
        await client.list_page("opportunities", offset=-1)
    with pytest.raises(ValueError, match="paging parameter"):
        await client.list_page("opportunities", filters={"offset": "5"})
    assert emu.requests() == []
