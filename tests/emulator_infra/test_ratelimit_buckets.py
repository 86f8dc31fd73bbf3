"""Token buckets and rate categories of the emulator (lightfield-api.md §8), driven by a
ManualClock."""

from __future__ import annotations

import math
import threading

import pytest

from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import (
    Category,
    RateDecision,
    RateLimitConfig,
    RateLimiter,
    category_for,
    retry_after_headers,
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/opportunities", "search"),
        ("GET", "/v1/opportunities/", "search"),
        ("GET", "/v1/opportunities?limit=25&offset=25", "search"),
        ("GET", "/v1/accounts", "search"),
        ("GET", "/v1/contacts", "search"),
        ("GET", "/v1/members", "search"),
        ("GET", "/v1/lists", "search"),
        ("GET", "/v1/lists/lst_1/opportunities", "search"),
        ("GET", "/v1/lists/lst_1/accounts", "search"),
        ("GET", "/v1/objects/vendor", "search"),
        ("GET", "/v1/sequences/seq_1/enrollments", "search"),
        ("GET", "/v1/opportunities/opp_cm4stu901uvw234", "read"),
        ("GET", "/v1/opportunities/definitions", "read"),
        ("GET", "/v1/opportunities/opp_1/fields/%24stage/history", "read"),
        ("GET", "/v1/auth/validate", "read"),
        ("GET", "/v1/merges/mrg_1", "read"),
        ("GET", "/v1/members/mem_1", "read"),
        ("GET", "/v1/lists/lst_1", "read"),
        ("GET", "/v1/objects", "read"),
        ("GET", "/v1/objects/vendor/definitions", "read"),
        ("GET", "/v1/objects/vendor/values/rec_1", "read"),
        ("get", "/v1/opportunities", "search"),
        ("POST", "/v1/opportunities", "write"),
        ("POST", "/v1/opportunities/opp_1", "write"),
        ("POST", "/v1/opportunities/opp_1/restore", "write"),
        ("POST", "/v1/opportunities/merge", "write"),
        ("DELETE", "/v1/opportunities/opp_1", "write"),
    ],
)
def test_category_for(method: str, path: str, expected: Category) -> None:
    assert category_for(method, path) == expected


def _drain(limiter: RateLimiter, org: str, category: Category, n: int) -> list[RateDecision]:
    return [limiter.take(org, category) for _ in range(n)]


def test_a_full_bucket_allows_one_second_of_burst_then_refuses(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(), clock)

    decisions = _drain(limiter, "org_a", "write", 26)

    assert all(d.allowed for d in decisions[:25])
    assert [d.remaining for d in decisions[:25]] == list(range(24, -1, -1))
    assert all(d.limit == 25 for d in decisions)
    refused = decisions[25]
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after == pytest.approx(0.04)


def test_refill_is_continuous(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"write": 10.0}), clock)
    _drain(limiter, "org_a", "write", 10)
    assert not limiter.take("org_a", "write").allowed

    clock.advance(0.05)  # half a token
    assert not limiter.take("org_a", "write").allowed
    clock.advance(0.05)  # a whole token
    decision = limiter.take("org_a", "write")
    assert decision.allowed
    assert decision.remaining == 0
    assert not limiter.take("org_a", "write").allowed

    clock.advance(0.35)  # 3.5 tokens: three requests pass
    assert [limiter.take("org_a", "write").allowed for _ in range(4)] == [True, True, True, False]


def test_many_small_clock_steps_add_up_to_whole_tokens(clock: ManualClock) -> None:
    # 25/s with one request every 40 ms must never be refused (float drift must not bite).
    limiter = RateLimiter(RateLimitConfig(), clock)
    _drain(limiter, "org_a", "read", 25)
    for _ in range(500):
        clock.advance(0.04)
        assert limiter.take("org_a", "read").allowed


def test_refill_never_exceeds_capacity(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(), clock)
    limiter.take("org_a", "search")
    clock.advance(3600)
    decisions = _drain(limiter, "org_a", "search", 26)
    assert decisions[0].remaining == 24
    assert not decisions[25].allowed


def test_reset_is_when_the_bucket_is_full_again(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"read": 4.0}), clock)
    first = limiter.take("org_a", "read")
    # one token short at 4/s: full again in 0.25 s, rounded up to the next whole second
    assert first.reset == math.ceil(clock.now() + 0.25)
    _drain(limiter, "org_a", "read", 3)
    clock.advance(0.5)
    empty_then_two = limiter.take("org_a", "read")  # 2 tokens refilled, 1 taken: 1 left
    assert empty_then_two.remaining == 1
    assert empty_then_two.reset == math.ceil(clock.now() + 3 / 4)


def test_retry_after_is_the_time_to_one_token(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"write": 2.0}), clock)
    _drain(limiter, "org_a", "write", 2)
    clock.advance(0.2)  # 0.4 tokens
    refused = limiter.take("org_a", "write")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.3)
    clock.advance(0.3)
    assert limiter.take("org_a", "write").allowed


def test_headers_on_allowed_and_refused_decisions(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"write": 0.5}), clock)
    allowed = limiter.take("org_a", "write")
    assert allowed.headers() == {
        "X-RateLimit-Limit": "1",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(math.ceil(clock.now() + 2)),
    }
    clock.advance(0.5)
    refused = limiter.take("org_a", "write")
    headers = refused.headers()
    assert headers["Retry-After"] == "2"  # 1.5 s, rounded up to whole seconds
    assert headers["retry-after-ms"] == "1500"
    assert headers["X-RateLimit-Remaining"] == "0"


def test_retry_after_header_is_at_least_one_second(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"search": 1000.0}), clock)
    _drain(limiter, "org_a", "search", 1000)
    refused = limiter.take("org_a", "search")
    assert refused.retry_after == pytest.approx(0.001)
    assert refused.headers()["Retry-After"] == "1"
    assert refused.headers()["retry-after-ms"] == "1"


def test_buckets_are_per_org_and_per_category(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(), clock)
    _drain(limiter, "org_a", "write", 25)
    assert not limiter.take("org_a", "write").allowed

    assert limiter.take("org_b", "write").remaining == 24
    assert limiter.take("org_a", "read").remaining == 24
    assert limiter.take("org_a", "search").remaining == 24


def test_per_category_rates(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"read": 5.0, "search": 2.0}), clock)
    assert [d.allowed for d in _drain(limiter, "org_a", "search", 3)] == [True, True, False]
    assert [d.allowed for d in _drain(limiter, "org_a", "read", 6)] == [True] * 5 + [False]
    assert limiter.take("org_a", "write").limit == 25  # absent category: documented default


def test_disabled_never_refuses_and_reports_a_full_bucket(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(enabled=False), clock)
    decisions = _drain(limiter, "org_a", "write", 100)
    assert all(d.allowed for d in decisions)
    assert decisions[-1].headers() == {
        "X-RateLimit-Limit": "25",
        "X-RateLimit-Remaining": "25",
        "X-RateLimit-Reset": str(math.ceil(clock.now())),
    }


def test_configure_replaces_limits_and_refills(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(), clock)
    _drain(limiter, "org_a", "write", 25)
    limiter.configure(RateLimitConfig(per_second={"write": 3.0}))
    assert [d.allowed for d in _drain(limiter, "org_a", "write", 4)] == [True] * 3 + [False]


@pytest.mark.parametrize("per_second", [{"write": 0.0}, {"read": -1.0}, {"bulk": 5.0}])
def test_invalid_config_is_rejected(per_second: dict[Category, float]) -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimitConfig(per_second=per_second)


def test_concurrent_takes_never_hand_out_more_than_the_capacity(clock: ManualClock) -> None:
    limiter = RateLimiter(RateLimitConfig(per_second={"write": 100.0}), clock)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        results = [limiter.take("org_a", "write").allowed for _ in range(50)]
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 100
    assert len(allowed) == 400


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, {"Retry-After": "1", "retry-after-ms": "1000"}),
        (0.0, {"Retry-After": "1", "retry-after-ms": "1000"}),
        (0.04, {"Retry-After": "1", "retry-after-ms": "40"}),
        (1.0, {"Retry-After": "1", "retry-after-ms": "1000"}),
        (2.5, {"Retry-After": "3", "retry-after-ms": "2500"}),
        (0.0004, {"Retry-After": "1", "retry-after-ms": "1"}),
    ],
)
def test_retry_after_headers(seconds: float | None, expected: dict[str, str]) -> None:
    assert retry_after_headers(seconds) == expected
