"""Async HTTP client of the Lightfield API: the only module that speaks HTTP to it (design §5, §8).

Owns authentication and the version header, typed results (``reconciler.records``), typed errors
(``reconciler.errors``), client-side rate limiting (``reconciler.buckets``) and every retry lfr
makes. resolve.py, apply.py and cli.py call it; it imports nothing above records/buckets/errors.

Retry rules (digest §7, §8; design §5). Every attempt of a call re-sends the same bytes and the same
``Idempotency-Key``, so a retried write is replayed by the server, never applied twice.

- Retried: connection failures, read/write timeouts, dropped connections and cut-off bodies,
  HTTP 408, 429, 5xx, and 409 whose type or code says ``idempotency_conflict`` ("same key still
  in flight: wait").
- A plain 409 (concurrent update, locked resource) is retried only when the request carries an
  Idempotency-Key: the retry is then either replayed or applied exactly once. Create and update
  always carry one (the client mints a per-call key when the caller gives none), so in practice
  every 409 on create/update is retried; a 409 on a read never is.
- Never retried: 400, 401, 403, 404, 415, 422 (and other 4xx), redirects (never followed: the key
  must not reach another host), and a 2xx write whose body is not the promised JSON, which raises
  ``TransportError(maybe_committed=True)`` for the caller to verify with a retrieve. A malformed
  2xx read is retried.
- Writes that may have reached the server (read timeout, dropped connection) are retried too:
  create/update carry a key, and delete/restore are no-ops when repeated (digest §2.7).
- ``x-should-retry: true|false`` from the server overrides the status rules.
- Delay: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date), else capped exponential
  backoff with full jitter; a 429 also closes the category's bucket for that long, so sibling
  coroutines wait too. When the attempt cap is reached, or the wait would cross the per-call
  deadline (counted from the first attempt, so queueing for the first token does not eat it),
  the call raises ``RetryBudgetExhausted`` carrying the last error, without sleeping in vain.

The API key is held in a redacting wrapper and sent only as the ``Authorization`` header of
requests to the configured host; it never appears in reprs, exception messages or log records.
Every server-provided string that reaches an exception (error fields, non-JSON excerpts,
protocol failures quoting response bytes, a redirect's host, a malformed body's field path)
goes through ``reconciler.redact`` first, and excerpts are cut only after that.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import random
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from .buckets import CATEGORIES, Buckets, Category, Clock, RateConfig, SystemClock, wall_time
from .errors import (
    ApiError,
    Conflict,
    LfrError,
    RetryBudgetExhausted,
    TransportError,
    api_error_class,
)
from .records import AuthInfo, Definitions, FieldHistoryEntry, FieldHistoryPage, ListPage, Record
from .redact import redact, redact_json

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATES",
    "ClientStats",
    "LightfieldClient",
    "ObjectType",
    "RateConfig",
    "RetryPolicy",
    "check_api_key",
    "check_base_url",
]

ObjectType = Literal["opportunities", "accounts", "contacts", "members"]
# The list endpoint of each type a relationship can point at.
LIST_OF: dict[str, ObjectType] = {"member": "members", "contact": "contacts", "account": "accounts"}
OBJECT_TYPES: frozenset[str] = frozenset({"opportunities", "accounts", "contacts", "members"})

API_VERSION = "2026-03-01"
DEFAULT_BASE_URL = "https://api.lightfield.app"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_RATES = RateConfig()
MAX_PAGE_SIZE = 25  # digest §1.3
MAX_IDEMPOTENCY_KEY_LENGTH = 255  # digest §7
# The API's request body limit (docs/emulator.md "Bounds"; the emulator's body.MAX_BODY_BYTES,
# held equal by tests/plan/test_values_agree_with_the_api.py).
MAX_BODY_BYTES = 1024 * 1024
EXCERPT = 200  # characters of a non-JSON error body kept in its message
# The head of such a body that is redacted and then cut to EXCERPT: an echo that starts inside
# the excerpt ends long before, and redacting a whole multi-MB page costs ~0.5 s per MB.
EXCERPT_SCAN = 16_384
_RESERVED_QUERY = frozenset({"limit", "offset", "status"})

logger = logging.getLogger("reconciler.client")

_Model = TypeVar("_Model", bound=BaseModel)
RetryHook = Callable[[int, LfrError, float], None]


def _package_version() -> str:
    try:
        return metadata.version("lightfield-reconciler")
    except metadata.PackageNotFoundError:
        return "0+unknown"


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


class _ApiKey:
    """Holds the key; its repr/str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "sk_lf_…(redacted)" if self._value.startswith("sk_lf_") else "…(redacted)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key is not picklable")


# Dot-separated labels (after IDNA encoding), optionally fully qualified with a final dot.
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?", re.IGNORECASE)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """The base URL a client would use (no trailing slash); ``ValueError`` for one that is not a
    usable absolute http(s) URL or could expose the key (plain http to a non-loopback host,
    credentials, a query or fragment). Lets the CLI refuse a target before it prints or opens
    anything."""
    return _check_base_url(base_url, transport_injected=False)


def check_api_key(value: str) -> None:
    """``ValueError`` (never echoing the value) for a key that cannot go in a header."""
    _check_token(value, "API key")


def _check_base_url(base_url: str, *, transport_injected: bool) -> str:
    # No message echoes the URL: a malformed one may hold a password or a key where no parser
    # finds it (``https:/user:pw@host``), and control characters would reach the terminal.
    # '@', '?', '#' and '\\' are refused wherever they are, so parsers cannot disagree on them.
    if not base_url or any(ch.isspace() or not ch.isprintable() for ch in base_url):
        raise ValueError("base URL must be non-empty, without whitespace or control characters")
    if "@" in base_url:
        raise ValueError("base URL must not carry credentials (no '@')")
    if "?" in base_url or "#" in base_url or "\\" in base_url:
        raise ValueError("base URL must not have a query, a fragment or a backslash")
    try:
        url = httpx.URL(base_url)  # what the client will send to, so what is checked
        host, raw_host = url.host, url.raw_host.decode("ascii")
        # Read here, not from httpx: it takes the port through int(), which accepts "+443",
        # "4_43" and "٤٤٣", and it drops a default port before anyone can look at it.
        port = urlsplit(base_url).netloc.rpartition("]")[2].partition(":")[2]
    except (httpx.InvalidURL, ValueError):  # ValueError: idna failures are UnicodeErrors
        raise ValueError("base URL is not a valid URL") from None
    if url.scheme not in ("https", "http") or not host:
        raise ValueError("base URL must be an absolute URL like https://api.lightfield.app")
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("base URL port must be a number from 1 to 65535")
    if not (_HOST.fullmatch(raw_host) or _is_ip(host)):
        raise ValueError("base URL host must be a DNS name or an IP address")
    if url.scheme == "http" and not transport_injected and not _is_loopback(host):
        raise ValueError(
            f"refusing plain http:// to {raw_host}: the API key would travel unencrypted "
            "(http is only allowed for loopback hosts)"
        )
    return base_url.rstrip("/")


def _check_token(value: str, what: str) -> None:
    # Header injection guard; the message must not echo the value (it may be the key).
    if not value or any(ch.isspace() or not ch.isprintable() or ord(ch) > 126 for ch in value):
        raise ValueError(f"{what} must be non-empty printable ASCII without whitespace")


def _segment(value: str) -> str:
    """One path segment, percent-encoded so ids cannot change the path (``/``, ``..``, ``?``)."""
    if not value:
        raise ValueError("path segment must not be empty")
    if value in (".", ".."):
        # quote() keeps dots, and a bare dot segment would be resolved away by URL normalisation.
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _object_path(object_type: str) -> str:
    if object_type not in OBJECT_TYPES:
        raise ValueError(
            f"unknown object type {object_type!r}; expected one of {sorted(OBJECT_TYPES)}"
        )
    return f"/v1/{object_type}"


def _server_delay(headers: httpx.Headers, clock: Clock) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``Retry-After`` (s or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = -1.0
        if ms >= 0 and ms == ms and ms != float("inf"):
            return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - wall_time(clock)
    if seconds != seconds or seconds == float("inf"):
        return None
    return max(0.0, seconds)


class LightfieldClient:
    """Async client of the Lightfield REST API; use as ``async with LightfieldClient(key) as c``.

    Safe to share between many coroutines: rate limiting is per client and concurrency-safe.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        rates: RateConfig | None = DEFAULT_RATES,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        _check_token(api_key, "API key")
        self._key = _ApiKey(api_key)
        self._base_url = _check_base_url(base_url, transport_injected=transport is not None)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._retry = retry if retry is not None else RetryPolicy()
        self._buckets = Buckets(rates, self._clock)
        self._on_retry = on_retry
        self.stats = ClientStats()
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                # httpx masks Authorization in the repr of its Headers.
                "Authorization": f"Bearer {api_key}",
                "Lightfield-Version": API_VERSION,
                "Accept": "application/json",
                "User-Agent": user_agent or f"lfr/{_package_version()}",
            },
        )

    @classmethod
    def for_asgi_app(
        cls, app: Any, api_key: str, *, base_url: str = "http://local.workspace", **options: Any
    ) -> LightfieldClient:
        """A client on an in-process ASGI app (the embedded local workspace), so callers need
        not know httpx."""
        return cls(api_key, base_url=base_url, transport=httpx.ASGITransport(app=app), **options)

    def __repr__(self) -> str:
        return f"LightfieldClient(base_url={self._base_url!r}, api_key={self._key!r})"

    __str__ = __repr__

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def buckets(self) -> Buckets:
        return self._buckets

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- endpoints --------------------------------------------------------------------------

    async def validate_auth(self) -> AuthInfo:
        """``GET /v1/auth/validate``: the key's scopes (empty = full access)."""
        return await self._call("GET", "/v1/auth/validate", "read", AuthInfo)

    async def definitions(self, object_type: ObjectType) -> Definitions:
        return await self._call(
            "GET", f"{_object_path(object_type)}/definitions", "read", Definitions
        )

    async def retrieve(self, object_type: ObjectType, id: str) -> Record:
        return await self._call(
            "GET", f"{_object_path(object_type)}/{_segment(id)}", "read", Record
        )

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        filters: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        status: str | None = None,
    ) -> ListPage:
        """One page of a list endpoint. ``filters`` are query parameters spelled
        ``key[operator]`` (e.g. ``{"$name[equal]": "Acme"}``); a sequence allows repeated keys."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        params: list[tuple[str, str]] = [("limit", str(limit)), ("offset", str(offset))]
        if status is not None:
            params.append(("status", status))
        pairs = list(filters.items()) if isinstance(filters, Mapping) else list(filters)
        for key, value in pairs:
            if key in _RESERVED_QUERY:
                raise ValueError(f"{key!r} is a paging parameter, not a filter")
            params.append((key, value))
        return await self._call("GET", _object_path(object_type), "search", ListPage, params=params)

    async def iterate(
        self,
        object_type: ObjectType,
        *,
        filters: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        status: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Record]:
        """Every matching record, paging by offset until a short page.

        The list index shifts while we page (new records enter at the top), so a record can
        show up twice; each id is yielded once. Records added during the scan may be missed:
        callers that need read-after-write use ``retrieve``.
        """
        seen: set[str] = set()
        offset = 0
        while True:
            page = await self.list_page(
                object_type, limit=page_size, offset=offset, filters=filters, status=status
            )
            for record in page.data:
                if record.id not in seen:
                    seen.add(record.id)
                    yield record
            offset += len(page.data)
            if len(page.data) < page_size:
                return
            if page.total_count is not None and offset >= page.total_count:
                return

    async def list_rest(self, object_type: ObjectType, first: ListPage) -> list[Record]:
        """The whole list, given its first full-size page: the pages after it are fetched
        concurrently (the Search bucket paces them), then one more sequential tail in case the
        list grew meanwhile. Records are by id, so one shifted between pages counts once."""
        records = {r.id: r for r in first.data}
        if len(first.data) < MAX_PAGE_SIZE or first.total_count is None:
            return list(records.values())
        offsets = range(MAX_PAGE_SIZE, first.total_count, MAX_PAGE_SIZE)
        pages = await asyncio.gather(
            *(self.list_page(object_type, limit=MAX_PAGE_SIZE, offset=o) for o in offsets)
        )
        for page in pages:
            records.update((r.id, r) for r in page.data)
        offset = max(offsets, default=0) + MAX_PAGE_SIZE
        while pages and len(pages[-1].data) == MAX_PAGE_SIZE:
            tail = await self.list_page(object_type, limit=MAX_PAGE_SIZE, offset=offset)
            records.update((r.id, r) for r in tail.data)
            pages = [tail]
            offset += MAX_PAGE_SIZE
        return list(records.values())

    async def list_all(
        self,
        object_type: ObjectType,
        *,
        filters: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        status: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[Record]:
        return [
            record
            async for record in self.iterate(
                object_type, filters=filters, status=status, page_size=page_size
            )
        ]

    async def create(
        self, object_type: ObjectType, body: dict[str, Any], *, idempotency_key: str | None
    ) -> Record:
        """``POST /v1/{type}``. Without a caller key, a random per-call key still makes the
        client's own retries safe (it cannot dedupe across runs: that is the plan's key)."""
        return await self._write(_object_path(object_type), body, idempotency_key)

    async def update(
        self,
        object_type: ObjectType,
        id: str,
        body: dict[str, Any],
        *,
        idempotency_key: str | None,
    ) -> Record:
        """``POST /v1/{type}/{id}`` with a partial body; same key rule as ``create``."""
        path = f"{_object_path(object_type)}/{_segment(id)}"
        return await self._write(path, body, idempotency_key)

    async def _write(self, path: str, body: dict[str, Any], idempotency_key: str | None) -> Record:
        return await self._call(
            "POST", path, "write", Record, body=body, idempotency_key=idempotency_key or _call_key()
        )

    async def delete(
        self, object_type: ObjectType, id: str, *, idempotency_key: str | None = None
    ) -> Record:
        """``DELETE /v1/{type}/{id}`` (to the trash; a no-op on a trashed record)."""
        return await self._call(
            "DELETE",
            f"{_object_path(object_type)}/{_segment(id)}",
            "write",
            Record,
            idempotency_key=idempotency_key,
        )

    async def restore(
        self, object_type: ObjectType, id: str, *, idempotency_key: str | None = None
    ) -> Record:
        """``POST /v1/{type}/{id}/restore`` (a no-op on an active record)."""
        return await self._call(
            "POST",
            f"{_object_path(object_type)}/{_segment(id)}/restore",
            "write",
            Record,
            idempotency_key=idempotency_key,
        )

    async def field_history(
        self,
        object_type: ObjectType,
        id: str,
        field_key: str,
        *,
        after: str | None = None,
        limit: int = 20,
    ) -> FieldHistoryPage:
        """One page of a field's history (newest first); pass ``next_cursor`` as ``after``."""
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be between 1 and 100, got {limit}")
        params: list[tuple[str, str]] = [("limit", str(limit))]
        if after is not None:
            params.append(("after", after))
        path = f"{_object_path(object_type)}/{_segment(id)}/fields/{_segment(field_key)}/history"
        return await self._call("GET", path, "read", FieldHistoryPage, params=params)

    async def history_all(
        self, object_type: ObjectType, id: str, field_key: str, *, page_size: int = 100
    ) -> list[FieldHistoryEntry]:
        """The whole history of a field, newest first, following cursors."""
        entries: list[FieldHistoryEntry] = []
        after: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.field_history(
                object_type, id, field_key, after=after, limit=page_size
            )
            entries.extend(page.data)
            cursor = page.next_cursor
            # A repeated cursor would loop forever; the server promised progress.
            if not page.has_more or not cursor or cursor in seen:
                return entries
            seen.add(cursor)
            after = cursor

    # -- the request loop ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        category: Category,
        model: type[_Model],
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> _Model:
        headers: dict[str, str] = {}
        content: bytes | None = None
        if body is not None:
            content = wire_body(body)
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            _check_token(idempotency_key, "Idempotency-Key")
            if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
                raise ValueError(
                    f"Idempotency-Key longer than {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
                )
            headers["Idempotency-Key"] = idempotency_key
        query = httpx.QueryParams(tuple(params)) if params else None
        wire_path, path = path, unquote(path)  # messages and logs show `$stage`, not `%24stage`
        is_write = method != "GET"
        policy = self._retry
        started: float | None = None
        attempt = 0
        while True:
            attempt += 1
            waited = await self._buckets.acquire(category)
            self.stats.throttled_seconds += waited  # after the await: no lost update
            if started is None:
                # The deadline bounds retrying, not queueing for our own first token: a large
                # run queues many calls behind the client-side buckets by design.
                started = self._clock.monotonic()
            self.stats.requests[category] += 1
            request = self._http.build_request(
                method, wire_path, params=query, content=content, headers=headers
            )
            logger.debug("%s %s attempt %d", method, path, attempt)
            server_delay: float | None = None
            try:
                response = await self._http.send(request)
            except httpx.HTTPError as exc:
                error: LfrError = self._transport_error(exc, method, path, is_write)
                if isinstance(exc, httpx.DecodingError):
                    # A body we cannot decode: like a malformed 2xx, only reads are re-sent.
                    retryable = not is_write
                else:
                    retryable = not isinstance(exc, _NOT_RETRYABLE_HTTPX)
            else:
                self._buckets.observe_headers(category, response.headers)
                logger.debug("%s %s attempt %d → %d", method, path, attempt, response.status_code)
                if response.is_success:
                    try:
                        return model.model_validate_json(response.content)
                    except ValidationError as exc:
                        error = TransportError(
                            f"{response.status_code} response is not a valid "
                            f"{model.__name__} ({self._redact(_first_problem(exc))})",
                            method=method,
                            path=path,
                            maybe_committed=is_write,
                        )
                        # Re-sending a write whose effect is unknown is the caller's decision.
                        retryable = not is_write
                elif response.is_redirect or 300 <= response.status_code < 400:
                    raise self._redirect_error(response, method, path)
                else:
                    api_error = self._api_error(response, method, path)
                    error = api_error
                    server_delay = api_error.retry_after
                    retryable = _should_retry(api_error, response, idempotency_key is not None)
                    if api_error.status == 429:
                        self.stats.rate_limited += 1
            if not retryable:
                raise error
            delay = server_delay if server_delay is not None else policy.backoff(attempt - 1)
            elapsed = self._clock.monotonic() - started
            out_of_time = policy.deadline is not None and elapsed + delay > policy.deadline
            if attempt >= policy.max_attempts or out_of_time:
                logger.debug("%s %s giving up after %d attempts: %s", method, path, attempt, error)
                raise RetryBudgetExhausted(error, attempts=attempt, elapsed=elapsed) from error
            if isinstance(error, ApiError) and error.status == 429:
                # Every coroutine of this category waits, not just this one.
                self._buckets.hold(category, delay)
            self.stats.retries += 1
            logger.debug(
                "%s %s retrying in %.3fs after attempt %d: %s", method, path, delay, attempt, error
            )
            if self._on_retry is not None:
                self._on_retry(attempt, error, delay)
            await self._clock.sleep(delay)

    def _redact(self, text: str) -> str:
        """Server-provided text, scrubbed of keys before it reaches an exception."""
        return redact(text, self._key.reveal())

    def _api_error(self, response: httpx.Response, method: str, path: str) -> ApiError:
        """Build the typed error from the envelope ``{"error": {...}}`` or the un-enveloped
        ``{"type": ..., "message": ...}`` spelling of the older docs (digest §1.2)."""
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        details: dict[str, Any] = {}
        if isinstance(payload, dict):
            inner = payload.get("error")
            details = redact_json(inner if isinstance(inner, dict) else payload, self._key.reveal())
        status = response.status_code
        if details:
            message = _text(details.pop("message", None)) or ""
            error_type = _text(details.pop("type", None))
            code = _text(details.pop("code", None))
            param = _text(details.pop("param", None))
        else:
            # Not our JSON (a proxy's HTML page, an empty body): keep a short excerpt, cut
            # from redacted text so the cut cannot leave the tail of a key behind.
            message = self._redact(" ".join(response.text[:EXCERPT_SCAN].split()))[:EXCERPT]
            error_type = code = param = None
        return api_error_class(status)(
            status=status,
            type=error_type,
            code=code,
            message=message,
            param=param,
            extra=details,
            method=method,
            path=path,
            retry_after=_server_delay(response.headers, self._clock),
        )

    def _redirect_error(self, response: httpx.Response, method: str, path: str) -> TransportError:
        location = response.headers.get("location", "")
        try:
            host = response.request.url.join(location).host if location else ""
        except httpx.InvalidURL:
            host = ""
        target = f" to host {self._redact(host)!r}" if host else ""
        return TransportError(
            f"{response.status_code} redirect{target} not followed "
            "(the API key is only sent to the configured base URL)",
            method=method,
            path=path,
        )

    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, is_write: bool
    ) -> TransportError:
        # Protocol errors quote the response bytes they choke on (h11: "illegal header line:
        # bytearray(b'...')"), so the message is server-provided text like any other.
        reason = (
            f"{type(exc).__name__}: {self._redact(str(exc))}" if str(exc) else type(exc).__name__
        )
        return TransportError(
            reason,
            method=method,
            path=path,
            maybe_committed=is_write and not isinstance(exc, _NOT_SENT),
        )


def _call_key() -> str:
    return f"lfr-call-{uuid.uuid4().hex}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))


# httpx failures that retrying cannot fix (bad URL, protocol misuse by us, a proxy refusing).
_NOT_RETRYABLE_HTTPX: tuple[type[httpx.HTTPError], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.ProxyError,
    httpx.TooManyRedirects,
)
# Failures after which the request surely never reached the server.
_NOT_SENT: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def _should_retry(error: ApiError, response: httpx.Response, keyed: bool) -> bool:
    override = response.headers.get("x-should-retry", "").strip().lower()
    if override == "true":
        return True
    if override == "false":
        return False
    status = error.status
    if status in (408, 429) or status >= 500:
        return True
    if status == 409:
        idempotency = isinstance(error, Conflict) and error.is_idempotency_conflict
        return idempotency or keyed
    return False


def wire_body(body: Any) -> bytes:
    """``body`` as it is sent (compact JSON, UTF-8): what the API's size limit counts."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
