"""``lfr emulator serve`` as a real process: a 200 MB upload is refused without growing the
server's memory, and beyond loopback the admin endpoints need the token it prints once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .conftest import headers

STARTUP_SECONDS = 30.0
UPLOAD_BYTES = 200 * 1024 * 1024
# Generous: the body limit is 1 MiB; before it, one 200 MB body took the server to ~1.3 GB.
MAX_GROWTH_KB = 100 * 1024


def _lfr() -> list[str]:
    script = Path(sys.executable).parent / "lfr"
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``lfr emulator serve --port <free> *args``; yields (process, loopback URL, stderr file)."""
    port = _free_port()
    stderr = tmp_path / "serve.stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [*_lfr(), "emulator", "serve", "--port", str(port), "--rate", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, stderr.read_text()
                assert time.monotonic() < deadline, "lfr emulator serve did not start"
                time.sleep(0.05)
        yield process, url, stderr
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _upload_chunked(url: str, total: int) -> tuple[int, bytes]:
    """POST a ``total``-byte JSON body chunked over a raw socket until the server stops it;
    (bytes sent, the status line if one could be read)."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        "POST /v1/opportunities HTTP/1.1\r\nHost: emulator\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers().items())
        + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"a" * 65536
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            opening = b'{"fields":{"$name":"big","$nextSteps":"'
            sock.sendall(head + b"%x\r\n" % len(opening) + opening + b"\r\n")
            while sent < total:
                sock.sendall(framed)
                sent += len(chunk)
        except ConnectionError:
            pass
        try:
            status = sock.recv(4096).split(b"\r\n")[0]
        except ConnectionError:
            status = b""
    return sent, status


def test_a_200_mb_upload_is_refused_without_growing_the_server(tmp_path: Path) -> None:
    with _serving(tmp_path) as (process, url, _):
        with httpx.Client(base_url=url, headers=headers()) as http:
            assert http.get("/v1/auth/validate").status_code == 200
        before = _peak_kb(process.pid)
        sent, status = _upload_chunked(url, UPLOAD_BYTES)
        after = _peak_kb(process.pid)
        with httpx.Client(base_url=url) as http:
            logged = http.get("/_emulator/requests").json()[-1]
    print(
        f"200 MB chunked upload: client sent {sent / 2**20:.1f} MiB before the server stopped "
        f"it ({status.decode() or 'reset'}); server peak RSS {before / 1024:.0f} -> "
        f"{after / 1024:.0f} MiB"
    )
    assert (logged["status"], logged["body"]) == (413, None)
    assert sent < UPLOAD_BYTES
    assert after - before < MAX_GROWTH_KB


def test_beyond_loopback_the_admin_token_is_printed_once_and_required(tmp_path: Path) -> None:
    with _serving(tmp_path, "--host", "0.0.0.0") as (_, url, stderr):  # noqa: S104
        printed = stderr.read_text()
        token = printed.split("Authorization: Bearer ", 1)[1].split("'", 1)[0]
        assert token.startswith("lfr_emu_admin_")
        assert printed.count(token) == 1
        with httpx.Client(base_url=url) as http:
            assert http.get("/_emulator/requests").status_code == 401
            assert http.get("/_emulator/requests", headers=headers()).status_code == 401
            auth = {"Authorization": f"Bearer {token}"}
            assert http.get("/_emulator/requests", headers=auth).status_code == 200
            assert http.get("/v1/auth/validate", headers=headers()).status_code == 200
    assert stderr.read_text().count(token) == 1  # not logged again, not on exit


def test_a_chosen_admin_token_is_required_even_on_loopback_and_never_printed(
    tmp_path: Path,
) -> None:
    chosen = "lfr_emu_admin_chosen-by-the-operator"
    env = {"LFR_EMULATOR_ADMIN_TOKEN": chosen}
    with _serving(tmp_path, env=env) as (_, url, stderr), httpx.Client(base_url=url) as http:
        assert http.get("/_emulator/requests").status_code == 401
        auth = {"Authorization": f"Bearer {chosen}"}
        assert http.get("/_emulator/requests", headers=auth).status_code == 200
    assert chosen not in stderr.read_text()
