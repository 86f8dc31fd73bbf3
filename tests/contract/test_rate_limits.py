"""Rate limits through the official SDK (lightfield-api.md §8): ``X-RateLimit-*`` headers on every
response (read through ``.with_raw_response``), an injected 429 and a real per-category limit both
raised as ``RateLimitError`` with ``Retry-After``.

Each test runs on a private emulator whose clock only moves when the test says so, so bucket
arithmetic is exact and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import lightfield
import pytest

from reconciler.emulator.clock import ManualClock
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from tests.support.sdk import Served, error_of


def _limits(headers: httpx.Headers) -> tuple[int, int, int]:
    return (
        int(headers["X-RateLimit-Limit"]),
        int(headers["X-RateLimit-Remaining"]),
        int(headers["X-RateLimit-Reset"]),
    )


def test_rate_limit_headers_are_visible_through_raw_responses(
    serve: Callable[..., Served],
) -> None:
    clock = ManualClock()
    served = serve(clock=clock)
    with served.client() as sdk:
        first = sdk.opportunity.with_raw_response.list(limit=1)
        second = sdk.opportunity.with_raw_response.list(limit=1)
        retrieve = sdk.opportunity.with_raw_response.retrieve(first.parse().data[0].id)

    assert first.parse().total_count >= 1  # the raw response still parses in strict mode
    limit, remaining, reset = _limits(first.headers)
    assert (limit, remaining) == (25, 24)
    assert clock.now() < reset <= clock.now() + 1  # 25/s refills one token well within 1 s
    assert _limits(second.headers)[1] == 23
    # Read is a bucket of its own (retrieve), separate from Search (list).
    assert _limits(retrieve.headers)[:2] == (25, 24)


def test_errors_carry_rate_limit_headers_too(fresh: Served) -> None:
    with fresh.client() as sdk, pytest.raises(lightfield.NotFoundError) as caught:
        sdk.opportunity.retrieve("opp_doesnotexist000")

    assert int(caught.value.response.headers["X-RateLimit-Limit"]) == 25


def test_an_injected_429_is_a_rate_limit_error_with_retry_after(fresh: Served) -> None:
    fresh.emulator.faults.configure(
        FaultConfig(rules=[FaultRule(action="status", status=429, retry_after=1, times=1)])
    )
    with fresh.client() as sdk:
        with pytest.raises(lightfield.RateLimitError) as caught:
            sdk.opportunity.list()

        assert error_of(caught.value)["type"] == "too_many_requests"
        assert caught.value.response.headers["Retry-After"] == "1"
        assert sdk.opportunity.list().object == "list"  # the rule fired once


def test_an_injected_429_on_a_write_runs_nothing(fresh: Served) -> None:
    fresh.emulator.faults.configure(
        FaultConfig(rules=[FaultRule(action="status", method="POST", status=429, retry_after=1)])
    )
    before = len(fresh.emulator.mutations())
    with fresh.client() as sdk:
        account_id = sdk.account.list(limit=1).data[0].id
        with pytest.raises(lightfield.RateLimitError):
            sdk.opportunity.create(
                fields={"$name": "Never"}, relationships={"$account": account_id}
            )

    assert len(fresh.emulator.mutations()) == before


def test_a_real_limit_refuses_the_request_over_the_rate(serve: Callable[..., Served]) -> None:
    clock = ManualClock()
    served = serve(clock=clock, rate_limits=RateLimitConfig(per_second={"search": 2.0}))
    with served.client() as sdk:
        first = sdk.opportunity.with_raw_response.list(limit=1)
        second = sdk.opportunity.with_raw_response.list(limit=1)
        assert [_limits(first.headers)[:2], _limits(second.headers)[:2]] == [(2, 1), (2, 0)]

        with pytest.raises(lightfield.RateLimitError) as caught:
            sdk.opportunity.list(limit=1)

        assert error_of(caught.value)["type"] == "too_many_requests"
        headers = caught.value.response.headers
        assert 0 < float(headers["Retry-After"]) <= 1
        assert headers["X-RateLimit-Remaining"] == "0"
        # Other categories keep their own buckets.
        assert sdk.opportunity.retrieve(first.parse().data[0].id).id
        assert sdk.auth.validate().active is True

        clock.advance(0.5)  # one token at 2/s
        assert sdk.opportunity.list(limit=1).object == "list"
        with pytest.raises(lightfield.RateLimitError):
            sdk.opportunity.list(limit=1)
