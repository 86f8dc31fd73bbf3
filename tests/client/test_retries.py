"""Retries against the emulator's fault injection: what is retried, with which key, how long,
and that a retried write is committed exactly once."""

from __future__ import annotations

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.core.errors import (
    LfrError,
    RateLimited,
    RetryBudgetExhausted,
    ServerError,
    TransportError,
)
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from tests.support.client import FakeClock, RecordingTransport

from .conftest import ClientFactory

UPDATE = {"fields": {"$nextSteps": "Send the order form"}}


def faults(emu: Emulator, *rules: FaultRule) -> None:
    emu.faults.configure(FaultConfig(rules=list(rules)))


def posts(emu: Emulator) -> list[dict[str, object]]:
    return [r for r in emu.requests() if r["method"] == "POST"]


def one_mutation(emu: Emulator, key: str) -> None:
    mutations = emu.mutations()
    assert len(mutations) == 1, mutations
    assert mutations[0]["idempotency_key"] == key


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
@pytest.mark.anyio
async def test_transient_statuses_are_retried_with_the_same_key(
    client: LightfieldClient, emu: Emulator, wire: RecordingTransport, opp_id: str, status: int
) -> None:
    faults(emu, FaultRule(action="status", method="POST", status=status, times=2))
    record = await client.update("opportunities", opp_id, UPDATE, idempotency_key="k-same")
    assert record.value("$nextSteps") == "Send the order form"
    sent = posts(emu)
    assert [r["status"] for r in sent] == [status, status, 200]
    assert {r["idempotency_key"] for r in sent} == {"k-same"}
    assert len({r.content for r in wire.requests}) == 1  # and the same bytes on the wire
    one_mutation(emu, "k-same")
    assert client.stats.retries == 2


@pytest.mark.parametrize("action", ["commit_then_drop", "commit_then_status"])
@pytest.mark.anyio
async def test_a_write_lost_after_commit_is_replayed_not_reapplied(
    client: LightfieldClient, emu: Emulator, opp_id: str, action: str
) -> None:
    faults(emu, FaultRule(action=action, method="POST", status=500))  # type: ignore[arg-type]
    record = await client.update("opportunities", opp_id, UPDATE, idempotency_key="k-commit")
    assert record.value("$nextSteps") == "Send the order form"
    sent = posts(emu)
    assert len(sent) == 2
    assert {r["idempotency_key"] for r in sent} == {"k-commit"}
    one_mutation(emu, "k-commit")


@pytest.mark.anyio
async def test_a_dropped_connection_before_commit_is_retried(
    make_client: ClientFactory, emu: Emulator, opp_id: str
) -> None:
    faults(emu, FaultRule(action="drop", method="POST", times=2))
    errors: list[LfrError] = []
    client = make_client(on_retry=lambda n, e, d: errors.append(e))
    await client.update("opportunities", opp_id, UPDATE, idempotency_key="k-drop")
    assert len(posts(emu)) == 3
    one_mutation(emu, "k-drop")
    assert len(errors) == 2
    assert all(isinstance(e, TransportError) and e.maybe_committed for e in errors)


@pytest.mark.anyio
async def test_a_create_without_a_caller_key_is_still_created_once(
    client: LightfieldClient, emu: Emulator
) -> None:
    account = (await client.list_page("accounts", limit=1)).data[0].id
    emu.reset_logs()
    faults(emu, FaultRule(action="commit_then_drop", method="POST"))
    created = await client.create(
        "opportunities",
        {"fields": {"$name": "Minted key"}, "relationships": {"$account": account}},
        idempotency_key=None,
    )
    keys = {r["idempotency_key"] for r in posts(emu)}
    assert len(posts(emu)) == 2 and len(keys) == 1
    assert [m["record_id"] for m in emu.mutations()] == [created.id]


@pytest.mark.anyio
async def test_idempotency_conflict_waits_for_the_first_request(
    make_client: ClientFactory, emu: Emulator, opp_id: str
) -> None:
    # Another process holds the key: the first attempt meets a real in-flight 409.
    operation = f"POST /v1/opportunities/{opp_id}"
    emu.idempotency.begin("org_demo", operation, "k-busy", "fingerprint")
    seen: list[LfrError] = []

    def on_retry(attempt: int, error: LfrError, delay: float) -> None:
        seen.append(error)
        emu.idempotency.abandon("org_demo", operation, "k-busy")  # the other one failed

    client = make_client(on_retry=on_retry)
    await client.update("opportunities", opp_id, UPDATE, idempotency_key="k-busy")
    assert [r["status"] for r in posts(emu)] == [409, 200]
    assert [getattr(e, "code", None) for e in seen] == ["idempotency_conflict"]
    one_mutation(emu, "k-busy")


@pytest.mark.anyio
async def test_retry_after_is_honoured(
    client: LightfieldClient, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    faults(emu, FaultRule(action="status", status=429, retry_after=2.5, times=1))
    await client.retrieve("opportunities", opp_id)
    assert clock.sleeps and clock.sleeps[0] >= 2.5
    assert client.stats.rate_limited == 1
    second = emu.requests()[1]
    first = emu.requests()[0]
    assert float(str(second["at"])) - float(str(first["at"])) >= 2.5


@pytest.mark.anyio
async def test_x_should_retry_false_stops_a_5xx(
    client: LightfieldClient, emu: Emulator, opp_id: str
) -> None:
    faults(emu, FaultRule(action="status", status=503, should_retry=False))
    with pytest.raises(ServerError):
        await client.retrieve("opportunities", opp_id)
    assert len(emu.requests()) == 1


@pytest.mark.anyio
async def test_attempt_cap_raises_budget_exhausted_with_the_last_error(
    client: LightfieldClient, emu: Emulator, opp_id: str
) -> None:
    faults(emu, FaultRule(action="status", method="POST", status=503, times=None))
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.update("opportunities", opp_id, UPDATE, idempotency_key="k-cap")
    assert caught.value.attempts == 5
    assert isinstance(caught.value.last_error, ServerError)
    assert "gave up after 5 attempts" in str(caught.value)
    assert len(posts(emu)) == 5
    assert emu.mutations() == []


@pytest.mark.anyio
async def test_deadline_stops_retrying_before_it_is_crossed(
    client: LightfieldClient, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    faults(emu, FaultRule(action="status", status=429, retry_after=25, times=None))
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.retrieve("opportunities", opp_id)
    # Attempts at t=0, 25 and 50; one more wait would end at 75 > 60.
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last_error, RateLimited)
    assert sum(clock.sleeps) == pytest.approx(50.0)
    assert caught.value.elapsed <= 60.0


@pytest.mark.anyio
async def test_backoff_is_capped_exponential_with_full_jitter(
    make_client: ClientFactory, emu: Emulator, clock: FakeClock, opp_id: str
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=8, deadline=None))
    faults(emu, FaultRule(action="status", status=500, times=None))
    with pytest.raises(RetryBudgetExhausted):
        await client.retrieve("opportunities", opp_id)
    assert len(clock.sleeps) == 7
    for retries_made, delay in enumerate(clock.sleeps):
        assert 0.0 <= delay <= min(8.0, 0.5 * 2**retries_made)
    assert len(set(clock.sleeps)) == 7  # jittered, not a fixed ladder


@pytest.mark.parametrize("action", ["malformed_body", "truncate_body"])
@pytest.mark.anyio
async def test_a_damaged_2xx_write_is_reported_maybe_committed(
    client: LightfieldClient, emu: Emulator, opp_id: str, action: str
) -> None:
    faults(emu, FaultRule(action=action, method="POST"))  # type: ignore[arg-type]
    with pytest.raises(TransportError) as caught:
        await client.update("opportunities", opp_id, UPDATE, idempotency_key="k-damaged")
    assert caught.value.maybe_committed
    assert len(posts(emu)) == 1  # not blindly re-sent
    one_mutation(emu, "k-damaged")  # it was applied: the caller verifies with a retrieve
    record = await client.retrieve("opportunities", opp_id)
    assert record.value("$nextSteps") == "Send the order form"


@pytest.mark.parametrize("action", ["malformed_body", "truncate_body", "drop"])
@pytest.mark.anyio
async def test_a_damaged_read_is_retried(
    client: LightfieldClient, emu: Emulator, opp_id: str, action: str
) -> None:
    faults(emu, FaultRule(action=action, method="GET"))  # type: ignore[arg-type]
    record = await client.retrieve("opportunities", opp_id)
    assert record.id == opp_id
    assert len(emu.requests()) == 2
