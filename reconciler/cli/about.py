"""``lfr version`` and ``lfr whoami`` (the key's target and scopes)."""

from __future__ import annotations

import typer

from .. import __version__
from ..render.values import safe
from ..workspace import open_client
from .shared import (
    ApiKeyOption,
    BaseUrlOption,
    ConfigOption,
    EnvOption,
    LocalOption,
    app,
    echo,
    fail,
    run_command,
    settings_of,
    target_of,
)


@app.command()
def version() -> None:
    """Print the lfr version."""
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
    target = target_of(api_key, base_url, local, settings_of(env, config))

    async def check() -> tuple[bool, str, list[str]]:
        async with open_client(target) as client:
            info = await client.validate_auth()
            return info.active, info.subject_type or "unknown", list(info.scopes)

    active, subject, scopes = run_command(check())
    if not active:
        raise fail(f"the {subject} key is not active; create a new key in Lightfield.")
    echo(f"Key is active ({safe(subject)} key).")
    echo("Scopes: " + (", ".join(map(safe, scopes)) if scopes else "full access"))
