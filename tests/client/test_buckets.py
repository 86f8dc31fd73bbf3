"""Client-side token buckets on simulated time: rate bound, burst, adaptation to server headers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reconciler.adapters.buckets import Buckets, RateConfig, TokenBucket, ahead_of_queue
from reconciler.emulator.clock import ManualClock
from tests.support.client import FakeClock


def assert_rate_bound(times: list[float], rate: float, capacity: float) -> None:
    """Any window [times[i], times[j]] holds at most capacity + rate * width acquisitions."""
    times = sorted(times)
    for i in range(len(times)):
        for j in range(i, len(times)):
            allowed = capacity + rate * (times[j] - times[i]) + 1e-6
            assert j - i + 1 <= allowed, (i, j, times[i], times[j])


@pytest.mark.anyio
async def test_n_sequential_acquisitions_take_at_least_n_minus_capacity_over_rate() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(10.0, clock, capacity=5.0)
    start = clock.monotonic()
    times = []
    for _ in range(45):
        await bucket.acquire()
        times.append(clock.monotonic())
    elapsed = clock.monotonic() - start
    assert elapsed >= (45 - 5) / 10.0
    assert elapsed < (45 - 5) / 10.0 + 0.05  # and it does not dawdle either
    assert times[4] == start  # the burst goes out at once
    assert_rate_bound(times, 10.0, 5.0)


@pytest.mark.anyio
async def test_many_concurrent_coroutines_share_the_rate() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(25.0, clock)
    times: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        times.append(clock.monotonic())

    start = clock.monotonic()
    await asyncio.gather(*(one() for _ in range(100)))
    assert len(times) == 100
    assert max(times) - start >= (100 - 25) / 25.0
    assert_rate_bound([t - start for t in times], 25.0, 25.0)


@pytest.mark.anyio
async def test_idle_time_refills_only_up_to_capacity() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(2.0, clock, capacity=2.0)
    for _ in range(2):
        await bucket.acquire()
    clock.manual.advance(100.0)
    assert bucket.tokens == pytest.approx(2.0)
    await bucket.acquire()
    await bucket.acquire()
    waited = await bucket.acquire()
    assert waited == pytest.approx(0.5, abs=1e-3)


@pytest.mark.anyio
async def test_server_limit_lowers_the_rate_but_never_raises_it() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(25.0, clock)
    bucket.observe(limit=100, remaining=99)
    assert bucket.rate == 25.0
    bucket.observe(limit=5, remaining=4)
    assert bucket.rate == 5.0
    assert bucket.capacity == 5.0
    assert bucket.tokens <= 4.0


@pytest.mark.anyio
async def test_remaining_zero_closes_the_bucket_until_reset() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(25.0, clock)
    bucket.observe(limit=25, remaining=0, reset_in=0.6)
    waited = await bucket.acquire()
    assert waited >= 0.6
    # A Reset far away (clock skew) never blocks longer than a full refill takes.
    bucket.observe(limit=25, remaining=0, reset_in=3600.0)
    assert await bucket.acquire() <= 1.0 + 1e-3


@pytest.mark.anyio
async def test_hold_blocks_every_waiter() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(25.0, clock)
    bucket.hold(2.0)
    start = clock.monotonic()
    await asyncio.gather(bucket.acquire(), bucket.acquire())
    assert clock.monotonic() - start >= 2.0


@pytest.mark.anyio
async def test_buckets_read_rate_limit_headers_per_category() -> None:
    manual = ManualClock()
    clock = FakeClock(manual)
    buckets = Buckets(RateConfig(read=25.0, search=25.0, write=None), clock)
    headers = httpx.Headers(
        {
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(manual.now()) + 1),
        }
    )
    buckets.observe_headers("read", headers)
    read = buckets.get("read")
    search = buckets.get("search")
    assert read is not None and search is not None
    assert read.rate == 10.0
    assert search.rate == 25.0  # other categories are untouched
    assert buckets.get("write") is None
    assert await buckets.acquire("write") == 0.0  # unlimited category never waits
    assert await buckets.acquire("read") > 0.0


def test_garbage_headers_are_ignored() -> None:
    clock = FakeClock(ManualClock())
    buckets = Buckets(RateConfig(), clock)
    buckets.observe_headers("read", httpx.Headers({"X-RateLimit-Limit": "lots"}))
    buckets.observe_headers("read", httpx.Headers({"X-RateLimit-Limit": "nan"}))
    bucket = buckets.get("read")
    assert bucket is not None and bucket.rate == 25.0


def test_rate_config_rejects_non_positive_rates() -> None:
    with pytest.raises(ValueError, match="read"):
        RateConfig(read=0)
    with pytest.raises(ValueError, match="burst"):
        RateConfig(burst=0)
    assert Buckets(None, FakeClock(ManualClock())).get("read") is None


@pytest.mark.anyio
async def test_requests_ahead_of_queue_overtake_those_queued_before_them() -> None:
    """A write waiting on one id's confirmation must not wait behind a plan's hundred queued
    list pages (row 3h of BENCHMARKS.md): the urgent request takes the next token; the others
    keep their order and the rate still holds."""
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(10.0, clock, capacity=1.0)
    order: list[str] = []
    times: list[float] = []

    async def one(name: str) -> None:
        await bucket.acquire()
        order.append(name)
        times.append(clock.monotonic())

    # The pages start first (tasks run in the order they were made): page0 takes the token,
    # page1 holds the turn waiting for the next, the others queue; then the ids queue.
    bulk = [asyncio.create_task(one(f"page{i}")) for i in range(8)]
    with ahead_of_queue():
        urgent = [asyncio.create_task(one(f"id{i}")) for i in range(2)]
    await asyncio.gather(*bulk, *urgent)
    assert order[:2] == ["page0", "page1"]
    assert order[2:4] == ["id0", "id1"]
    assert order[4:] == [f"page{i}" for i in range(2, 8)]
    assert_rate_bound(times, 10.0, 1.0)


@pytest.mark.anyio
async def test_a_cancelled_waiter_does_not_stall_the_queue() -> None:
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(10.0, clock, capacity=1.0)
    done: list[int] = []

    async def one(index: int) -> None:
        await bucket.acquire()
        done.append(index)

    tasks = [asyncio.create_task(one(i)) for i in range(4)]
    for _ in range(3):
        await asyncio.sleep(0)
    tasks[2].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert done == [0, 1, 3]
    await asyncio.wait_for(bucket.acquire(), 5)  # the turn is free again


@pytest.mark.anyio
async def test_a_waiter_cancelled_once_handed_the_turn_passes_it_on() -> None:
    """A waiter may be cancelled after the turn was handed to it and before it ran: it must
    hand it on, or every later request waits for ever."""
    clock = FakeClock(ManualClock())
    bucket = TokenBucket(10.0, clock, capacity=1.0)
    done: list[str] = []
    tasks: dict[str, asyncio.Task[None]] = {}

    async def one(name: str, then_cancel: str = "") -> None:
        await bucket.acquire()  # b's hands the turn to c as it returns ...
        done.append(name)
        if then_cancel:
            tasks[then_cancel].cancel()  # ... and c is cancelled before it runs

    # a takes the only token; b holds the turn waiting for the next; c and d queue.
    for name, cancel in (("a", ""), ("b", "c"), ("c", ""), ("d", "")):
        tasks[name] = asyncio.create_task(one(name, cancel))
    results = await asyncio.wait_for(asyncio.gather(*tasks.values(), return_exceptions=True), 5)
    assert isinstance(results[2], asyncio.CancelledError)
    assert done == ["a", "b", "d"]
    await asyncio.wait_for(bucket.acquire(), 5)
