"""The served emulator's connection bounds (server.py) over real loopback sockets: a request head
must arrive in time (slowloris), heads have a size limit. Each wait is a bounded loop; the only
time asserted is a generous "closed before" bound."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.server import MAX_HEAD_BYTES, running_server

from .conftest import FULL_KEY, opp

OPP = opp("acme-expansion")
HEAD_TIMEOUT = 1.0
CLOSED_WITHIN = 8.0  # generous: the server should close after ~HEAD_TIMEOUT
DRIP_SECONDS = 0.05
REQUEST = (
    f"GET /v1/auth/validate HTTP/1.1\r\nHost: emulator\r\nAuthorization: Bearer {FULL_KEY}\r\n"
    "Lightfield-Version: 2026-03-01\r\n\r\n"
).encode()


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with running_server(Emulator(), head_timeout=HEAD_TIMEOUT) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        yield host, int(port)


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionError:
        return True


def _drip_until_closed(sock: socket.socket, data: bytes) -> tuple[bool, float, int]:
    """Send ``data`` a byte at a time; (closed, seconds, bytes sent) when the server closes or
    the bytes run out."""
    started = time.monotonic()
    for sent, byte in enumerate(data):
        if _closed(sock):
            return True, time.monotonic() - started, sent
        try:
            sock.send(bytes([byte]))
        except ConnectionError:
            return True, time.monotonic() - started, sent
        time.sleep(DRIP_SECONDS)
    return _closed(sock), time.monotonic() - started, len(data)


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(CLOSED_WITHIN)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


# Enough bytes for CLOSED_WITHIN seconds of dripping: a head that never ends.
ENDLESS_HEAD = b"GET /v1/auth/validate HTTP/1.1\r\nHost: emulator\r\nX-Slow: " + b"a" * int(
    CLOSED_WITHIN / DRIP_SECONDS
)


def test_a_head_sent_byte_by_byte_is_cut_off(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        closed, seconds, sent = _drip_until_closed(sock, ENDLESS_HEAD)
    print(f"slowloris head: closed={closed} after {seconds:.2f} s and {sent} bytes")
    assert closed
    assert seconds < CLOSED_WITHIN


def test_a_silent_connection_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        readable, _, _ = select.select([sock], [], [], CLOSED_WITHIN)
        assert readable
        assert _closed(sock)


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_head(
    address: tuple[str, int],
) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(REQUEST)
        assert _read_response(sock).startswith(b"HTTP/1.1 200")
        sock.settimeout(None)
        closed, seconds, _ = _drip_until_closed(sock, ENDLESS_HEAD)
    assert closed
    assert seconds < CLOSED_WITHIN


def test_a_complete_head_is_not_cut_off_while_its_body_comes(address: tuple[str, int]) -> None:
    head = (
        f"POST /v1/auth/validate HTTP/1.1\r\nHost: emulator\r\nAuthorization: Bearer {FULL_KEY}"
        "\r\nLightfield-Version: 2026-03-01\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n"
    ).encode()
    with socket.create_connection(address) as sock:
        sock.sendall(head)
        time.sleep(HEAD_TIMEOUT * 1.5)  # past the head deadline: the head was in time
        assert not _closed(sock)
        sock.sendall(b"{}")
        # POST on a GET-only route: the envelope 404 proves the request ran
        assert _read_response(sock).startswith(b"HTTP/1.1 404")


@pytest.mark.parametrize("size", [MAX_HEAD_BYTES, 300 * 1024, 4 * 1024 * 1024])
def test_an_oversized_head_is_refused_with_the_envelope(
    address: tuple[str, int], size: int
) -> None:
    big = REQUEST.replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
    with socket.create_connection(address) as sock:
        try:
            sock.sendall(big)
        except ConnectionError:
            return  # refused (and reset) before the whole head was even sent
        response = _read_response(sock)
    assert response.startswith(b"HTTP/1.1 431"), response[:100]
    assert b"connection: close" in response.lower()


def test_a_head_just_under_the_limit_is_served(address: tuple[str, int]) -> None:
    padding = MAX_HEAD_BYTES - len(REQUEST) - len(b"X-Pad: \r\n")
    head = REQUEST.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * padding + b"\r\n\r\n")
    assert len(head) == MAX_HEAD_BYTES
    with socket.create_connection(address) as sock:
        sock.sendall(head)
        assert _read_response(sock).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_a_large_body_in_the_same_write_as_its_head_is_not_mistaken_for_head(
    address: tuple[str, int], newline: bytes
) -> None:
    body = b'{"fields":{"$nextSteps":"' + b"x" * (512 * 1024) + b'"}}'
    head = (
        f"POST /v1/opportunities/{OPP} HTTP/1.1\nHost: emulator\nAuthorization: Bearer "
        f"{FULL_KEY}\nLightfield-Version: 2026-03-01\nContent-Type: application/json\n"
        f"Content-Length: {len(body)}\n\n"
    ).encode()
    with socket.create_connection(address) as sock:
        sock.sendall(head.replace(b"\n", newline) + body)
        assert _read_response(sock).startswith(b"HTTP/1.1 200")
