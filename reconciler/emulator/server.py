"""Serving the emulator over real HTTP with uvicorn.

Owns ``serve`` (blocking; ``lfr emulator serve``) and ``running_server`` (a context manager that
runs uvicorn in a background thread on loopback, waits until it accepts requests, yields the base
URL and stops it on exit; used by contract tests and benchmarks).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from .emulator import Emulator

STARTUP_TIMEOUT_SECONDS = 10.0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 = a free port).

    IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP (and
    uvicorn binds with proto 0), so without it every response waits ~40 ms for the client's
    delayed ACK (Nagle's algorithm).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve(
    emu: Emulator, host: str = "127.0.0.1", port: int = 8787, log_level: str = "info"
) -> None:
    """Serve ``emu`` until interrupted."""
    sock = listen(host, port)
    try:
        uvicorn.Server(uvicorn.Config(emu.app, log_level=log_level)).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(
    emu: Emulator, host: str = "127.0.0.1", port: int = 0, log_level: str = "critical"
) -> Iterator[str]:
    """Run ``emu`` on ``host:port`` (0 = a free port) in a thread; yield ``http://host:port``.

    ``log_level`` defaults to "critical" because injected connection drops make uvicorn log
    tracebacks that are expected.
    """
    sock = listen(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(emu.app, log_level=log_level, lifespan="off")
    server = uvicorn.Server(config)
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
