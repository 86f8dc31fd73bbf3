"""The emulated ``Idempotency-Key`` store (lightfield-api.md §7).

Owns the stored outcomes of keyed POSTs. app.py calls ``begin`` before running a POST that
carries the header, then exactly one of ``finish`` (the operation answered, an API error
included; the response is stored only when it is 2xx) or ``abandon`` (anything else went wrong).

Decisions where the docs are open (lightfield-api.md §7 and "Open questions" 2-3):

- Scope: an entry is keyed by (org, operation, key) where ``operation`` is
  ``"METHOD /concrete/path"``. So a key is reusable across entity types and across create vs
  update (documented), and two updates of *different* records with one key do not clash (the
  docs leave this open; the concrete path is the narrower, safer reading).
- Only 2xx responses are stored. Any other status drops the entry, so a retry with the same
  key runs the operation again ("failures are not cached"; 4xx are treated like 5xx because a
  4xx changed nothing).
- Keys live 24 hours from the first ``begin``; after that the key is new again. Expired entries
  are purged lazily (on access, and from the oldest end on every ``begin``).
- Stored answers are durable when the store is given an ``OutcomeLog`` (the emulator's SQLite
  store): written on ``finish``, deleted on expiry, and loaded again (those still within the
  TTL) when an emulator opens the same ``--db`` file, so a restart still replays them, as the
  documented 24 hours promise. In-flight entries are not written: a restart forgets them, and the
  retry runs.
- While the first request runs, the same key answers ``InFlight`` (409). An in-flight entry also
  expires after the TTL, so a lost request cannot block its key forever.
- A different body with a used key replays the first response, as Lightfield's plugin
  describes. ``strict=True`` makes it ``Mismatch`` (422) instead, to flush out client bugs; the
  mismatch check wins over ``InFlight`` because waiting would not help.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock
from .stored import StoredOutcome

MAX_KEY_LENGTH = 255
DEFAULT_TTL_SECONDS = 24 * 3600


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

_Scope = tuple[str, str, str]  # (org, operation, key)


@dataclass
class _Entry:
    created: float
    fingerprint: str | None  # None: unknown, never a mismatch
    response: Replay | None = None  # None while in flight


class OutcomeLog(Protocol):
    """Where stored answers outlive the process (``store.Store``)."""

    def save_outcome(self, outcome: StoredOutcome) -> None: ...

    def forget_outcome(self, scope: tuple[str, str, str]) -> None: ...

    def outcomes(self, created_after: float) -> list[StoredOutcome]: ...


def key_too_long(key: str) -> bool:
    """True when ``key`` exceeds the documented 255 characters (answer 400)."""
    return len(key) > MAX_KEY_LENGTH


class IdempotencyStore:
    """In memory (and in ``log`` when given); safe to call from several threads."""

    def __init__(
        self,
        clock: Clock,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        strict: bool = False,
        log: OutcomeLog | None = None,
    ) -> None:
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")
        self._clock = clock
        self._ttl = ttl_seconds
        self.strict = strict
        self._lock = threading.Lock()
        # Insertion order is creation order, so expired entries sit at the front.
        self._entries: OrderedDict[_Scope, _Entry] = OrderedDict()
        self._log = log
        if log is not None:
            for stored in log.outcomes(created_after=clock.now() - ttl_seconds):
                self._entries[stored.scope] = _Entry(
                    stored.created,
                    stored.fingerprint,
                    Replay(stored.status, stored.body, stored.headers),
                )

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock.now())
            return len(self._entries)

    def begin(self, org: str, operation: str, key: str, body_fingerprint: str) -> Begin:
        """``operation`` is ``"METHOD /concrete/path"``; keys are scoped per (org, operation)."""
        scope = (org, operation, key)
        with self._lock:
            now = self._clock.now()
            self._purge(now)
            entry = self._entries.get(scope)
            if entry is not None and self._expired(entry, now):
                self._drop(scope)
                entry = None
            if entry is None:
                self._entries[scope] = _Entry(created=now, fingerprint=body_fingerprint)
                return Proceed()
            if (
                self.strict
                and entry.fingerprint is not None
                and entry.fingerprint != body_fingerprint
            ):
                return Mismatch()
            if entry.response is None:
                return InFlight()
            return entry.response

    def finish(
        self, org: str, operation: str, key: str, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        """Record the outcome of the attempt ``begin`` let through: store 2xx, forget the rest."""
        scope = (org, operation, key)
        with self._lock:
            if not 200 <= status < 300:
                self._entries.pop(scope, None)
                return
            entry = self._entries.get(scope)
            if entry is None:
                # Purged while running (TTL shorter than the request); keep the result anyway.
                entry = self._entries[scope] = _Entry(created=self._clock.now(), fingerprint=None)
            entry.response = Replay(status=status, body=bytes(body), headers=dict(headers))
            if self._log is not None:
                self._log.save_outcome(
                    StoredOutcome(
                        scope, entry.created, entry.fingerprint, status, bytes(body), dict(headers)
                    )
                )

    def abandon(self, org: str, operation: str, key: str) -> None:
        """The attempt raised: forget the key so a retry runs the operation again."""
        with self._lock:
            self._entries.pop((org, operation, key), None)

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.created >= self._ttl

    def _purge(self, now: float) -> None:
        while self._entries:
            scope, entry = next(iter(self._entries.items()))
            if not self._expired(entry, now):
                return
            self._drop(scope)

    def _drop(self, scope: _Scope) -> None:
        entry = self._entries.pop(scope)
        if entry.response is not None and self._log is not None:
            self._log.forget_outcome(scope)
