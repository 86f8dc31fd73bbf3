"""Serving the emulator over real HTTP with uvicorn, within bounds.

Owns ``listen`` (the socket), ``serve`` (blocking; ``lfr emulator serve``) and
``running_server`` (a context manager that runs uvicorn in a background thread, waits until it
accepts requests, yields the base URL and stops it on exit; used by contract tests and
benchmarks). Both run the same configuration (``uvicorn_config``):

- A request head (request line and headers) must arrive within ``HEAD_TIMEOUT_SECONDS`` of the
  connection opening or of the previous response, else the connection is closed. uvicorn 0.54
  has no such timeout (its keep-alive timer stops at the first byte), so a client sending
  headers a byte at a time (slowloris) held a connection for ever; ``_HeadDeadline`` adds it.
- A request head is at most ``MAX_HEAD_BYTES``: beyond, 431 (the error envelope) and the
  connection is closed. (h11's own bound only applies to a head still incomplete after a read,
  so one 256 KiB read could complete a larger one; ``_HeadDeadline`` counts every byte.)
- At most ``MAX_CONCURRENCY`` connections or requests at once (uvicorn answers 503 beyond).
- Bodies are bounded by the app (body.py); ``/_emulator/*`` beyond loopback needs the admin token
  (admin.py): ``serve`` and ``running_server`` refuse to bind beyond loopback without one.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .admin import is_loopback
from .emulator import Emulator
from .errors import ApiError

STARTUP_TIMEOUT_SECONDS = 10.0
HEAD_TIMEOUT_SECONDS = 10.0
MAX_HEAD_BYTES = 16 * 1024
# The blank line that ends a request head, as h11 reads it (CRLF or bare LF line endings).
_HEAD_END = re.compile(rb"\n\r?\n")
# Above httpx's default pool (100 connections), so one busy client is never refused.
MAX_CONCURRENCY = 256


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 = a free port).

    IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP (and
    uvicorn binds with proto 0), so without it every response waits ~40 ms for the client's
    delayed ACK (Nagle's algorithm).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def on_loopback(sock: socket.socket) -> bool:
    """True when ``sock`` is bound to a loopback address (judged by the bound address, so a name
    like ``localhost`` counts by what it resolved to, and ``0.0.0.0`` / ``::`` do not)."""
    return is_loopback(str(sock.getsockname()[0]))


def uvicorn_config(
    emu: Emulator, log_level: str, head_timeout: float = HEAD_TIMEOUT_SECONDS
) -> uvicorn.Config:
    protocol = type("HeadDeadlineProtocol", (_HeadDeadline,), {"head_timeout": head_timeout})
    return uvicorn.Config(
        emu.app,
        log_level=log_level,
        lifespan="off",
        http=protocol,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        limit_concurrency=MAX_CONCURRENCY,
    )


def serve(emu: Emulator, sock: socket.socket, log_level: str = "info") -> None:
    """Serve ``emu`` on the listening ``sock`` (see ``listen``) until interrupted."""
    _check_exposure(emu, sock)
    try:
        uvicorn.Server(uvicorn_config(emu, log_level)).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(
    emu: Emulator,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "critical",
    head_timeout: float = HEAD_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Run ``emu`` on ``host:port`` (0 = a free port) in a thread; yield ``http://host:port``.

    ``log_level`` defaults to "critical" because injected connection drops make uvicorn log
    tracebacks that are expected.
    """
    sock = listen(host, port)
    try:
        _check_exposure(emu, sock)
    except ValueError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(emu, log_level, head_timeout))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="lfr-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start in time")
            time.sleep(0.005)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()


def _check_exposure(emu: Emulator, sock: socket.socket) -> None:
    if emu.admin_token is None and not on_loopback(sock):
        raise ValueError(
            "serving the emulator beyond loopback needs an admin token for /_emulator/* "
            "(Emulator(admin_token=...))"
        )


class _HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within
    ``head_timeout`` seconds of the connection opening or of the previous response."""

    head_timeout: float = HEAD_TIMEOUT_SECONDS
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0  # bytes of the current request head so far
    _head_tail = b""  # the last bytes seen, in case the blank line spans two reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            # Only the head counts: the same read may carry the start of the body.
            seen = self._head_tail + data
            end = _HEAD_END.search(seen)
            self._head_bytes += end.end() - len(self._head_tail) if end else len(data)
            self._head_tail = b"" if end else seen[-2:]
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()
                return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # waiting for the next request's head on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._head_tail = b""
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_overdue)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        """431 with the error envelope, written raw: h11 sends no response before a request."""
        self._disarm()
        error = ApiError(431, f"The request head is larger than {MAX_HEAD_BYTES} bytes.")
        body = json.dumps(error.body(), separators=(",", ":")).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.transport.close()
