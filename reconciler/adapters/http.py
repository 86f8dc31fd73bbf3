"""One exchange with the Lightfield API over httpx: a request encoded, one attempt sent, its
answer read (README "The API client"; architecture.md §5).

Owns the httpx client and the key (held in a redacting wrapper, sent only as the
``Authorization`` header to the checked base URL), the encoding of a request (JSON body,
``Idempotency-Key`` checked for header injection and length), and the reading of one answer: a
2xx as the promised model, anything else as a typed error (``core.errors``) whose server-provided
text went through ``core.redact`` first, with whether retrying it could help and the wait
the server asked for. The retry loop is ``adapters.retry``'s; the endpoints are
``adapters.client``'s.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from ..core.errors import ApiError, Conflict, LfrError, TransportError, api_error_class
from ..core.plan import wire_body
from ..core.records import MalformedResponse, Response, from_json
from ..core.redact import redact, redact_json
from .buckets import Clock, wall_time

logger = logging.getLogger("reconciler.client")  # one name for the client's log


MAX_IDEMPOTENCY_KEY_LENGTH = 255  # lightfield-api.md §7


EXCERPT = 200  # characters of a non-JSON error body kept in its message


# The head of such a body that is redacted and then cut to EXCERPT: an echo that starts inside
# the excerpt ends long before, and redacting a whole multi-MB page costs ~0.5 s per MB.
EXCERPT_SCAN = 16_384


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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


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


@dataclass(frozen=True)
class Failed:
    """One attempt that did not give the model: the error, whether a retry could help, and the
    wait the server asked for."""

    error: LfrError
    retryable: bool
    server_delay: float | None = None


@dataclass(frozen=True)
class Call:
    """One call's request, sent unchanged by every attempt, and how messages name it."""

    request: httpx.Request
    method: str
    path: str  # unquoted: messages and logs show `$stage`, not `%24stage`
    keyed: bool  # carries an Idempotency-Key

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


@dataclass(frozen=True)
class ProbeAnswer:
    """One read answered as it came (``lfr doctor``): the status, the headers (names in lower
    case), the JSON body (redacted; None when not JSON), and for a non-2xx the error lfr reads
    from it."""

    status: int
    headers: dict[str, str]
    body: Any
    error: ApiError | None


class Exchange:
    """The httpx client of one ``LightfieldClient``: encodes requests, sends one attempt."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout,
        headers: dict[str, str],
        clock: Clock,
    ) -> None:
        _check_token(api_key, "API key")
        self.key = _ApiKey(api_key)
        self.base_url = _check_base_url(base_url, transport_injected=transport is not None)
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            # httpx masks Authorization in the repr of its Headers.
            headers={"Authorization": f"Bearer {api_key}", **headers},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def encode(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None,
        body: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> Call:
        """The request every attempt of a call sends: the same bytes, the same key."""
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
        request = self._http.build_request(
            method, path, params=query, content=content, headers=headers
        )
        return Call(request, method, unquote(path), keyed=idempotency_key is not None)

    async def attempt(
        self,
        call: Call,
        model: type[Response],
        *,
        attempt: int,
        observe: Callable[[httpx.Headers], None],
    ) -> Response | Failed:
        """Send ``call`` once: the model, or how it failed. A redirect raises (never
        followed, never retried). ``observe`` sees every answer's headers (rate limits)."""
        method, path, is_write = call.method, call.path, call.is_write
        logger.debug("%s %s attempt %d", method, path, attempt)
        try:
            response = await self._http.send(call.request)
        except httpx.HTTPError as exc:
            error = self._transport_error(exc, method, path, is_write)
            if isinstance(exc, httpx.DecodingError):
                # A body we cannot decode: like a malformed 2xx, only reads are re-sent.
                return Failed(error, retryable=not is_write)
            return Failed(error, retryable=not isinstance(exc, _NOT_RETRYABLE_HTTPX))
        observe(response.headers)
        logger.debug("%s %s attempt %d → %d", method, path, attempt, response.status_code)
        if response.is_success:
            try:
                return from_json(model, response.content)
            except MalformedResponse as exc:
                malformed = TransportError(
                    f"{response.status_code} response is not a valid "
                    f"{model.__name__} ({self._redact(str(exc))})",
                    method=method,
                    path=path,
                    maybe_committed=is_write,
                )
                # Re-sending a write whose effect is unknown is the caller's decision.
                return Failed(malformed, retryable=not is_write)
        if response.is_redirect or 300 <= response.status_code < 400:
            raise self._redirect_error(response, method, path)
        api_error = self._api_error(response, method, path)
        retryable = _should_retry(api_error, response, call.keyed)
        return Failed(api_error, retryable, server_delay=api_error.retry_after)

    async def probe(self, call: Call) -> ProbeAnswer:
        """Send a read once, never retried, and keep what a normal call hides: the headers and
        the body's shape (``lfr doctor``). A redirect raises, as for every call."""
        try:
            response = await self._http.send(call.request)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, call.method, call.path, False) from None
        if response.is_redirect or 300 <= response.status_code < 400:
            raise self._redirect_error(response, call.method, call.path)
        try:
            body: Any = redact_json(response.json(), self.key.reveal())
        except ValueError:
            body = None
        error = None if response.is_success else self._api_error(response, call.method, call.path)
        headers = {name.lower(): self._redact(value) for name, value in response.headers.items()}
        return ProbeAnswer(response.status_code, headers, body, error)

    def _redact(self, text: str) -> str:
        """Server-provided text, scrubbed of keys before it reaches an exception."""
        return redact(text, self.key.reveal())

    def _api_error(self, response: httpx.Response, method: str, path: str) -> ApiError:
        """Build the typed error from the envelope ``{"error": {...}}`` or the un-enveloped
        ``{"type": ..., "message": ...}`` spelling of the older docs (lightfield-api.md §1.2)."""
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        details: dict[str, Any] = {}
        if isinstance(payload, dict):
            inner = payload.get("error")
            details = redact_json(inner if isinstance(inner, dict) else payload, self.key.reveal())
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
