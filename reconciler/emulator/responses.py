"""What the emulator answers with: JSON bodies, the error envelope and fault-damaged responses.

Owns the byte encoding of every JSON answer (compact, UTF-8 as is), the ``{"error": {...}}``
envelope (with ``connection: close`` when the request body was left unread), and the responses
fault injection puts in place of a real one: an injected status, a redirect, a dropped
connection, a truncated or malformed body. Called by app.py and admin.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .errors import ApiError, error_type
from .faults import FaultRule
from .ratelimit import retry_after_headers

# Answers given while the rest of the body is still unread: the connection cannot be reused.
UNREAD_BODY_STATUSES = frozenset({408, 413})
MALFORMED_BODY = b"<html><body>502 Bad Gateway: upstream sent garbage</body></html>"


class EmulatedDisconnect(httpx.RemoteProtocolError):
    """Raised mid-response to break the connection (a real drop under uvicorn; in-process,
    ``httpx.ASGITransport`` hands it to the client as the transport error a drop would be)."""


def encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(data), status, headers=headers, media_type="application/json")


def error_response(error: ApiError, headers: dict[str, str], *, enveloped: bool = True) -> Response:
    if error.status in UNREAD_BODY_STATUSES:
        headers = {**headers, "connection": "close"}
    return json_response(error.status, error.body(enveloped=enveloped), headers)


class DropResponse(Response):
    """Sends the headers and part of the body, then breaks the connection."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(body, status, headers=headers, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise EmulatedDisconnect("the emulator dropped the connection (fault injection)")


class TruncatedResponse(Response):
    """A complete HTTP message whose JSON body is cut off."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(
            body[: max(1, len(body) // 2)], status, headers=headers, media_type="application/json"
        )


def injected(rule: FaultRule, headers: dict[str, str], *, enveloped: bool = True) -> Response:
    """A fault answered instead of running the operation."""
    extra = dict(headers)
    if rule.should_retry is not None:
        extra["x-should-retry"] = "true" if rule.should_retry else "false"
    if rule.action == "drop":
        return DropResponse(200, encode({"dropped": True}), extra)
    if rule.action == "redirect":
        assert rule.location is not None
        extra["location"] = rule.location
        return Response(b"", rule.status, headers=extra)
    return fault_status(rule, extra, enveloped=enveloped)


def fault_status(rule: FaultRule, headers: dict[str, str], *, enveloped: bool = True) -> Response:
    extra = dict(headers)
    if rule.should_retry is not None:
        extra["x-should-retry"] = "true" if rule.should_retry else "false"
    if rule.retry_after is not None:
        extra.update(retry_after_headers(rule.retry_after))
    messages = {
        429: "Rate limit exceeded. Please try again later.",
        503: "The service is temporarily unavailable.",
    }
    message = messages.get(rule.status, f"Injected fault: HTTP {rule.status}.")
    error = {"type": error_type(rule.status), "message": message}
    return json_response(rule.status, {"error": error} if enveloped else error, extra)


def damaged(
    rule: FaultRule, status: int, body: bytes, headers: dict[str, str], *, enveloped: bool = True
) -> Response:
    """A committing fault: the operation ran, the client gets a damaged answer."""
    if rule.action == "commit_then_status":
        return fault_status(rule, headers, enveloped=enveloped)
    if rule.action == "commit_then_drop":
        return DropResponse(status, body, headers)
    if rule.action == "malformed_body":
        return Response(MALFORMED_BODY, status, headers=headers, media_type="application/json")
    return TruncatedResponse(status, body, headers)
