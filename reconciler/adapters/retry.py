"""The retry loop of a call: the client-side bucket before every attempt, the same request
re-sent, and the rules for when to stop (README "The API client"; architecture.md §5).

Every attempt of a call re-sends the same bytes and the same ``Idempotency-Key``
(``adapters.http.Call``), so a retried write is replayed by the server, never applied twice. The
delay is the server's (``retry-after-ms``, ``Retry-After``) or capped exponential backoff with
full jitter; a 429 also closes the category's bucket for that long, so sibling coroutines wait
too. When the attempt cap is reached, or the wait would cross the per-call deadline (counted from
the first attempt, so queueing for the first token does not eat it), the call raises
``RetryBudgetExhausted`` carrying the last error, without sleeping in vain.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.errors import ApiError, LfrError, RetryBudgetExhausted
from ..core.records import Response
from .buckets import CATEGORIES, Buckets, Category, Clock
from .http import Call, Exchange, Failed

logger = logging.getLogger("reconciler.client")  # one name for the client's log


RetryHook = Callable[[int, LfrError, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How long one call keeps trying. ``deadline`` (seconds, None = none) bounds a call from its
    first attempt on, every wait included; a retry whose wait would cross it is not attempted."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float | None = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retries_made: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**retries_made)]."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retries_made, 32))
        return self.rng.uniform(0.0, ceiling)


@dataclass
class ClientStats:
    """Counters for benchmarks and tests; ``requests`` counts attempts actually sent."""

    requests: dict[Category, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    retries: int = 0
    rate_limited: int = 0  # 429 answers received
    throttled_seconds: float = 0.0  # waits for client-side tokens, summed over calls

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@dataclass(frozen=True)
class Retrying:
    """What one client's calls share: the policy, the buckets, the clock, the retry hook."""

    policy: RetryPolicy
    buckets: Buckets
    clock: Clock
    on_retry: RetryHook | None = None


async def with_retries(
    exchange: Exchange,
    call: Call,
    model: type[Response],
    category: Category,
    retrying: Retrying,
    stats: ClientStats,
) -> Response:
    """``call`` answered as ``model``, attempted until it succeeds or retrying is over."""
    method, path, policy = call.method, call.path, retrying.policy
    started: float | None = None
    attempt = 0
    while True:
        attempt += 1
        waited = await retrying.buckets.acquire(category)
        stats.throttled_seconds += waited  # after the await: no lost update
        if started is None:
            # The deadline bounds retrying, not queueing for our own first token: a large
            # run queues many calls behind the client-side buckets by design.
            started = retrying.clock.monotonic()
        stats.requests[category] += 1
        result = await exchange.attempt(
            call,
            model,
            attempt=attempt,
            observe=lambda headers: retrying.buckets.observe_headers(category, headers),
        )
        if not isinstance(result, Failed):
            return result
        error = result.error
        if isinstance(error, ApiError) and error.status == 429:
            stats.rate_limited += 1
        if not result.retryable:
            raise error
        delay = result.server_delay
        if delay is None:
            delay = policy.backoff(attempt - 1)
        elapsed = retrying.clock.monotonic() - started
        out_of_time = policy.deadline is not None and elapsed + delay > policy.deadline
        if attempt >= policy.max_attempts or out_of_time:
            logger.debug("%s %s giving up after %d attempts: %s", method, path, attempt, error)
            raise RetryBudgetExhausted(error, attempts=attempt, elapsed=elapsed) from error
        if isinstance(error, ApiError) and error.status == 429:
            # Every coroutine of this category waits, not just this one.
            retrying.buckets.hold(category, delay)
        stats.retries += 1
        logger.debug(
            "%s %s retrying in %.3fs after attempt %d: %s", method, path, delay, attempt, error
        )
        if retrying.on_retry is not None:
            retrying.on_retry(attempt, error, delay)
        await retrying.clock.sleep(delay)
