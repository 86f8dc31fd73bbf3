"""Test helpers of the client suite: a manual clock for the client and a recording transport.

Neither replaces code under test: ``FakeClock`` is the client's injectable time source bound to
the emulator's ``ManualClock``, and ``RecordingTransport`` forwards every request unchanged to a
real transport (the emulator's ASGI app) while keeping a copy of what was sent.
``shown_key_runs`` is the leak check of the key-echo tests.
"""

from __future__ import annotations

import asyncio
import html
import re
from urllib.parse import unquote

import httpx

from reconciler.core.redact import MIN_FRAGMENT
from reconciler.emulator.clock import ManualClock


class FakeClock:
    """The client's clock over the emulator's ``ManualClock``: sleeping advances simulated time
    (so the emulator's rate limiter and idempotency store see it too) and records the delay."""

    def __init__(self, manual: ManualClock) -> None:
        self.manual = manual
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.manual.now()

    def time(self) -> float:
        return self.manual.now()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.manual.advance(seconds)
        await asyncio.sleep(0)  # let other coroutines run, as a real sleep would


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards to ``inner`` and records every request (method, URL, headers, body)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def shown_key_runs(text: str, secrets: tuple[str, ...]) -> list[str]:
    """The runs of MIN_FRAGMENT characters of any of ``secrets`` that ``text`` shows, in any
    letter case, also once percent-decoded up to three times, HTML character references and
    JSON ``\\uXXXX`` escapes decoded: what redaction must leave none of."""
    views = [text.lower()]
    for _ in range(3):
        views.append(unquote(views[-1]))
    views += [html.unescape(view) for view in views]
    views += [_JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), view) for view in views]
    shown = "\n".join(views)
    runs = {
        secret.lower()[i : i + MIN_FRAGMENT]
        for secret in secrets
        for i in range(len(secret) - MIN_FRAGMENT + 1)
    }
    return sorted(run for run in runs if run in shown)
