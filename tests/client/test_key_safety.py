"""The API key stays where it belongs: never sent to another host, never in reprs, exception
messages or log records (httpx / httpcore included, over a real loopback server too)."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.http import EXCERPT
from reconciler.adapters.retry import RetryPolicy
from reconciler.core.errors import ApiError, LfrError, RetryBudgetExhausted, TransportError
from reconciler.core.redact import MARK, MIN_FRAGMENT, redact
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.server import running_server
from tests.support.client import RecordingTransport, shown_key_runs
from tests.support.demo import FULL_KEY, READ_KEY

from .conftest import ClientFactory

LOGGERS = ("httpx", "httpcore", "reconciler.client", "reconciler")


def assert_key_free(text: str) -> None:
    for key in (FULL_KEY, READ_KEY):
        assert key not in text


def assert_exception_key_free(error: BaseException) -> None:
    seen: BaseException | None = error
    while seen is not None:  # the whole chain a traceback would print
        assert_key_free(str(seen))
        assert_key_free(repr(seen))
        if isinstance(seen, RetryBudgetExhausted):
            assert_key_free(repr(seen.last_error))
        seen = seen.__cause__ or seen.__context__


@pytest.mark.anyio
async def test_a_redirect_is_not_followed_and_names_the_host(
    client: LightfieldClient, emu: Emulator, wire: RecordingTransport, opp_id: str
) -> None:
    emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(
                    action="redirect", status=307, location="https://collector.evil.example/steal"
                )
            ]
        )
    )
    with pytest.raises(TransportError) as caught:
        await client.retrieve("opportunities", opp_id)
    assert "collector.evil.example" in str(caught.value)
    assert "not followed" in str(caught.value)
    assert [r.url.host for r in wire.requests] == ["emulator.test"]
    assert len(emu.requests()) == 1
    assert_exception_key_free(caught.value)


@pytest.mark.anyio
async def test_a_relative_redirect_is_refused_too(
    client: LightfieldClient, emu: Emulator, wire: RecordingTransport, opp_id: str
) -> None:
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="redirect", status=302, location="/v1/other")])
    )
    with pytest.raises(TransportError, match="redirect"):
        await client.update("opportunities", opp_id, {"fields": {}}, idempotency_key="k")
    assert len(wire.requests) == 1


@pytest.mark.anyio
async def test_no_key_in_exceptions_or_debug_logs_in_process(
    make_client: ClientFactory,
    emu: Emulator,
    opp_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    raised: list[LfrError] = []
    full = make_client(retry=RetryPolicy(max_attempts=2, rng=random.Random(3)))
    read = make_client(READ_KEY)
    emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(action="status", status=503, path="/v1/opportunities/.*", times=None),
            ]
        )
    )
    for call in (
        lambda: full.retrieve("opportunities", opp_id),
        lambda: make_client("sk_lf_demo_wrong").validate_auth(),
    ):
        with pytest.raises(LfrError) as caught:
            await call()
        raised.append(caught.value)
    emu.faults.configure(FaultConfig(rules=[FaultRule(action="drop", times=None)]))
    with pytest.raises(LfrError) as caught:
        await full.validate_auth()
    raised.append(caught.value)
    emu.faults.configure(FaultConfig())
    with pytest.raises(LfrError) as caught:
        await read.update("opportunities", opp_id, {"fields": {}}, idempotency_key="k")
    raised.append(caught.value)
    with pytest.raises(LfrError) as caught:
        await full.update("opportunities", opp_id, {"fields": {"bogus": 1}}, idempotency_key="k")
    raised.append(caught.value)

    assert [type(e).__name__ for e in raised] == [
        "RetryBudgetExhausted",
        "Unauthorized",
        "RetryBudgetExhausted",
        "Forbidden",
        "BadRequest",
    ]
    for error in raised:
        assert_exception_key_free(error)
    assert any(r.name == "reconciler.client" for r in caplog.records)
    assert_key_free(caplog.text)
    for record in caplog.records:
        assert_key_free(record.getMessage())
        assert_key_free(repr(record.args))
    for client in (full, read):
        assert_key_free(repr(client))
        assert_key_free(str(client))
    assert all("sk_lf_" not in str(r) for r in emu.requests())


@pytest.mark.anyio
async def test_no_key_in_debug_logs_over_a_real_loopback_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    emu = Emulator(db=":memory:", seed="demo")
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="status", status=503, retry_after=0.01, times=1)])
    )
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        async with LightfieldClient(FULL_KEY, base_url=base_url) as client:
            page = await client.list_page("opportunities", limit=2)
            record = await client.retrieve("opportunities", page.data[0].id)
            with pytest.raises(LfrError) as caught:
                await client.retrieve("opportunities", "opp_missing0000000")
    assert record.id == page.data[0].id
    assert client.stats.retries == 1
    assert_exception_key_free(caught.value)
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # the wire was logged
    assert_key_free(caplog.text)
    for log_record in caplog.records:
        assert_key_free(log_record.getMessage())
        assert_key_free(repr(log_record.args))
        assert_key_free(repr(log_record.__dict__))


@pytest.mark.anyio
async def test_the_key_travels_only_in_the_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"active": True, "scopes": []})

    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator.test", transport=httpx.MockTransport(handler)
    ) as client:
        await client.validate_auth()
    request = seen[0]
    assert_key_free(str(request.url))
    assert_key_free(repr(request))
    assert_key_free(repr(request.headers))  # httpx masks Authorization in reprs
    carrying = [name for name, value in request.headers.items() if FULL_KEY in value]
    assert carrying == ["authorization"]


# --- servers that echo the key back ------------------------------------------------------------
#
# A proxy's error page, a debugging backend or a misconfigured gateway may print the key it was
# sent: whole, cut short, re-cased, URL-encoded, inside HTML, JSON or a dump of the request
# headers, or in bytes so malformed that the HTTP parser quotes them in its exception. Each
# shape below is one answer of a tiny ASGI app (or, for protocol errors, a raw loopback
# socket); the client must turn every one into an exception that holds no run of
# MIN_FRAGMENT characters of any key, decoded or not.

# A key shaped like Lightfield's, and one that is not (so the sk_lf_ rule cannot hide misses).
ECHO_KEYS = ("sk_lf_0_Zq8xYv3kLm9PqRsT2uVwXyZa", "lfk-7Hc2Wq9Lm4Xp8Rt3Vz6Nb1Yd5Gs0")
# Keys of other orgs a page might show next to ours.
OTHER_TOKENS = ("sk_lf_live_OtherOrgSecret123456", "SK_LF_1_ANOTHERKEY9876543210")


def _percent(text: str) -> str:
    return "".join(f"%{ord(c):02X}" for c in text)


ENCODINGS: dict[str, Callable[[str], str]] = {
    "as sent": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "underscores encoded": lambda s: s.replace("_", "%5F").replace("-", "%2D"),
    "encoded once": _percent,
    "encoded once, lower hex": lambda s: _percent(s).lower(),
    "encoded twice": lambda s: quote(_percent(s), safe=""),
    "upper, encoded twice": lambda s: quote(_percent(s.upper()), safe=""),
    "html decimal references": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "html hex references": lambda s: "".join(f"&#x{ord(c):x};" for c in s),
    "html references, zero-padded, some": lambda s: "".join(
        f"&#X{ord(c):04X};" if i % 2 else c for i, c in enumerate(s)
    ),
    "html named underscores": lambda s: s.replace("_", "&lowbar;"),
    "html named underscores, other name": lambda s: s.replace("_", "&UnderBar;"),
    "json escapes": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "json escapes, upper hex, some": lambda s: "".join(
        f"\\u{ord(c):04X}" if i % 3 == 0 else c for i, c in enumerate(s)
    ),
}


def _fragments_of(secret: str, *, suffixes: bool = True) -> list[str]:
    """The whole secret, every prefix and (unless told not to) every suffix from MIN_FRAGMENT
    characters up. Another org's key is only recognisable by its sk_lf_ start: no suffixes."""
    lengths = range(MIN_FRAGMENT, len(secret))
    ends = [secret[-n:] for n in lengths] if suffixes else []
    return [secret, *(secret[:n] for n in lengths), *ends]


def _html_at_the_cut(echo: str) -> str:
    """An HTML page whose (whitespace-collapsed) text puts the echo across the excerpt cut,
    all of it but the last character inside the excerpt: the bug of issue 12."""
    head = "<html><body><h1>401</h1><p>Invalid token:"
    pad = "x" * max(0, EXCERPT - len(echo) + 1 - len(head) - 1)
    return f"{head}{pad} {echo}</p></body></html>"


def _html_mid_cut(echo: str) -> str:
    head = "<html><p>Bearer"
    pad = "y" * max(0, EXCERPT - len(echo) // 2 - len(head) - 1)
    return f"{head}{pad} {echo} rejected</p></html>"


Answer = tuple[int, dict[str, str], bytes]
CONTAINERS: dict[str, Callable[[str], Answer]] = {
    "html, cut after all but the last character": lambda e: (
        401,
        {"content-type": "text/html"},
        _html_at_the_cut(e).encode(),
    ),
    "html, cut in the middle": lambda e: (
        403,
        {"content-type": "text/html"},
        _html_mid_cut(e).encode(),
    ),
    "request headers dumped as text": lambda e: (
        400,
        {"content-type": "text/plain", "x-echo": e},
        f"GET /v1/x HTTP/1.1\r\nAuthorization: Bearer {e}\r\nLightfield-Version: 2026".encode(),
    ),
    "json envelope, every field": lambda e: (
        422,
        {"content-type": "application/json"},
        json.dumps(
            {
                "error": {
                    "type": f"bad_key_{e}",
                    "code": e,
                    "message": f"The key {e} is not valid here",
                    "param": f"header.{e}",
                    "details": {e: [e, {"seen": f"Bearer {e}"}]},
                }
            }
        ).encode(),
    ),
    "json, a top-level list (the excerpt path)": lambda e: (
        400,
        {"content-type": "application/json"},
        f'["Authorization: Bearer {e}"]'.encode(),  # JSON escapes stay as sent
    ),
    "json without envelope": lambda e: (
        404,
        {"content-type": "application/json"},
        json.dumps({"type": "not_found", "message": f"Authorization: Bearer {e}"}).encode(),
    ),
}


def _echoes() -> list[tuple[str, str, Answer]]:
    """(key, description, answer) for every shape: containers × encodings × fragments."""
    shapes = []
    others = [f for token in OTHER_TOKENS for f in _fragments_of(token, suffixes=False)]
    for key in ECHO_KEYS:
        secrets = [*_fragments_of(key), *others]
        for secret in secrets:
            for encoding, encode in ENCODINGS.items():
                for container, answer in CONTAINERS.items():
                    shapes.append(
                        (key, f"{container}, {encoding}: {secret}", answer(encode(secret)))
                    )
    return shapes


def _everything_shown(error: BaseException) -> str:
    """Every text an exception carries: str/repr of the whole chain and the ApiError fields."""
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen)]
        if isinstance(seen, RetryBudgetExhausted):
            parts.append(_everything_shown(seen.last_error))
        if isinstance(seen, ApiError):
            parts += [seen.type, seen.code or "", seen.message, seen.param or "", repr(seen.extra)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _echo_app(answers: list[Answer]) -> Any:
    """An ASGI app answering ``GET /v1/opportunities/{i}`` with ``answers[i]``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status, headers, body = answers[int(scope["path"].rsplit("/", 1)[1])]
        raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.anyio
async def test_error_pages_echoing_the_key_in_any_shape_leak_nothing() -> None:
    echoes = _echoes()
    leaks: list[str] = []
    for key in ECHO_KEYS:
        mine = [(what, answer) for k, what, answer in echoes if k == key]
        app = _echo_app([answer for _, answer in mine])
        async with LightfieldClient.for_asgi_app(
            app, key, rates=None, retry=RetryPolicy(max_attempts=1)
        ) as client:
            for index, (what, _) in enumerate(mine):
                with pytest.raises(ApiError) as caught:
                    await client.retrieve("opportunities", str(index))
                shown = _everything_shown(caught.value)
                if "cut" not in what:  # where the excerpt cuts, it may cut the mark short too
                    assert MARK in shown, what  # the echo was there, and was replaced
                leaks += [f"{what} → {run}" for run in shown_key_runs(shown, (key, *OTHER_TOKENS))]
    assert leaks == []
    print(f"key echoes: 0 leaks in {len(echoes)} echoes")


# HTTP parsers quote the bytes they choke on (h11: "illegal header line: bytearray(b'...')"),
# so a malformed answer that echoes the key puts it in the exception message.
MALFORMED: dict[str, Callable[[str], str]] = {
    "header line without a colon": lambda e: f"HTTP/1.1 401 Unauthorized\r\nX-Echo {e}\r\n\r\n",
    "status line": lambda e: f"HTTX/1.1 401 {e}\r\n\r\n",
    "chunk header": lambda e: (
        f"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n{e}\r\n"
    ),
}


@contextmanager
def raw_server(answers: list[bytes]) -> Iterator[str]:
    """A loopback socket answering ``GET /v1/opportunities/{i}`` with the raw bytes
    ``answers[i]``, then closing the connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            with connection:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                else:
                    path = request.split(b" ", 2)[1]
                    connection.sendall(answers[int(path.rsplit(b"/", 1)[1])])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        listener.close()
        thread.join(timeout=5)


@pytest.mark.anyio
async def test_malformed_answers_quoting_the_key_leak_nothing() -> None:
    leaks: list[str] = []
    count = 0
    for key in ECHO_KEYS:
        # Every fragment as sent, and the whole key in every encoding (a socket per shape).
        echoes = [*_fragments_of(key), *(encode(key) for encode in ENCODINGS.values())]
        shapes = [
            (f"{kind}: {echo}", malformed(echo).encode())
            for echo in echoes
            for kind, malformed in MALFORMED.items()
        ]
        count += len(shapes)
        with raw_server([answer for _, answer in shapes]) as base_url:
            async with LightfieldClient(
                key, base_url=base_url, rates=None, retry=RetryPolicy(max_attempts=1)
            ) as client:
                for index, (what, _) in enumerate(shapes):
                    with pytest.raises(RetryBudgetExhausted) as caught:
                        await client.retrieve("opportunities", str(index))
                    shown = _everything_shown(caught.value)
                    assert "RemoteProtocolError" in shown and MARK in shown, what
                    leaks += [
                        f"{what} → {run}" for run in shown_key_runs(shown, (key, *OTHER_TOKENS))
                    ]
    assert leaks == []
    print(f"malformed answers: 0 leaks in {count} echoes")


@pytest.mark.parametrize(
    "text",
    [
        "Stage label 'Won' is ambiguous.",
        "100% of 50%25 done; sk_lf_ keys are documented",
        "opp_cm4stu901uvw234 acc_cm4stu901uvw234 Zq8xYv3",  # 7 characters of the key: too few
        "<html><body>Bad gateway</body></html>",
    ],
)
def test_redaction_leaves_text_without_a_key_as_it_was(text: str) -> None:
    assert redact(text, ECHO_KEYS[0]) == text
