"""The emulated ``Idempotency-Key`` store (digest §7).

INTERFACE STUB written by the lead; the emulator-infra helper fills in the bodies. app.py calls
``begin`` before running a POST that carries the header, then exactly one of ``finish`` (the
operation ran; the response is stored only when it is 2xx) or ``abandon`` (it raised).
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Proceed:
    """Run the operation, then call ``finish``."""


@dataclass(frozen=True)
class Replay:
    """Answer with the stored response of the first request."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class InFlight:
    """The same key is being processed right now: answer 409."""


@dataclass(frozen=True)
class Mismatch:
    """Strict mode only: the key was used with another request body: answer 422."""


Begin = Proceed | Replay | InFlight | Mismatch


class IdempotencyStore:
    def __init__(self, clock: Clock, ttl_seconds: float = 24 * 3600, strict: bool = False) -> None:
        raise NotImplementedError

    def begin(self, org: str, operation: str, key: str, body_fingerprint: str) -> Begin:
        """``operation`` is ``"METHOD /concrete/path"``; keys are scoped per (org, operation)."""
        raise NotImplementedError

    def finish(
        self, org: str, operation: str, key: str, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        raise NotImplementedError

    def abandon(self, org: str, operation: str, key: str) -> None:
        raise NotImplementedError
