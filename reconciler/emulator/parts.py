"""What the HTTP face needs of the emulator, as a structural type.

Owns ``EmulatorParts``: the store, clock, limiter, faults, idempotency store and record
operations app.py and admin.py run a request with. ``Emulator`` (emulator.py, the composition
root) has them all; naming them here lets the app take an emulator without importing the module
that builds the app, so the two do not import each other.
"""

from __future__ import annotations

from typing import Any, Protocol

from .clock import Clock
from .faults import Faults
from .idempotency import IdempotencyStore
from .operations import Records
from .profiles import Profile
from .ratelimit import RateLimiter
from .store import Store


class EmulatorParts(Protocol):
    # Read at every request, not captured when the app is built: tests and the CLI may
    # reconfigure an emulator whose app is already serving.
    @property
    def admin_token(self) -> str | None: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def profile(self) -> Profile: ...

    @property
    def store(self) -> Store: ...

    @property
    def records(self) -> Records: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    def mutations(self, since: int = 0) -> list[dict[str, Any]]: ...

    def requests(self, since: int = 0) -> list[dict[str, Any]]: ...

    def reset_logs(self) -> None: ...
