"""Exception hierarchy of lfr; the bottom layer of the package (imports nothing from reconciler).

``LfrError`` is the base of every error the project raises on purpose. This module also owns the API
error family that ``adapters.client`` raises: one ``ApiError`` subclass per documented HTTP status
(lightfield-api.md §1.2), ``TransportError`` for everything that is not a well-formed API answer
(connection problems, timeouts, redirects, malformed bodies), and ``RetryBudgetExhausted`` when the
client gave up retrying. The CLI turns these into messages and exit codes; ``runs.write_results``
reads ``type`` / ``code`` / ``param`` to report partial failures.

Messages are meant for humans (RevOps engineers reading CI logs) and never contain the API key:
the client redacts server-provided text before it reaches these constructors.
"""

from __future__ import annotations

from typing import Any

# Standard ``type`` per status (lightfield-api.md §1.2), used when a body does not say.
DEFAULT_TYPES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable_content",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class LfrError(Exception):
    """Base class of every error lfr raises on purpose. ``details``: lines shown under the
    message, each on its own (they quote data, so each is made safe on its own)."""

    details: tuple[str, ...] = ()


class ApiError(LfrError):
    """The API answered with a non-2xx status and (usually) an error body.

    ``extra`` holds members of the error object beyond type/message/code/param, e.g. the pipeline
    errors' ``candidates`` or ``activePipelineIds``.
    """

    def __init__(
        self,
        status: int,
        type: str | None = None,
        code: str | None = None,
        message: str = "",
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        method: str = "",
        path: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.type = type or DEFAULT_TYPES.get(status, "error")
        self.code = code
        self.message = message
        self.param = param
        self.extra: dict[str, Any] = dict(extra or {})
        self.method = method
        self.path = path
        # Server's requested wait (Retry-After / retry-after-ms), when it sent one.
        self.retry_after = retry_after
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path} → " if self.method else ""
        code = f" ({self.code})" if self.code else ""
        message = f": {self.message}" if self.message else ""
        param = f" [param {self.param}]" if self.param else ""
        return f"{where}{self.status} {self.type}{code}{message}{param}"

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._render()!r})"


class BadRequest(ApiError):
    """400: unknown key, bad parameter or filter, bad version header. Never retried."""


class Unauthorized(ApiError):
    """401: missing, invalid or revoked key. Never retried."""


class Forbidden(ApiError):
    """403: the key lacks a scope. Never retried."""


class NotFound(ApiError):
    """404: no such record or object type. Never retried."""


class Conflict(ApiError):
    """409: idempotency key in flight, concurrent update, locked resource, duplicate."""

    @property
    def is_idempotency_conflict(self) -> bool:
        """The same Idempotency-Key is still being processed: wait and retry with that key."""
        return "idempotency_conflict" in (self.type, self.code)


class UnsupportedMediaType(ApiError):
    """415: body not JSON. A client bug; never retried."""


class Unprocessable(ApiError):
    """422: valid JSON failing business validation. Never retried."""


class RateLimited(ApiError):
    """429: the organisation's token bucket is empty; retried after ``retry_after``."""


class ServerError(ApiError):
    """5xx: server fault or temporary unavailability; retried."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: RateLimited,
}


def api_error_class(status: int) -> type[ApiError]:
    """The ``ApiError`` subclass for an HTTP status (``ApiError`` itself for unlisted 4xx)."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


class TransportError(LfrError):
    """No usable API answer: connection failure, timeout, dropped or redirected response,
    or a 2xx body that is not the JSON the endpoint promises.

    ``maybe_committed`` is true when a write may have been applied although no valid answer
    arrived (e.g. a 2xx with a malformed body): the caller must verify with a retrieve instead
    of assuming either outcome.
    """

    def __init__(
        self,
        reason: str,
        *,
        method: str = "",
        path: str = "",
        maybe_committed: bool = False,
    ) -> None:
        self.reason = reason
        self.method = method
        self.path = path
        self.maybe_committed = maybe_committed
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        note = " (the write may have been applied; verify before retrying)"
        return f"{where}{self.reason}{note if self.maybe_committed else ''}"

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._render()!r})"


class RetryBudgetExhausted(LfrError):
    """The client retried a transient failure until its attempt cap or deadline ran out."""

    def __init__(self, last_error: LfrError, attempts: int, elapsed: float = 0.0) -> None:
        self.last_error = last_error
        self.attempts = attempts
        self.elapsed = elapsed
        super().__init__(str(self))

    def __str__(self) -> str:
        plural = "s" if self.attempts != 1 else ""
        return (
            f"gave up after {self.attempts} attempt{plural} in {self.elapsed:.1f}s; "
            f"last error: {self.last_error}"
        )

    def __repr__(self) -> str:
        return f"RetryBudgetExhausted({self!s})"


class ApplyRefused(LfrError):
    """A safety rail refused the plan before any write."""
