"""``lfr apply --stamp``: its options, and the notes written after the apply report is shown.

The notes are ``runs.stamp``'s; this module checks ``--pr`` before anything is sent, names the
provenance (the plan's revision, GitHub Actions' variables, ``--pr`` or the merge commit's
message: ``core.provenance``), runs the stamping once the report is on screen (so a Ctrl-C
during the notes never hides what was applied) and says on stderr what it did. A note that was
not written is a warning, never an exit code: the apply's stands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .output import ProgressLine, echo, fail
from .shared import run_command

if TYPE_CHECKING:
    from ..core.plan import Plan
    from ..core.reports import ApplyReport
    from ..runs.stamp import StampReport
    from ..runs.validate import ManifestSource
    from ..workspace import Target

StampOption = Annotated[
    bool | None,
    typer.Option(
        "--stamp/--no-stamp",
        help="After the writes, add a note on each record changed saying what changed, from "
        "which commit and pull request, with links (idempotent: a re-run adds no second note; a "
        "note that fails is a warning, never a failed apply). Default: stamp in lfr.yaml, else "
        "off.",
        show_default=False,
    ),
]
PrOption = Annotated[
    str | None,
    typer.Option(
        "--pr",
        metavar="URL|NUMBER",
        help="The pull request the notes name. Default: the one the manifests' commit names "
        "(a GitHub merge or squash commit); links need GITHUB_SERVER_URL and GITHUB_REPOSITORY "
        "(set in GitHub Actions) or a PR URL.",
        show_default=False,
    ),
]

# The GitHub Actions variables a note's links are built from (nothing else of the environment).
_GITHUB = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")


def check_pr(pr: str | None) -> None:
    """Refuse a ``--pr`` that is no PR number or URL, before the apply sends anything."""
    from ..core.provenance import ProvenanceError, provenance_of

    if pr is None:
        return
    try:
        provenance_of("", {}, pr=pr)
    except ProvenanceError as exc:
        raise fail(str(exc)) from None


def stamp_notes(
    target: Target,
    plan: Plan,
    report: ApplyReport,
    source: Path | ManifestSource,
    pr: str | None,
    progress: ProgressLine,
    rate: float,
) -> None:
    """Write the notes of ``report``'s applied records (at ``rate`` writes a second, as the
    apply) and say what was done on stderr."""
    from ..adapters.buckets import RateConfig
    from ..adapters.revision import commit_message
    from ..core.provenance import provenance_of
    from ..runs.stamp import stamp
    from ..workspace import open_client

    environ = {name: os.environ[name] for name in _GITHUB if name in os.environ}
    kind, _, commit = plan.revision.partition(":")
    root = source if isinstance(source, Path) else source.roots[0]
    message = commit_message(root, commit) if kind == "git" and pr is None else None
    provenance = provenance_of(plan.revision, environ, pr=pr, commit_message=message)

    async def go() -> StampReport:
        async with open_client(target, rates=RateConfig(write=rate)) as client:
            return await stamp(client, plan, report, provenance)

    show_stamp(run_command(go(), progress))


def show_stamp(result: StampReport) -> None:
    from ..render.values import safe

    if not (result.written or result.present or result.warnings):
        return
    said = [f"{len(result.written)} written"]
    if result.present:
        said.append(f"{len(result.present)} already there")
    if result.warnings:
        said.append(f"{len(result.warnings)} not written")
    echo(f"Notes: {', '.join(said)}.", err=True)
    for warning in result.warnings:
        kind = "/".join(part for part in (warning.type, warning.code) if part)
        where = f" ({warning.id})" if warning.id else ""
        echo(
            safe(
                f"Warning: no note on {warning.name}{where}: {kind}: {warning.message} "
                "(the apply itself is unaffected)"
            ),
            err=True,
        )
