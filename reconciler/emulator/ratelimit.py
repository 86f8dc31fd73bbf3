"""Per-organisation token buckets of the emulated API (lightfield-api.md §8).

Owns the rate categories (Read / Search / Write) and one token bucket per (org, category).
app.py calls ``category_for`` and ``RateLimiter.take`` once per authenticated request and puts
``RateDecision.headers()`` on every response (plus the 429 body when ``allowed`` is false).

Bucket model: capacity = the per-second rate (a burst of one second, so ``X-RateLimit-Limit``
reads "25" for 25 req/s), refilled continuously from the injected ``Clock``. The docs require an
integer ``Retry-After`` in seconds; because the official SDK reads ``retry-after-ms`` first, a
refused decision also carries the precise wait in milliseconds there.

With ``enabled=False`` nothing is ever refused and the headers report a full bucket, so a client
that paces itself from ``X-RateLimit-Remaining`` is not slowed down by a limit that is off.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Literal

from .clock import Clock

Category = Literal["read", "search", "write"]

CATEGORIES: tuple[Category, ...] = ("read", "search", "write")
DEFAULT_PER_SECOND = 25.0

# Unix times near 1.8e9 carry ~2e-7 s of float error, so a refill after ``advance(0.04)`` at
# 25/s can land a few millionths under a whole token; that is a whole token.
_EPSILON = 1e-4

# GET collections whose id-less path has more than one segment (``/v1/{a}/{id}/{b}``) but is
# still a paginated list, per the SDK 0.20 docstrings ("Rate limit category: Search").
_NESTED_LISTS = {
    ("lists", "accounts"),
    ("lists", "contacts"),
    ("lists", "opportunities"),
    ("sequences", "enrollments"),
    ("sequences", "messages"),
}
# One-segment GETs that are not paginated lists.
_SINGLE_SEGMENT_READS = {"objects"}  # GET /v1/objects lists custom object *definitions*


def category_for(method: str, path: str) -> Category:
    """Rate category of a request: list endpoints are Search, other GETs Read, the rest Write.

    Search: ``GET /v1/{type}`` (opportunities, accounts, contacts, members, lists, tasks...),
    ``GET /v1/objects/{slug}`` (custom object records) and the list-membership / sequence
    sub-collections. Read: every other GET (retrieve, definitions, field history,
    ``/v1/auth/validate``, ``/v1/merges/{id}``). Write: POST, DELETE and anything else.
    """
    if method.upper() not in ("GET", "HEAD"):
        return "write"
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if segments and segments[0] == "v1":
        segments = segments[1:]
    if len(segments) == 1:
        return "read" if segments[0] in _SINGLE_SEGMENT_READS else "search"
    if len(segments) == 2 and segments[0] == "objects" and segments[1] != "definitions":
        return "search"
    if len(segments) == 3 and (segments[0], segments[2]) in _NESTED_LISTS:
        return "search"
    return "read"


@dataclass(frozen=True)
class RateLimitConfig:
    """Requests per second per category; ``enabled=False`` turns limiting off.

    Headers are still sent when off (reporting a full bucket).
    """

    per_second: dict[Category, float] = field(
        default_factory=lambda: {"read": 25.0, "search": 25.0, "write": 25.0}
    )
    enabled: bool = True

    def __post_init__(self) -> None:
        for category, rate in self.per_second.items():
            if category not in CATEGORIES:
                raise ValueError(
                    f"unknown rate category {category!r}; expected one of {', '.join(CATEGORIES)}"
                )
            if not rate > 0 or math.isinf(rate):
                raise ValueError(f"rate for {category!r} must be a positive number, got {rate!r}")

    def rate(self, category: Category) -> float:
        return self.per_second.get(category, DEFAULT_PER_SECOND)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the bucket is full again
    retry_after: float | None  # seconds, only when not allowed

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` headers, plus ``Retry-After`` / ``retry-after-ms`` when refused."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers.update(retry_after_headers(self.retry_after))
        return headers


def retry_after_headers(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` in whole seconds (at least 1, as documented) and the precise
    ``retry-after-ms`` the SDK honours first; for any 429/503, injected ones included."""
    wait = seconds if seconds is not None and seconds > 0 else 1.0
    return {
        "Retry-After": str(max(1, math.ceil(wait - _EPSILON))),
        "retry-after-ms": str(max(1, math.ceil(wait * 1000 - _EPSILON))),
    }


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by (org, category); safe to call from several threads."""

    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, Category], _Bucket] = {}

    def configure(self, config: RateLimitConfig) -> None:
        """Replace the limits; every bucket starts full again."""
        with self._lock:
            self._config = config
            self._buckets.clear()

    def take(self, org: str, category: Category) -> RateDecision:
        """Take one token from ``org``'s bucket for ``category``."""
        rate = self._config.rate(category)
        capacity = max(1.0, rate)
        limit = math.floor(capacity)
        with self._lock:
            now = self._clock.now()
            if not self._config.enabled:
                return RateDecision(True, limit, limit, math.ceil(now), None)
            bucket = self._buckets.get((org, category))
            if bucket is None:
                bucket = self._buckets[(org, category)] = _Bucket(capacity, now)
            elif now > bucket.updated:
                bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
            allowed = bucket.tokens >= 1.0 - _EPSILON
            retry_after: float | None = None
            if allowed:
                bucket.tokens = max(0.0, bucket.tokens - 1.0)
            else:
                # Milliseconds, rounded up: waiting this long always yields a whole token.
                retry_after = math.ceil((1.0 - bucket.tokens) / rate * 1000 - _EPSILON) / 1000
            tokens = bucket.tokens
        return RateDecision(
            allowed=allowed,
            limit=limit,
            remaining=math.floor(tokens + _EPSILON),
            reset=math.ceil(now + (capacity - tokens) / rate),
            retry_after=retry_after,
        )
