"""Async client of the Lightfield API: its endpoints, over one exchange and one retry loop
(architecture.md §5, §9).

Owns the API's surface: the endpoints lfr calls, their paths (every id percent-encoded as one
segment), pagination, and the version header; typed results (``core.records``) and typed errors
(``core.errors``). One attempt is ``adapters.http``'s (encoding, the key, reading an answer), the
retry loop ``adapters.retry``'s, client-side rate limiting ``adapters.buckets``'s. The runs call
it; it imports only adapters and the core.

Retry rules (lightfield-api.md §7, §8; architecture.md §5). Every attempt of a call
re-sends the same bytes and the same ``Idempotency-Key``, so a retried write is replayed by the
server, never applied twice.

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
  create/update carry a key, and delete/restore are no-ops when repeated (lightfield-api.md §2.7).
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
goes through ``core.redact`` first, and excerpts are cut only after that.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib import metadata
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx

from ..core.records import (
    AuthInfo,
    Definitions,
    FieldHistoryEntry,
    FieldHistoryPage,
    ListPage,
    Record,
    Response,
)
from .buckets import Buckets, Category, Clock, RateConfig, SystemClock
from .http import Exchange, ProbeAnswer
from .retry import ClientStats, RetryHook, Retrying, RetryPolicy, with_retries

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATES",
    "LightfieldClient",
    "ObjectType",
    "ProbeAnswer",
    "RateConfig",
]

# Notes: only ``lfr apply --stamp`` writes them (create) and lists them by opportunity
# (lightfield-api.md §5; ``runs.stamp``).
ObjectType = Literal["opportunities", "accounts", "contacts", "members", "notes"]
# The list endpoint of each type a relationship can point at.
LIST_OF: dict[str, ObjectType] = {"member": "members", "contact": "contacts", "account": "accounts"}
OBJECT_TYPES: frozenset[str] = frozenset(
    {"opportunities", "accounts", "contacts", "members", "notes"}
)

API_VERSION = "2026-03-01"
DEFAULT_BASE_URL = "https://api.lightfield.app"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_RATES = RateConfig()
MAX_PAGE_SIZE = 25  # lightfield-api.md §1.3
_RESERVED_QUERY = frozenset({"limit", "offset", "status"})

logger = logging.getLogger("reconciler.client")


def _package_version() -> str:
    try:
        return metadata.version("lightfield-reconciler")
    except metadata.PackageNotFoundError:
        return "0+unknown"


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
        clock = clock if clock is not None else SystemClock()
        self._exchange = Exchange(
            api_key,
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={
                "Lightfield-Version": API_VERSION,
                "Accept": "application/json",
                "User-Agent": user_agent or f"lfr/{_package_version()}",
            },
            clock=clock,
        )
        self._retrying = Retrying(
            retry if retry is not None else RetryPolicy(), Buckets(rates, clock), clock, on_retry
        )
        self.stats = ClientStats()

    @classmethod
    def for_asgi_app(
        cls, app: Any, api_key: str, *, base_url: str = "http://local.workspace", **options: Any
    ) -> LightfieldClient:
        """A client on an in-process ASGI app (the embedded local workspace), so callers need
        not know httpx."""
        return cls(api_key, base_url=base_url, transport=httpx.ASGITransport(app=app), **options)

    def __repr__(self) -> str:
        return f"LightfieldClient(base_url={self.base_url!r}, api_key={self._exchange.key!r})"

    __str__ = __repr__

    @property
    def base_url(self) -> str:
        return self._exchange.base_url

    @property
    def buckets(self) -> Buckets:
        return self._retrying.buckets

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
        await self._exchange.aclose()

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

    # -- the request ------------------------------------------------------------------------

    async def probe(self, path: str, params: Sequence[tuple[str, str]] = ()) -> ProbeAnswer:
        """``GET path`` once, not retried, not paced, answered as it came (headers, the body's
        shape): how ``lfr doctor`` sees the contract a normal call reads through."""
        call = self._exchange.encode("GET", path, list(params) or None, None, None)
        return await self._exchange.probe(call)

    async def _call(
        self,
        method: str,
        path: str,
        category: Category,
        model: type[Response],
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Response:
        request = self._exchange.encode(method, path, params, body, idempotency_key)
        return await with_retries(
            self._exchange, request, model, category, self._retrying, self.stats
        )


def _call_key() -> str:
    return f"lfr-call-{uuid.uuid4().hex}"
