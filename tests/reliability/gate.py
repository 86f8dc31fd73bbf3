"""The crash tests' gate: kill a real ``lfr apply`` process at a chosen write (issues 7, 17, 18).

``WriteGate`` is a test-side ASGI layer in front of the emulator app (no hook in lfr itself);
``kill_at_the_gate`` runs ``lfr ARGS`` as a subprocess through it, waits until the gate trips,
SIGKILLs the process and drops what it still had in transit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator import Emulator
from reconciler.emulator.server import running_server
from tests.support.demo import FULL_KEY


class WriteGate:
    """ASGI layer in front of the emulator: passes writes until the k-th, stops there at the
    chosen phase (``tripped`` is set) and holds every later write; once ``released`` is set the
    held writes, and any the dead process still had in transit, are dropped unanswered."""

    def __init__(self, inner: ASGIApp, k: int, phase: str) -> None:
        self.inner, self.k, self.phase = inner, k, phase
        self.seen = 0
        self.tripped = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_write = scope["type"] == "http" and scope["method"] == "POST"
        if not is_write or scope["path"].startswith("/_emulator/"):
            await self.inner(scope, receive, send)
            return
        # A write counts once its whole body has arrived: one the dead process had not finished
        # sending was never sent.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body, more = body + message.get("body", b""), message.get("more_body", False)

        pending: bytes | None = body

        async def replay() -> Message:
            nonlocal pending
            if pending is None:
                return await receive()
            message, pending = {"type": "http.request", "body": pending, "more_body": False}, None
            return message

        with self._lock:
            self.seen += 1
            n = self.seen
        if n < self.k and not self.tripped.is_set():
            await self.inner(scope, replay, send)
            return
        if n == self.k and self.phase == "after-response":
            await self.inner(scope, replay, send)
            self.tripped.set()
            return
        if n == self.k and self.phase == "after-send":

            async def swallow(message: Message) -> None:
                pass  # the answer never leaves the server

            await self.inner(scope, replay, swallow)
        if n == self.k:
            self.tripped.set()
        await asyncio.to_thread(self.released.wait, 60)
        # Held: the process that sent it is dead; nothing is answered.


def kill_at_the_gate(emu: Emulator, gate: WriteGate, args: list[str]) -> None:
    """``lfr ARGS`` (in the current directory) against ``emu`` through ``gate``, killed once the
    gate trips. The process talks to a server of its own; leaving it waits for every request it
    had taken, so the emulator's logs are final on return, and later runs use another server on
    the same emulator: nothing the dead process had in transit can land after it."""
    plain = emu.app
    emu.app = gate  # type: ignore[assignment]
    with running_server(emu, host="127.0.0.1", port=0) as gated_url:
        emu.app = plain
        env = {**os.environ, "LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": gated_url}
        env.pop("CI", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            tripped = gate.tripped.wait(timeout=60)
        finally:
            process.send_signal(signal.SIGKILL)
            _, stderr = process.communicate(timeout=30)
            gate.released.set()
        assert tripped, stderr.decode()
