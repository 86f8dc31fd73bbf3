"""The ``/_emulator/*`` admin endpoints (logs with request bodies, fault knobs, the clock): who
may use them and what they answer.

Owns the access rule and the endpoints. With no admin token (an emulator in-process, or served
on loopback) the endpoints answer clients on a loopback address only, as before. With a token
(``serve`` requires one when it binds beyond loopback) every admin request must carry
``Authorization: Bearer <token>``; an API key is never accepted there, and the token is never
accepted by the API.
Called by app.py (every ``/_emulator/`` request) and server.py / the CLI (the token and the
loopback test).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .body import parse_json, read_body
from .errors import ApiError
from .faults import FaultConfig
from .parts import EmulatorParts
from .responses import error_response, json_response

ADMIN_TOKEN_PREFIX = "lfr_emu_admin_"  # noqa: S105 - a prefix, not a secret


def new_admin_token() -> str:
    return ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for names and other addresses."""
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def admin_allowed(token: str | None, request: Request) -> bool:
    if token is None:
        return request.client is not None and is_loopback(request.client.host)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def admin_response(emu: EmulatorParts, request: Request) -> Response:
    """The answer to a ``/_emulator/*`` request (not logged, outside the API pipeline)."""
    if not admin_allowed(emu.admin_token, request):
        return error_response(
            ApiError(401, "The /_emulator endpoints need the emulator's admin token."), {}
        )
    try:
        return await _answer(emu, request)
    except ApiError as error:
        return error_response(error, {})
    except Exception:  # answer the envelope, never a trace
        return error_response(ApiError(500, "The emulator failed on this request."), {})


async def _answer(emu: EmulatorParts, request: Request) -> Response:
    path, method = request.url.path, request.method
    since = _since(request.query_params.get("since"))
    if (method, path) == ("GET", "/_emulator/mutations"):
        return json_response(200, emu.mutations(since))
    if (method, path) == ("GET", "/_emulator/requests"):
        return json_response(200, emu.requests(since))
    if (method, path) == ("GET", "/_emulator/faults"):
        return json_response(200, emu.faults.to_dict())
    if (method, path) == ("PUT", "/_emulator/faults"):
        data = await _admin_body(request)
        try:
            emu.faults.configure(FaultConfig.from_dict(data))
        except ValueError as exc:
            raise ApiError(400, str(exc), code="invalid_parameter") from None
        return json_response(200, emu.faults.to_dict())
    if (method, path) == ("POST", "/_emulator/clock/advance"):
        data = await _admin_body(request)
        advance = getattr(emu.clock, "advance", None)
        if advance is None:
            raise ApiError(
                409, "The emulator clock is not a manual clock.", code="clock_not_manual"
            )
        seconds = data.get("seconds") if isinstance(data, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise ApiError(400, "'seconds' must be a number.", code="invalid_type", param="seconds")
        advance(seconds)
        return json_response(200, {"now": emu.clock.now()})
    if (method, path) == ("POST", "/_emulator/reset-logs"):
        emu.reset_logs()
        return json_response(200, {"ok": True})
    raise ApiError(404, f"No admin endpoint {method} {path}.")


async def _admin_body(request: Request) -> Any:
    raw = await read_body(request)
    return parse_json(raw) if raw.strip() else {}


def _since(raw: str | None) -> int:
    if not raw:
        return 0
    if not raw.isdigit():
        raise ApiError(
            400, "'since' must be a sequence number.", code="invalid_parameter", param="since"
        )
    return int(raw)
