"""``lfr envs``: the environments of lfr.yaml, as a table or as JSON for a CI matrix.

``--json`` prints one line, ``[{"name", "api_key_env", "base_url", "manifests", "default"}, ...]``,
made for GitHub Actions: ``echo "environments=$(lfr envs --json)" >> "$GITHUB_OUTPUT"``, then
``matrix: {environment: ${{ fromJSON(needs.envs.outputs.environments) }}}``, so each org's plan,
apply and drift run in a job of their own with their own secret. Names are restricted to
``[a-z0-9][a-z0-9_-]*`` by the file's validation, so they are safe in job names and concurrency
groups; nothing here is a key (``api_key_env`` is the variable's name).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .app import app
from .options import ConfigOption
from .output import echo, fail
from .shared import settings_file_of


@app.command()
def envs(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One line of JSON, a list of {name, api_key_env, base_url, manifests, default}, "
            "for a GitHub Actions matrix (fromJSON).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """List the environments lfr.yaml defines: name, base URL, key variable, manifests.

    The file is validated first (every problem with file:line, exit 1). Without an lfr.yaml
    this is an error: there are no environments to list.
    """
    from ..adapters.client import DEFAULT_BASE_URL
    from ..render.json import render_line
    from ..render.values import safe

    settings = settings_file_of(config)
    if settings.loaded is None:
        raise fail(
            "no lfr.yaml found (looked in the current directory and its parents up to the git "
            "root); pass --config PATH"
        )
    loaded = settings.loaded.settings
    rows: list[dict[str, Any]] = []
    for name, environment in loaded.environments.items():
        own = environment.manifests
        rows.append(
            {
                "name": name,
                "api_key_env": environment.api_key_env,
                "base_url": environment.base_url or DEFAULT_BASE_URL,
                "manifests": list(
                    (own.paths if own is not None else None)
                    or loaded.manifests.paths
                    or ["manifests"]
                ),
                "default": name == loaded.default_environment,
            }
        )
    if as_json:
        echo(render_line(rows))
        return
    if not rows:
        echo(f"{safe(str(settings.file))} defines no environments.")
        return
    header = ("NAME", "BASE URL", "KEY VARIABLE", "MANIFESTS")
    table = [
        (
            row["name"] + (" (default)" if row["default"] else ""),
            row["base_url"],
            row["api_key_env"],
            ", ".join(row["manifests"]),
        )
        for row in rows
    ]
    widths = [max(len(safe(line[i])) for line in (header, *table)) for i in range(3)]
    for line in (header, *table):
        cells = [safe(cell).ljust(width) for cell, width in zip(line, widths, strict=False)]
        echo("  ".join([*cells, safe(line[3])]))
