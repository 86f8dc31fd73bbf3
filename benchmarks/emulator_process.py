"""The emulator as a separate uvicorn process on loopback, as a user would run it.

Owns starting ``lfr emulator serve`` on a free loopback port over a pre-seeded SQLite file (the
emulator keeps an existing database's data), with the real per-category limits and an added
latency per request (the fault spec's ``latency_ms``), waiting until it answers, reading its
admin endpoints (request and mutation logs) and stopping exactly the process it started.
Called by suite.py and measure.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

STARTUP_SECONDS = 30.0
START_ATTEMPTS = 3


def lfr_command() -> list[str]:
    """The ``lfr`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "lfr"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "reconciler.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorProcess:
    """One ``lfr emulator serve`` process over its own copy of a seeded database."""

    def __init__(
        self, name: str, seeded_db: Path, workdir: Path, *, rate: float, latency_ms: float
    ) -> None:
        self.name = name
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db = self.workdir / "emulator.sqlite3"
        shutil.copyfile(seeded_db, self.db)
        self.rate = rate
        self.latency_ms = latency_ms
        self.faults = self.workdir / "faults.json"
        self.faults.write_text(json.dumps({"latency_ms": latency_ms}), encoding="utf-8")
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Launch the process (returns at once; ``wait_ready`` waits for it)."""
        self.port = free_port()
        command = [
            *lfr_command(),
            "emulator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--faults",
            str(self.faults),
            "--rate",
            str(self.rate),
        ]
        log = (self.workdir / "server.log").open("ab")
        # uvicorn's access log goes to the file, so printing it costs the server what it would.
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()

    def wait_ready(self) -> None:
        """Wait until the admin endpoint answers; restart on another port if the first died
        (the free port can be taken between choosing it and binding it)."""
        for attempt in range(START_ATTEMPTS):
            if self._await_answer():
                self._http = httpx.Client(base_url=self.base_url, timeout=60.0)
                return
            self.stop()
            if attempt + 1 < START_ATTEMPTS:
                self.start()
        log = (self.workdir / "server.log").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"emulator {self.name} did not start:\n{log[-2000:]}")

    def _await_answer(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                response = httpx.get(f"{self.base_url}/_emulator/faults", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            return response.status_code == 200
        return False

    def _admin(self, method: str, path: str) -> Any:
        assert self._http is not None, "wait_ready() first"
        response = self._http.request(method, path)
        response.raise_for_status()
        return response.json()

    def reset_logs(self) -> None:
        self._admin("POST", "/_emulator/reset-logs")

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._admin("GET", "/_emulator/requests")
        return result

    def mutations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._admin("GET", "/_emulator/mutations")
        return result

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
