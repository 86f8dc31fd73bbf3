"""``lfr emulator serve``: the bundled Lightfield API emulator over HTTP (uvicorn)."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from .app import emulator_app
from .output import fail
from .shared import GC_DEFAULTS


@emulator_app.command("serve")
def emulator_serve(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8787,
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep it on loopback: the demo keys are public.")
    ] = "127.0.0.1",
    db: Annotated[
        Path | None,
        typer.Option(help="SQLite file to keep state in (default: in memory, lost on exit)."),
    ] = None,
    seed: Annotated[
        str, typer.Option(help="Initial data: 'demo' (the example org) or 'empty'.")
    ] = "demo",
    faults: Annotated[
        Path | None,
        typer.Option(help="JSON/YAML fault spec: latency_ms, list_lag_seconds, rules (see docs)."),
    ] = None,
    rate: Annotated[
        float,
        typer.Option(help="Requests per second per category (Read, Search, Write); 0 = no limit."),
    ] = 25.0,
    profile: Annotated[
        str,
        typer.Option(
            help="Contract profile: 'default' (docs/emulator.md), 'strict-0.20' (un-enveloped "
            "errors, a 409 without code, `replace` one id or null, `$stage` required on create) "
            "or 'normalising' (URLs, text, currency and dates rewritten when stored). See "
            "docs/api-contract.md.",
        ),
    ] = "default",
    strict_idempotency: Annotated[
        bool,
        typer.Option(help="Answer 422 when an Idempotency-Key is reused with another body."),
    ] = False,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="LFR_EMULATOR_ADMIN_TOKEN",
            help="Bearer token the /_emulator/* endpoints require. Default: none on loopback "
            "(loopback clients only); beyond loopback a random one, printed once at start.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the Lightfield API emulator over HTTP (uvicorn).

    Try it:

    \b
        curl -H 'Authorization: Bearer sk_lf_demo_full' \\
             -H 'Lightfield-Version: 2026-03-01' http://127.0.0.1:8787/v1/opportunities
    """
    from ..emulator import Emulator
    from ..emulator.admin import new_admin_token
    from ..emulator.faults import FaultConfig
    from ..emulator.profiles import PROFILES
    from ..emulator.ratelimit import RateLimitConfig

    try:
        from ..emulator.server import listen, on_loopback, serve
    except ModuleNotFoundError as exc:
        if exc.name != "uvicorn":
            raise
        # The default install leaves the HTTP server out: only this command needs it.
        raise fail(
            "`lfr emulator serve` needs the emulator extra (uvicorn), which this install of "
            "lfr does not have.",
            'Install it with: pip install "lightfield-reconciler[emulator]" '
            "(or uv tool install / pipx install of the same requirement).",
        ) from None

    if seed not in ("demo", "empty"):
        raise fail(f"--seed must be 'demo' or 'empty', not {seed!r}.")
    if profile not in PROFILES:
        raise fail(f"--profile must be one of {', '.join(PROFILES)}, not {profile!r}.")
    try:
        fault_config = FaultConfig.from_file(str(faults)) if faults else FaultConfig()
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read fault spec {faults}: {exc}") from None
    limits = (
        RateLimitConfig(per_second={"read": rate, "search": rate, "write": rate})
        if rate > 0
        else RateLimitConfig(enabled=False)
    )
    if not 0 <= port <= 65535:  # bind() would raise OverflowError
        raise fail(f"--port must be between 0 and 65535, not {port}.")
    try:
        emulator = Emulator(
            db=str(db) if db else ":memory:",
            seed=seed,
            rate_limits=limits,
            faults=fault_config,
            strict_idempotency=strict_idempotency,
            admin_token=admin_token or None,
            profile=profile,
        )
    except sqlite3.Error as exc:  # a directory, a file that is no database, no permission
        raise fail(f"cannot open --db {db}: {exc}") from None
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    typer.echo(
        f"Lightfield emulator on http://{host}:{port} (seed {seed}, profile {profile}, "
        f"{'db ' + str(db) if db else 'in memory'}); demo keys: sk_lf_demo_full, sk_lf_demo_read",
        err=True,
    )
    if emulator.admin_token is None and not on_loopback(sock):
        # Beyond loopback the logs (request bodies) and fault knobs must not be open to anyone.
        emulator.admin_token = new_admin_token()
        typer.echo(
            f"/_emulator/* needs 'Authorization: Bearer {emulator.admin_token}' "
            "(shown once; set --admin-token or LFR_EMULATOR_ADMIN_TOKEN to choose it)",
            err=True,
        )
    gc.set_threshold(*GC_DEFAULTS)  # a server: every generation collected as usual
    serve(emulator, sock)
