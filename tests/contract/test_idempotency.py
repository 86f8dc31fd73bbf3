"""``Idempotency-Key`` through the official SDK (lightfield-api.md §7): a repeated key replays the
stored response without running the operation again, failures are not stored, keys are scoped per
operation, a key still in flight is a 409 ``ConflictError``, and the SDK's own retries (which copy
the caller's headers into every attempt) are made safe by the replay.

Each test runs on a private emulator, because it counts mutations in the emulator's log.
"""

from __future__ import annotations

import asyncio
import uuid

import lightfield
import pytest
from lightfield import Lightfield

from reconciler.emulator.faults import FaultConfig, FaultRule
from tests.support.sdk import Served, create_opportunity, error_of, unique


def _key() -> str:
    return f"contract-{uuid.uuid4()}"


def _first_account(sdk: Lightfield) -> str:
    return sdk.account.list(limit=1).data[0].id


def test_a_replayed_create_returns_the_first_response_and_creates_once(fresh: Served) -> None:
    key, name = _key(), unique("Idempotent create")
    with fresh.client() as sdk:
        account_id = _first_account(sdk)
        before = len(fresh.emulator.mutations())

        first = create_opportunity(
            sdk, account_id, name=name, extra_headers={"Idempotency-Key": key}
        )
        second = create_opportunity(
            sdk, account_id, name=name, extra_headers={"Idempotency-Key": key}
        )

        assert second.model_dump() == first.model_dump()
        assert len(fresh.emulator.mutations()) - before == 1
        assert sdk.opportunity.list(extra_query={"$name[equal]": name}).total_count == 1


def test_a_replayed_update_is_not_applied_again(fresh: Served) -> None:
    key = _key()
    with fresh.client() as sdk:
        created = create_opportunity(sdk, _first_account(sdk))
        first = sdk.opportunity.update(
            created.id, fields={"$name": "Planned name"}, extra_headers={"Idempotency-Key": key}
        )
        sdk.opportunity.update(created.id, fields={"$name": "Edited by hand"})
        mutations = len(fresh.emulator.mutations())

        replayed = sdk.opportunity.update(
            created.id, fields={"$name": "Planned name"}, extra_headers={"Idempotency-Key": key}
        )

        assert replayed.model_dump() == first.model_dump()
        assert len(fresh.emulator.mutations()) == mutations
        assert sdk.opportunity.retrieve(created.id).fields["$name"].value == "Edited by hand"


def test_a_failed_request_is_not_stored(fresh: Served) -> None:
    key = _key()
    with fresh.client() as sdk:
        created = create_opportunity(sdk, _first_account(sdk))
        fresh.emulator.faults.configure(
            FaultConfig(rules=[FaultRule(action="status", method="POST", status=500)])
        )
        with pytest.raises(lightfield.InternalServerError):
            sdk.opportunity.update(
                created.id, fields={"$name": "Second try"}, extra_headers={"Idempotency-Key": key}
            )

        # "Failures are not cached": the same key runs the operation now.
        retried = sdk.opportunity.update(
            created.id, fields={"$name": "Second try"}, extra_headers={"Idempotency-Key": key}
        )

        assert retried.fields["$name"].value == "Second try"
        assert sdk.opportunity.retrieve(created.id).fields["$name"].value == "Second try"


def test_a_key_is_scoped_to_its_operation(fresh: Served) -> None:
    key = _key()
    with fresh.client() as sdk:
        account_id = _first_account(sdk)
        account = sdk.account.create(
            fields={"$name": unique("Scoped")}, extra_headers={"Idempotency-Key": key}
        )
        opportunity = create_opportunity(sdk, account_id, extra_headers={"Idempotency-Key": key})

    assert account.id.startswith("acc_")
    assert opportunity.id.startswith("opp_")
    created = [m for m in fresh.emulator.mutations() if m["idempotency_key"] == key]
    assert {m["record_id"] for m in created} == {account.id, opportunity.id}


@pytest.mark.anyio
async def test_the_same_key_while_in_flight_is_a_conflict(fresh: Served) -> None:
    key, name = _key(), unique("In flight")
    async with fresh.async_client() as sdk:
        account_id = (await sdk.account.list(limit=1)).data[0].id
        # The first request holds the key for the injected latency; the second arrives meanwhile.
        fresh.emulator.faults.configure(FaultConfig(latency_ms=300))

        async def create() -> object:
            return await sdk.opportunity.create(
                fields={"$name": name},
                relationships={"$account": account_id},
                extra_headers={"Idempotency-Key": key},
            )

        outcomes = await asyncio.gather(create(), create(), return_exceptions=True)
        fresh.emulator.faults.configure(FaultConfig())

        conflicts = [o for o in outcomes if isinstance(o, lightfield.ConflictError)]
        created = [o for o in outcomes if isinstance(o, lightfield.types.OpportunityCreateResponse)]
        assert (len(created), len(conflicts)) == (1, 1), outcomes
        error = error_of(conflicts[0])
        assert error["type"] == "conflict"
        assert error["code"] == "idempotency_conflict"

        # Once the first has finished, the same key replays it.
        replayed = await create()
        assert isinstance(replayed, lightfield.types.OpportunityCreateResponse)
        assert replayed.id == created[0].id
        listed = await sdk.opportunity.list(extra_query={"$name[equal]": name})
        assert listed.total_count == 1


def test_sdk_retries_reuse_the_key_and_get_the_replay(fresh: Served) -> None:
    key, name = _key(), unique("Retried")
    # The create commits, then the client sees a 503: the SDK retries with the same headers.
    fresh.emulator.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(
                    action="commit_then_status",
                    method="POST",
                    path="/v1/opportunities",
                    status=503,
                    retry_after=0.01,
                )
            ]
        )
    )
    with fresh.client(max_retries=2) as sdk:
        account_id = _first_account(sdk)
        created = create_opportunity(
            sdk, account_id, name=name, extra_headers={"Idempotency-Key": key}
        )
        listed = sdk.opportunity.list(extra_query={"$name[equal]": name})

    assert [record.id for record in listed.data] == [created.id]
    attempts = [r for r in fresh.emulator.requests() if r["idempotency_key"] == key]
    assert [r["status"] for r in attempts] == [503, 200]
    assert len([m for m in fresh.emulator.mutations() if m["idempotency_key"] == key]) == 1
