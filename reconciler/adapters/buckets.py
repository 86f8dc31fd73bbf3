"""Client-side token buckets, one per API rate category (architecture.md §5, lightfield-api.md §8).

``adapters.retry`` takes a token before every attempt it sends, and feeds every response's
``X-RateLimit-*`` headers back, so that a healthy run never meets a 429: the bucket starts at the
configured rate (25/s per category by default), lowers itself to the server's announced limit,
mirrors the server's ``Remaining`` count, and stays closed until ``Reset`` when the server says the
bucket is empty. It also owns the ``Clock`` protocol through which the client reads time and
sleeps, so tests drive everything with a manual clock and never wait for real.

Buckets are shared by all coroutines of one client. Waiters queue in FIFO order, each sleeping
only for its own token, except that requests made under ``ahead_of_queue()`` go before every
request queued without it: a run that queued a hundred list pages can still confirm, at once,
the few ids a write is waiting for (``runs.link_check.LinkCheck``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol

Category = Literal["read", "search", "write"]
CATEGORIES: tuple[Category, ...] = ("read", "search", "write")

# Rounding of float clocks (a unix-epoch ManualClock has ~2e-7 s resolution) must never let us
# send a hair early and meet a 429 from a server bucket computed with the same numbers.
_SAFETY_SECONDS = 1e-4


# 0: an ordinary request; 1: one under ``ahead_of_queue``. A context variable, so the tasks a
# request spawns (a list's other pages) inherit it from the task that created them.
_PRIORITY: ContextVar[int] = ContextVar("lfr_bucket_priority", default=0)


@contextmanager
def ahead_of_queue() -> Iterator[None]:
    """Requests made, and tasks created, in this block take their tokens before every request
    queued outside one (in FIFO order among themselves). For the few requests something
    already waiting depends on; never for bulk reads, which would only reorder the queue."""
    token = _PRIORITY.set(1)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


class Clock(Protocol):
    """Time source of the client: monotonic seconds and an awaitable sleep.

    An implementation may also offer ``time()`` (unix seconds), used to turn the server's
    ``X-RateLimit-Reset`` and HTTP-date ``Retry-After`` into waits; ``time.time`` otherwise.
    """

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.monotonic`` / ``time.time`` / ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def wall_time(clock: Clock) -> float:
    """Unix time from ``clock`` when it can tell, else from the system."""
    wall = getattr(clock, "time", None)
    if callable(wall):
        return float(wall())
    return time.time()


@dataclass(frozen=True)
class RateConfig:
    """Requests per second per category; ``None`` turns client-side limiting off for it.

    ``burst`` is the bucket capacity as a number of seconds' worth of tokens (1.0 = ``rate``
    tokens, as large as the server's per-second buckets). The default stays a tenth below: a
    bucket as large as the server's empties it, then sends at exactly its refill rate, so any
    request that reaches the server a little late finds no token (429, and ``Remaining: 0``
    closes the bucket for a second). The margin absorbs 0.1 s of such jitter and costs only
    the first burst a tenth of its size.
    """

    read: float | None = 25.0
    search: float | None = 25.0
    write: float | None = 25.0
    burst: float = 0.9

    def rate(self, category: Category) -> float | None:
        rate: float | None = getattr(self, category)
        return rate

    def __post_init__(self) -> None:
        for category in CATEGORIES:
            rate = self.rate(category)
            if rate is not None and rate <= 0:
                raise ValueError(f"rate for {category!r} must be positive or None, got {rate}")
        if self.burst <= 0:
            raise ValueError(f"burst must be positive, got {self.burst}")


class TokenBucket:
    """A token bucket refilled continuously at ``rate`` tokens/s up to ``capacity``.

    Starts full. ``acquire`` waits (through the clock) until a token is available and takes it;
    ``observe`` adapts the bucket to the server's rate-limit headers; ``hold`` keeps it closed
    for a while (after a 429).
    """

    def __init__(self, rate: float, clock: Clock, *, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._clock = clock
        self._rate = rate
        self._capacity = max(1.0, capacity if capacity is not None else rate)
        self._tokens = self._capacity
        self._updated = clock.monotonic()
        self._closed_until = float("-inf")
        # The waiters for the turn: (-priority, arrival, future); one coroutine at a time holds
        # the turn (``_busy``) and hands it to the first waiter when it has its token.
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._busy = False

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def capacity(self) -> float:
        return self._capacity

    @property
    def tokens(self) -> float:
        self._refill(self._clock.monotonic())
        return self._tokens

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now

    async def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited (queueing
        behind other coroutines included)."""
        started = self._clock.monotonic()
        await self._turn()
        try:
            while True:
                now = self._clock.monotonic()
                self._refill(now)
                if now < self._closed_until:
                    delay = self._closed_until - now + _SAFETY_SECONDS
                elif self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return now - started
                else:
                    delay = (1.0 - self._tokens) / self._rate + _SAFETY_SECONDS
                await self._clock.sleep(delay)
        finally:
            self._hand_over()

    async def _turn(self) -> None:
        """Wait until this coroutine holds the turn: at once when nobody does, else when handed
        it (the first waiter by priority, then arrival)."""
        if not self._busy:
            self._busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-_PRIORITY.get(), next(self._arrivals), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._hand_over()  # handed the turn, then cancelled: pass it on
            raise

    def _hand_over(self) -> None:
        while self._waiters:
            turn = heapq.heappop(self._waiters)[2]
            if not turn.done():  # (a cancelled waiter's future is done)
                turn.set_result(None)
                return
        self._busy = False

    def hold(self, seconds: float) -> None:
        """Keep the bucket closed for ``seconds`` from now, and empty it."""
        if seconds <= 0:
            return
        now = self._clock.monotonic()
        self._refill(now)
        self._tokens = 0.0
        self._closed_until = max(self._closed_until, now + seconds)

    def observe(
        self,
        *,
        limit: float | None = None,
        remaining: float | None = None,
        reset_in: float | None = None,
    ) -> None:
        """Adapt to the server's view: ``X-RateLimit-Limit`` / ``-Remaining`` and the seconds
        until ``X-RateLimit-Reset``.

        The rate only ever goes down (the configured rate is a ceiling the user chose). A
        ``remaining`` below our own count means somebody else shares the organisation's bucket;
        ``remaining == 0`` closes the bucket until the reset.
        """
        now = self._clock.monotonic()
        self._refill(now)
        if limit is not None and 0 < limit < self._rate:
            self._rate = float(limit)
            self._capacity = max(1.0, min(self._capacity, float(limit)))
            self._tokens = min(self._tokens, self._capacity)
        if remaining is not None and remaining >= 0:
            self._tokens = min(self._tokens, float(remaining))
            if remaining < 1 and reset_in is not None and reset_in > 0:
                # Reset is whole unix seconds and subject to clock skew; a token bucket is full
                # again after capacity/rate seconds at the latest, so never wait longer.
                wait = min(reset_in, self._capacity / self._rate)
                self._closed_until = max(self._closed_until, now + wait)


class Buckets:
    """The three category buckets of one client; a category with no rate is never limited."""

    def __init__(self, config: RateConfig | None, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[Category, TokenBucket] = {}
        if config is not None:
            for category in CATEGORIES:
                rate = config.rate(category)
                if rate is not None:
                    self._buckets[category] = TokenBucket(rate, clock, capacity=rate * config.burst)

    def get(self, category: Category) -> TokenBucket | None:
        return self._buckets.get(category)

    async def acquire(self, category: Category) -> float:
        bucket = self._buckets.get(category)
        return 0.0 if bucket is None else await bucket.acquire()

    def hold(self, category: Category, seconds: float) -> None:
        bucket = self._buckets.get(category)
        if bucket is not None:
            bucket.hold(seconds)

    def observe_headers(self, category: Category, headers: _HeaderLookup) -> None:
        """Feed a response's ``X-RateLimit-*`` headers to the category's bucket."""
        bucket = self._buckets.get(category)
        if bucket is None:
            return
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset = _number(headers.get("x-ratelimit-reset"))
        reset_in = None if reset is None else reset - wall_time(self._clock)
        if limit is None and remaining is None:
            return
        bucket.observe(limit=limit, remaining=remaining, reset_in=reset_in)


class _HeaderLookup(Protocol):
    def get(self, key: str, default: None = None) -> str | None: ...


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None
