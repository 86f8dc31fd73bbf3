"""``lfr version`` and ``lfr whoami`` (the key's target and scopes)."""

from __future__ import annotations

import typer

from .app import PlainCommand, app
from .options import ApiKeyOption, BaseUrlOption, ConfigOption, EnvOption, LocalOption
from .output import echo, fail
from .shared import run_command, settings_of, target_of


@app.command(cls=PlainCommand)
def version() -> None:
    """Print the lfr version."""
    from .. import __version__

    typer.echo(f"lfr {__version__}")


@app.command()
def whoami(
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Check the API key: show the target and the scopes it grants (GET /v1/auth/validate)."""
    from ..render.values import safe
    from ..workspace import open_client

    target = target_of(api_key, base_url, local, settings_of(env, config))

    async def check() -> tuple[bool, str, list[str]]:
        async with open_client(target) as client:
            info = await client.validate_auth()
            return info.active, info.subject_type or "unknown", list(info.scopes)

    active, subject, scopes = run_command(check())
    if not active:
        raise fail(f"the {subject} key is not active; create a new key in Lightfield.")
    if target.is_local:
        # Not a Lightfield account: say so, and which key, as a user will wonder why whoami
        # worked with no key set. Named, not printed: no key is ever printed.
        echo(
            f"This is the local workspace ({safe(str(target.local_db))}, demo data), not "
            f"Lightfield: it uses the demo seed's built-in full-access {safe(subject)} key, "
            "not LIGHTFIELD_API_KEY."
        )
        echo("Set LIGHTFIELD_API_KEY (and LIGHTFIELD_BASE_URL) to check a Lightfield key.")
    else:
        echo(f"Key is active ({safe(subject)} key) at {safe(target.base_url)}.")
    echo("Scopes: " + (", ".join(map(safe, scopes)) if scopes else "full access"))
