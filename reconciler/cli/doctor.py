"""``lfr doctor``: probe the org's API read-only and say whether lfr can work with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .app import app
from .options import ApiKeyOption, BaseUrlOption, LocalOption
from .output import echo
from .shared import run_command, target_of

if TYPE_CHECKING:
    from ..runs.doctor import Diagnosis


@app.command()
def doctor(
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Check, read-only, what lfr depends on in your org's API before you trust it with a key.

    \b
    Probes (GET requests only; nothing is written):
      key          active, and scopes for plan (reads) and apply (create, update)
      definitions  every opportunity value type lfr reads (unknown ones listed),
                   fields the org requires on create
      paging       limit/offset pages and totalCount
      filters      the list filters metadata.match uses ($name[equal], $account)
      errors       the shape of an error body (a 404 for an id no record has)
      rate limits  X-RateLimit-* headers; version: the Lightfield-Version header

    Then prints the contract variants it found and the tolerances the client applies.
    Exit 0 when lfr can work with this API, 1 when a probe found something it cannot.
    The key is never printed. Run it first against a new org:

    \b
        LIGHTFIELD_API_KEY=... lfr doctor
    """
    from ..render.values import safe
    from ..runs.doctor import diagnose
    from ..workspace import open_client

    target = target_of(api_key, base_url, local)

    async def probe() -> Diagnosis:
        async with open_client(target, rates=None) as client:
            return await diagnose(client)

    result = run_command(probe())
    for finding in result.findings:
        echo(f"{finding.level:<5} {finding.topic:<12} {safe(finding.message)}")
    echo("")
    echo("Contract variants found:")
    for variant in result.variants:
        echo(f"  - {safe(variant)}")
    echo("Client tolerances in use:")
    for tolerance in result.tolerances:
        echo(f"  - {tolerance}")
    if result.failed:
        failed = sum(1 for f in result.findings if f.level == "fail")
        echo(f"\n{failed} problem(s) lfr cannot work with (lines marked fail).", err=True)
        raise typer.Exit(1)
    echo("\nlfr can work with this API.")
