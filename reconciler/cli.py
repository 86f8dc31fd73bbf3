"""The ``lfr`` command line: the composition root.

Only this module reads the environment, prints, and chooses exit codes (design §8): everything
below it returns values or raises ``LfrError``. Exit codes: 0 success, 1 error, 2 reserved for
"changes present" (plan --detailed-exitcode, drift).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import LfrError
from .workspace import Target, choose_target, environment, open_client

app = typer.Typer(
    name="lfr",
    help=(
        "Declarative, GitOps-style reconciler for Lightfield CRM opportunities.\n\n"
        "With no LIGHTFIELD_API_KEY set, commands run against an embedded local workspace "
        "(.lfr/workspace.sqlite3, demo data), so you can try everything without an account."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
emulator_app = typer.Typer(
    help="Run the bundled Lightfield API emulator (the local test bench).",
    no_args_is_help=True,
)
app.add_typer(emulator_app, name="emulator")

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Lightfield API key (default: $LIGHTFIELD_API_KEY). Prefer the variable: "
        "flags end up in shell history.",
        show_default=False,
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="API base URL (default: $LIGHTFIELD_BASE_URL, else https://api.lightfield.app).",
        show_default=False,
    ),
]
LocalOption = Annotated[
    bool,
    typer.Option("--local", help="Use the embedded local workspace even under CI=true."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(1)


def _target(api_key: str | None, base_url: str | None, local: bool) -> Target:
    try:
        return choose_target(environment(), api_key=api_key, base_url=base_url, local=local)
    except LfrError as exc:
        raise _fail(str(exc)) from None


@app.command()
def version() -> None:
    """Print the lfr version."""
    typer.echo(f"lfr {__version__}")


@app.command()
def whoami(
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Check the API key: show the target and the scopes it grants (GET /v1/auth/validate)."""
    target = _target(api_key, base_url, local)
    typer.echo(target.describe(), err=True)

    async def check() -> tuple[str, list[str]]:
        async with open_client(target) as client:
            info = await client.validate_auth()
            return info.subject_type, list(info.scopes)

    try:
        subject, scopes = asyncio.run(check())
    except LfrError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Key is active ({subject} key).")
    typer.echo("Scopes: " + (", ".join(scopes) if scopes else "full access"))


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
    strict_idempotency: Annotated[
        bool,
        typer.Option(help="Answer 422 when an Idempotency-Key is reused with another body."),
    ] = False,
) -> None:
    """Serve the Lightfield API emulator over HTTP (uvicorn).

    Try it:

        curl -H 'Authorization: Bearer sk_lf_demo_full' -H 'Lightfield-Version: 2026-03-01'
        http://127.0.0.1:8787/v1/opportunities
    """
    from .emulator import Emulator
    from .emulator.faults import FaultConfig
    from .emulator.ratelimit import RateLimitConfig
    from .emulator.server import serve

    if seed not in ("demo", "empty"):
        raise _fail(f"--seed must be 'demo' or 'empty', not {seed!r}.")
    try:
        fault_config = FaultConfig.from_file(str(faults)) if faults else FaultConfig()
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read fault spec {faults}: {exc}") from None
    limits = (
        RateLimitConfig(per_second={"read": rate, "search": rate, "write": rate})
        if rate > 0
        else RateLimitConfig(enabled=False)
    )
    emulator = Emulator(
        db=str(db) if db else ":memory:",
        seed=seed,
        rate_limits=limits,
        faults=fault_config,
        strict_idempotency=strict_idempotency,
    )
    typer.echo(
        f"Lightfield emulator on http://{host}:{port} (seed {seed}, "
        f"{'db ' + str(db) if db else 'in memory'}); demo keys: sk_lf_demo_full, sk_lf_demo_read",
        err=True,
    )
    serve(emulator, host=host, port=port)


def main() -> None:
    app()
