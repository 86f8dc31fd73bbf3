"""``Emulator``: the composition root of the emulated Lightfield API.

Owns the wiring of store, clock, rate limiter, faults, idempotency store, record operations and
the ASGI app, plus the Python-side API other code uses (logs, orgs, keys, bulk seeding).
Called by the CLI (``lfr emulator serve``, the local workspace), server.py and tests.
"""

from __future__ import annotations

from typing import Any

from .app import build_app
from .bulk import seed_bulk
from .clock import Clock, SystemClock
from .faults import FaultConfig, Faults
from .idempotency import IdempotencyStore
from .operations import Records
from .profiles import Profile, profile_named
from .ratelimit import RateLimitConfig, RateLimiter
from .seed import DEMO_ORG, seed_org
from .store import Store
from .stored import OrgSettings


class Emulator:
    def __init__(
        self,
        db: str = ":memory:",
        seed: str = "demo",
        rate_limits: RateLimitConfig | None = None,
        faults: FaultConfig | None = None,
        clock: Clock | None = None,
        strict_idempotency: bool = False,
        admin_token: str | None = None,
        profile: str | Profile = "default",
    ) -> None:
        # None: /_emulator/* answers loopback clients only; else it needs this bearer token.
        self.admin_token = admin_token
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.store = Store(db)
        self.records = Records(self.store, self.clock)
        if not self.store.org_ids():  # a fresh database; an existing file keeps its data
            seed_org(self.records, seed)
        # Set once seeded: the demo's records are the same under every profile.
        self.profile = profile if isinstance(profile, Profile) else profile_named(profile)
        self.rate_limiter = RateLimiter(rate_limits or RateLimitConfig(), self.clock)
        self.faults = Faults(faults)
        self.idempotency = IdempotencyStore(self.clock, strict=strict_idempotency, log=self.store)
        self.app = build_app(self)

    @property
    def profile(self) -> Profile:
        """The contract profile served (profiles.py); settable while serving."""
        return self.store.profile

    @profile.setter
    def profile(self, profile: Profile) -> None:
        self.store.profile = profile

    def __repr__(self) -> str:
        return f"Emulator(orgs={self.store.org_ids()!r})"

    @property
    def rate_limits(self) -> RateLimiter:
        """Alias of ``rate_limiter`` (``emu.rate_limits.configure(RateLimitConfig(...))``)."""
        return self.rate_limiter

    def mutations(self, since: int = 0) -> list[dict[str, Any]]:
        """The append-only mutation log, oldest first (entries with ``seq > since``)."""
        return self.store.mutations(since)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log, oldest first; it never holds an API key."""
        return self.store.requests(since)

    def reset_logs(self) -> None:
        self.store.reset_logs()

    def add_org(
        self,
        org_id: str,
        *,
        allow_array_replace: bool = True,
        require_stage_on_create: bool = False,
    ) -> None:
        self.store.add_org(OrgSettings(org_id, allow_array_replace, require_stage_on_create))

    def add_key(self, org_id: str, key: str, scopes: list[str] | None = None) -> None:
        """Register an API key for ``org_id``; ``None`` or ``[]`` scopes = full access."""
        if self.store.org(org_id) is None:
            raise ValueError(f"unknown org {org_id!r}; call add_org first")
        self.store.add_key(org_id, key, scopes or ())

    def seed_bulk(
        self, opportunities: int = 0, accounts: int = 0, contacts: int = 0, org: str = DEMO_ORG
    ) -> None:
        """Add many records quickly (benchmarks); opportunities link to existing accounts."""
        seed_bulk(
            self.records,
            org,
            opportunities=opportunities,
            accounts=accounts,
            contacts=contacts,
            now=self.clock.now(),
        )

    def close(self) -> None:
        self.store.close()
