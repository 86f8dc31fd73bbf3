"""Running lfr as a user would, and editing the CRM as a person would, in tests.

``lfr`` invokes the CLI through typer's ``CliRunner`` against a base URL (an emulator served on
loopback), outside CI (``CI`` unset) so that prompts are allowed. ``api`` is a direct API call
standing in for someone editing the CRM by hand.
"""

from __future__ import annotations

from typing import Any

import httpx
from typer.testing import CliRunner, Result

from reconciler.cli import app
from tests.support.demo import FULL_KEY


def lfr(
    args: list[str],
    base_url: str,
    *,
    key: str | None = FULL_KEY,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """``lfr ARGS`` against ``base_url`` with ``key`` (None: no key, the local workspace);
    ``env`` adds variables (GITHUB_ACTIONS)."""
    variables: dict[str, str | None] = {
        "LIGHTFIELD_API_KEY": key,
        "LIGHTFIELD_BASE_URL": base_url,
        "CI": None,
    }
    runner = CliRunner(env={**variables, **(env or {})})
    return runner.invoke(app, args, input=stdin, catch_exceptions=False)


def api(method: str, base_url: str, path: str, body: object = None) -> Any:
    response = httpx.request(
        method,
        base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
    )
    response.raise_for_status()
    return response.json()
