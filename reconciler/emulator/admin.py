"""Who may use the ``/_emulator/*`` admin endpoints (logs with request bodies, fault knobs, the
clock).

Owns the access rule. With no admin token (an emulator in-process, or served on loopback) the
endpoints answer clients on a loopback address only, as before. With a token (``serve`` requires
one when it binds beyond loopback) every admin request must carry ``Authorization: Bearer
<token>``; an API key is never accepted there, and the token is never accepted by the API.
Called by app.py (the check) and server.py / the CLI (the token and the loopback test).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

from starlette.requests import Request

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
