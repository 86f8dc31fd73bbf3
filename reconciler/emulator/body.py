"""Reading and parsing request bodies within bounds.

Owns the limits a request body must keep before any operation sees it, so that no body, however
large or malformed, costs more than ``MAX_BODY_BYTES`` of buffering or ends in a bare 500:

- Size: at most ``MAX_BODY_BYTES`` (1 MiB). A ``Content-Length`` above it is refused before a
  byte is read; a chunked body is counted as it arrives and refused as soon as it passes the
  limit, so the rest is never buffered. → 413 ``body_too_large``. The largest plausible API
  body (a record with every field set, 25 relationship ids) is a few KiB; 1 MiB leaves room for
  long TEXT values.
- Time: the whole body must arrive within ``BODY_TIMEOUT_SECONDS`` → 408 ``request_timeout``
  (a client dripping a body would otherwise hold its connection forever). A client that
  disconnects (or breaks the chunked framing) mid-body → 400 ``invalid_request``.
- JSON: UTF-8 only (no BOM, no UTF-16), no ``NaN`` / ``Infinity`` / numbers that overflow a
  double, at most ``MAX_JSON_DEPTH`` levels of nesting, no unpaired surrogate escapes in strings
  or keys (they cannot be stored or sent back as UTF-8) → 400 ``invalid_json``.

Called by app.py for API and admin requests alike.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from starlette.requests import ClientDisconnect, Request

from .errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT_SECONDS = 30.0
# The deepest body the API takes is 4 levels ({"relationships": {"$contact": {"add": [...]}}}).
MAX_JSON_DEPTH = 32


def too_large() -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        code="body_too_large",
    )


async def read_body(
    request: Request, limit: int = MAX_BODY_BYTES, within: float = BODY_TIMEOUT_SECONDS
) -> bytes:
    """The raw body, or ``ApiError`` 413 / 408 without buffering more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, "Content-Length must be a number of bytes.", code="invalid_request")
        if int(declared) > limit:
            raise too_large()
    try:
        # asyncio.timeout, not wait_for: no extra task, so requests still finish in the order
        # they would without the deadline (tests read the request log in that order).
        async with asyncio.timeout(within):
            return await _collect(request, limit)
    except ClientDisconnect:
        # Nobody reads the answer; the request log records the refusal instead of a 500.
        raise ApiError(
            400, "The client disconnected before sending the whole body.", code="invalid_request"
        ) from None
    except TimeoutError:
        raise ApiError(
            408,
            f"The request body did not arrive within {within:g} seconds.",
            code="request_timeout",
        ) from None


async def _collect(request: Request, limit: int) -> bytes:
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise too_large()
    return bytes(received)


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON under the rules above, or ``ApiError`` 400 ``invalid_json``."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _invalid(f"it is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise _invalid("it is not UTF-8") from None
    except ValueError:
        raise _invalid(None) from None
    _check_shape(value)
    return value


def _invalid(reason: str | None) -> ApiError:
    message = "The request body is not valid JSON" + (f": {reason}." if reason else ".")
    return ApiError(400, message, code="invalid_json")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def _check_shape(value: Any) -> None:
    """Depth and string checks, iteratively (a recursive walk is what deep nesting attacks)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _invalid(f"it is nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_string(key)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_string(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid("a string holds an unpaired surrogate escape") from None
