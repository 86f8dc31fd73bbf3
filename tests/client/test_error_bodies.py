"""Parsing of error bodies the emulator never produces, against ``httpx.MockTransport``.

The emulator always answers with the documented envelope; the older docs print un-enveloped
bodies (409 idempotency, 429), proxies answer HTML, and a 2xx may be damaged. A MockTransport is
a fake *server* here: the client code runs unchanged.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable

import httpx
import pytest

from reconciler.adapters.buckets import RateConfig
from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.core.errors import (
    ApiError,
    BadRequest,
    Conflict,
    RateLimited,
    RetryBudgetExhausted,
    ServerError,
    TransportError,
    Unprocessable,
)
from reconciler.emulator.clock import ManualClock
from tests.support.client import FakeClock

KEY = "sk_lf_0_secretvalue42"
RECORD = {"id": "opp_1", "createdAt": "2026-01-01T00:00:00.000Z", "fields": {}, "relationships": {}}

Handler = Callable[[httpx.Request], httpx.Response]


def fake_server(*answers: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A server answering ``answers`` in order (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx.MockTransport(handler), seen


def make(transport: httpx.MockTransport, clock: FakeClock, **kw: object) -> LightfieldClient:
    return LightfieldClient(
        KEY,
        base_url="https://api.example.test",
        transport=transport,
        clock=clock,
        rates=RateConfig(read=None, search=None, write=None),
        retry=RetryPolicy(rng=random.Random(1)),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(ManualClock())


def json_response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.anyio
async def test_unenveloped_idempotency_conflict_is_retried_with_the_same_key(
    clock: FakeClock,
) -> None:
    transport, seen = fake_server(
        json_response(
            409,
            {
                "type": "idempotency_conflict",
                "message": "An operation with this idempotency key is already in progress.",
            },
        ),
        json_response(200, RECORD),
    )
    async with make(transport, clock) as client:
        record = await client.update(
            "opportunities", "opp_1", {"fields": {"$name": "x"}}, idempotency_key="k-1"
        )
    assert record.id == "opp_1"
    assert [r.headers["idempotency-key"] for r in seen] == ["k-1", "k-1"]
    assert seen[0].content == seen[1].content


@pytest.mark.parametrize(
    "body",
    [
        {"type": "idempotency_conflict", "message": "busy"},
        {"error": {"type": "idempotency_conflict", "message": "busy"}},
        {"error": {"type": "conflict", "code": "idempotency_conflict", "message": "busy"}},
    ],
)
@pytest.mark.anyio
async def test_every_spelling_of_idempotency_conflict_is_recognised(
    clock: FakeClock, body: dict[str, object]
) -> None:
    # A GET carries no key, so only the idempotency spelling makes a 409 retryable there.
    transport, seen = fake_server(json_response(409, body), json_response(200, RECORD))
    async with make(transport, clock) as client:
        await client.retrieve("opportunities", "opp_1")
    assert len(seen) == 2


@pytest.mark.anyio
async def test_plain_conflict_on_a_read_is_not_retried(clock: FakeClock) -> None:
    transport, seen = fake_server(
        json_response(409, {"error": {"type": "conflict", "message": "locked"}})
    )
    async with make(transport, clock) as client:
        with pytest.raises(Conflict) as caught:
            await client.retrieve("opportunities", "opp_1")
    assert not caught.value.is_idempotency_conflict
    assert len(seen) == 1


@pytest.mark.anyio
async def test_plain_conflict_on_a_keyed_write_is_retried(clock: FakeClock) -> None:
    transport, seen = fake_server(
        json_response(409, {"error": {"type": "conflict", "message": "concurrent update"}}),
        json_response(200, RECORD),
    )
    async with make(transport, clock) as client:
        await client.update("opportunities", "opp_1", {}, idempotency_key="k-2")
    assert len(seen) == 2


@pytest.mark.anyio
async def test_unenveloped_429_is_rate_limited_and_honours_retry_after(clock: FakeClock) -> None:
    transport, _ = fake_server(
        json_response(
            429,
            {"type": "too_many_requests", "message": "Rate limit exceeded."},
            **{"Retry-After": "3"},
        ),
        json_response(200, RECORD),
    )
    retries: list[tuple[int, str, float]] = []
    async with make(
        transport, clock, on_retry=lambda n, e, d: retries.append((n, type(e).__name__, d))
    ) as client:
        await client.retrieve("opportunities", "opp_1")
        assert client.stats.rate_limited == 1
    assert retries == [(1, "RateLimited", 3.0)]
    assert sum(clock.sleeps) >= 3.0


@pytest.mark.anyio
async def test_retry_after_ms_wins_over_retry_after(clock: FakeClock) -> None:
    transport, _ = fake_server(
        json_response(
            503,
            {"error": {"type": "service_unavailable", "message": "down"}},
            **{"Retry-After": "9", "retry-after-ms": "1500"},
        ),
        json_response(200, RECORD),
    )
    async with make(transport, clock) as client:
        await client.retrieve("opportunities", "opp_1")
    assert clock.sleeps == [1.5]


@pytest.mark.anyio
async def test_retry_after_as_http_date(clock: FakeClock) -> None:
    date = email.utils.formatdate(clock.time() + 4, usegmt=True)
    transport, _ = fake_server(
        json_response(429, {"error": {"type": "too_many_requests"}}, **{"Retry-After": date}),
        json_response(200, RECORD),
    )
    async with make(transport, clock) as client:
        await client.retrieve("opportunities", "opp_1")
    assert clock.sleeps[0] == pytest.approx(4.0, abs=1.0)


@pytest.mark.anyio
async def test_retry_after_beyond_the_deadline_gives_up_at_once(clock: FakeClock) -> None:
    transport, seen = fake_server(
        json_response(429, {"error": {"type": "too_many_requests"}}, **{"Retry-After": "120"})
    )
    async with make(transport, clock) as client:
        with pytest.raises(RetryBudgetExhausted) as caught:
            await client.retrieve("opportunities", "opp_1")
    assert isinstance(caught.value.last_error, RateLimited)
    assert caught.value.attempts == 1
    assert clock.sleeps == []
    assert len(seen) == 1


@pytest.mark.anyio
async def test_x_should_retry_overrides_the_status_rules(clock: FakeClock) -> None:
    transport, seen = fake_server(
        json_response(
            503, {"error": {"type": "service_unavailable"}}, **{"x-should-retry": "false"}
        )
    )
    async with make(transport, clock) as client:
        with pytest.raises(ServerError):
            await client.retrieve("opportunities", "opp_1")
    assert len(seen) == 1

    transport, seen = fake_server(
        json_response(400, {"error": {"type": "bad_request"}}, **{"x-should-retry": "true"}),
        json_response(200, RECORD),
    )
    async with make(transport, clock) as client:
        await client.retrieve("opportunities", "opp_1")
    assert len(seen) == 2


@pytest.mark.anyio
async def test_envelope_fields_and_extras_reach_the_exception(clock: FakeClock) -> None:
    candidates = [{"stageOptionId": "opt_1", "stageLabel": "Won", "pipelineId": "pd_1"}]
    transport, _ = fake_server(
        json_response(
            422,
            {
                "error": {
                    "type": "unprocessable_content",
                    "code": "ambiguous_stage_label",
                    "message": "Stage label 'Won' is ambiguous.",
                    "param": "fields.$stage",
                    "candidates": candidates,
                    "truncated": False,
                }
            },
        )
    )
    async with make(transport, clock) as client:
        with pytest.raises(Unprocessable) as caught:
            await client.update(
                "opportunities", "opp_x", {"fields": {"$stage": "Won"}}, idempotency_key="k"
            )
    error = caught.value
    assert (error.status, error.type, error.code, error.param) == (
        422,
        "unprocessable_content",
        "ambiguous_stage_label",
        "fields.$stage",
    )
    assert error.extra == {"candidates": candidates, "truncated": False}
    assert str(error) == (
        "POST /v1/opportunities/opp_x → 422 unprocessable_content (ambiguous_stage_label): "
        "Stage label 'Won' is ambiguous. [param fields.$stage]"
    )


@pytest.mark.anyio
async def test_non_json_error_body_still_maps_by_status(clock: FakeClock) -> None:
    transport, seen = fake_server(
        httpx.Response(502, text="<html><body>Bad gateway</body></html>"),
        httpx.Response(400, text=""),
    )
    async with make(transport, clock) as client:
        with pytest.raises(BadRequest) as caught:
            await client.retrieve("opportunities", "opp_1")
    assert caught.value.type == "bad_request"
    assert len(seen) == 2  # the 502 was retried, the 400 was not


@pytest.mark.anyio
async def test_server_text_echoing_the_key_is_redacted(clock: FakeClock) -> None:
    transport, _ = fake_server(
        json_response(
            401,
            {"error": {"type": "unauthorized", "message": f"Key {KEY} is revoked", "hint": KEY}},
        )
    )
    async with make(transport, clock) as client:
        with pytest.raises(ApiError) as caught:
            await client.validate_auth()
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert KEY not in repr(caught.value.extra)
    assert "redacted" in caught.value.message


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"id": 5', b'{"error": {"type": "bad_request"}}', b"[]", b""],
)
@pytest.mark.anyio
async def test_malformed_2xx_on_a_write_is_maybe_committed_and_not_retried(
    clock: FakeClock, content: bytes
) -> None:
    transport, seen = fake_server(httpx.Response(200, content=content))
    async with make(transport, clock) as client:
        with pytest.raises(TransportError) as caught:
            await client.create(
                "opportunities", {"fields": {"$name": "x"}}, idempotency_key="k-create"
            )
    assert caught.value.maybe_committed
    assert len(seen) == 1
    assert "Record" in str(caught.value)


@pytest.mark.anyio
async def test_malformed_2xx_on_a_read_is_retried(clock: FakeClock) -> None:
    transport, seen = fake_server(
        httpx.Response(200, content=b'{"object": "list", "dat'),
        json_response(200, {"object": "list", "data": [RECORD], "totalCount": 1}),
    )
    async with make(transport, clock) as client:
        page = await client.list_page("opportunities")
    assert [r.id for r in page.data] == ["opp_1"]
    assert len(seen) == 2


@pytest.mark.anyio
async def test_connection_errors_are_retried_and_then_reported(clock: FakeClock) -> None:
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("Connection refused", request=request)

    async with make(httpx.MockTransport(refuse), clock) as client:
        with pytest.raises(RetryBudgetExhausted) as caught:
            await client.delete("opportunities", "opp_1")
    assert caught.value.attempts == 5
    assert len(attempts) == 5
    last = caught.value.last_error
    assert isinstance(last, TransportError)
    assert not last.maybe_committed  # never connected: nothing can have been applied
    assert "ConnectError" in str(caught.value)
    # Full jitter under a doubling ceiling: 0.5 s, 1 s, 2 s, 4 s.
    assert len(clock.sleeps) == 4
    for retries_made, delay in enumerate(clock.sleeps):
        assert 0.0 <= delay <= 0.5 * 2**retries_made


@pytest.mark.anyio
async def test_read_timeout_on_a_write_is_retried_with_the_same_key(clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def slow_then_ok(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json=RECORD)

    async with make(httpx.MockTransport(slow_then_ok), clock) as client:
        await client.create("opportunities", {"fields": {}}, idempotency_key=None)
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(seen) == 2 and len(keys) == 1  # a minted per-call key, reused on the retry
    assert next(iter(keys)).startswith("lfr-call-")
