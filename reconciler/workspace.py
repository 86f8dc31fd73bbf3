"""Which Lightfield a run talks to: the real API, or the embedded local workspace (architecture.md
§7).

Owns the target rules and nothing else: with ``LIGHTFIELD_API_KEY`` (or ``--api-key``) the run
targets ``LIGHTFIELD_BASE_URL`` / ``--base-url`` (default: the real API); with no key it targets
an embedded emulator on a SQLite file under ``.lfr/``, seeded with the demo data the example
manifests refer to. Under ``CI=true`` a missing key is refused unless ``--local`` is given, so a
CI job whose secret went missing fails loudly instead of planning against demo data; a key set
but empty is refused everywhere. A key or base URL the client would refuse (malformed, a bad
port, plain http to a non-loopback host, credentials in the URL, whitespace inside the key, the
key inside the URL) is a ``TargetError`` here, before the CLI prints or sends anything; its
message never echoes either value.

Called by the CLI (``cli/``) only; it is the one module besides the CLI that may wire the emulator
to the client, because the local workspace is exactly that wiring.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .adapters.buckets import RateConfig
from .adapters.client import DEFAULT_BASE_URL, DEFAULT_RATES, LightfieldClient
from .adapters.http import check_api_key, check_base_url
from .core.errors import LfrError
from .core.redact import redact

LOCAL_WORKSPACE_DIR = Path(".lfr")
LOCAL_DB_NAME = "workspace.sqlite3"
# The demo seed's documented full-access key; it only ever opens the local SQLite file.
LOCAL_API_KEY = "sk_lf_demo_full"
LOCAL_BASE_URL = "http://local.workspace"


class TargetError(LfrError):
    """The run cannot decide where to point (e.g. no key under CI)."""


@dataclass(frozen=True)
class Target:
    """Where requests go. ``api_key`` is excluded from ``repr`` so it never lands in a log."""

    base_url: str
    api_key: str = field(repr=False)
    local_db: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.local_db is not None

    @property
    def identity(self) -> str:
        """What the idempotency key calls the target org: stable, and never the key."""
        return "local-workspace" if self.local_db is not None else self.base_url

    def describe(self) -> str:
        """One line for the top of the CLI's output; never includes the key."""
        if self.local_db is not None:
            return (
                f"Target: local workspace ({self.local_db}, demo data). "
                "Set LIGHTFIELD_API_KEY to target Lightfield."
            )
        return f"Target: {self.base_url}"


def choose_target(
    env: Mapping[str, str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    local: bool = False,
    workspace_dir: Path = LOCAL_WORKSPACE_DIR,
) -> Target:
    """Apply the architecture.md §7 rules to flags (which win) and environment variables."""
    if local:
        return Target(LOCAL_BASE_URL, LOCAL_API_KEY, workspace_dir / LOCAL_DB_NAME)
    # An empty key is still a key someone meant to set (a CI secret that came out empty): it is
    # refused rather than taken as "no key", which would quietly plan against demo data.
    key = api_key if api_key is not None else env.get("LIGHTFIELD_API_KEY")
    url = base_url or env.get("LIGHTFIELD_BASE_URL") or None
    if url is not None:
        try:
            check_base_url(url)
        except ValueError as exc:
            raise TargetError(f"{exc} (LIGHTFIELD_BASE_URL / --base-url)") from None
    if key is not None:
        key = key.strip()  # a key pasted from a file often brings its newline
        try:
            check_api_key(key)
        except ValueError as exc:
            raise TargetError(f"{exc} (LIGHTFIELD_API_KEY / --api-key)") from None
        if url is not None and redact(url, key) != url:
            # The target line prints the base URL.
            raise TargetError(
                "base URL must not contain an API key (LIGHTFIELD_BASE_URL / --base-url)"
            )
        return Target(url or DEFAULT_BASE_URL, key)
    if url is not None:
        raise TargetError(
            "A base URL is set but no API key: set LIGHTFIELD_API_KEY or pass --api-key."
        )
    if env.get("CI", "").lower() == "true":
        raise TargetError(
            "No LIGHTFIELD_API_KEY under CI=true: refusing to fall back to the local workspace. "
            "Provide the secret, or pass --local to use the demo workspace on purpose."
        )
    return Target(LOCAL_BASE_URL, LOCAL_API_KEY, workspace_dir / LOCAL_DB_NAME)


def open_client(target: Target, rates: RateConfig | None = DEFAULT_RATES) -> LightfieldClient:
    """A client for ``target``; for the local workspace, over an in-process ASGI transport."""
    if target.local_db is None:
        return LightfieldClient(target.api_key, base_url=target.base_url, rates=rates)
    # Imported here: only local runs need the emulator, and it costs every command ~85 ms.
    from .emulator import Emulator

    try:
        target.local_db.parent.mkdir(parents=True, exist_ok=True)
        emulator = Emulator(db=str(target.local_db), seed="demo")
    except (OSError, sqlite3.Error) as exc:  # .lfr is a file, the database is not one, ...
        raise LfrError(f"cannot open the local workspace {target.local_db}: {exc}") from None
    return LightfieldClient.for_asgi_app(
        emulator.app, target.api_key, base_url=target.base_url, rates=rates
    )
