"""``lfr init``: scaffold a manifests repository (README "GitOps in 5 minutes")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .options import ApiKeyOption, BaseUrlOption, EnvOption
from .output import echo, fail, report_problems
from .shared import run_export, target_of

if TYPE_CHECKING:
    from ..core.scaffold import ActionRef
    from ..runs.export import ExportResult
    from ..workspace import RunSettings


@app.command()
def init(
    directory: Annotated[
        Path,
        typer.Argument(
            help="The repository to write into (created when missing).", show_default=True
        ),
    ] = Path("."),
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            metavar="OWNER/REPO@COMMIT",
            help="The lfr the workflows and the pre-commit hook pin: its GitHub repository and "
            "a full commit SHA. Default: the commit this lfr was installed from (pip, pipx or "
            "uv install of a git+https://github.com/... URL).",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[
        str, typer.Option(help="The branch whose pushes lfr-apply.yml applies.")
    ] = "main",
    from_org: Annotated[
        bool,
        typer.Option(
            "--from-org",
            help="Also export every opportunity of the org (needs a key) into manifests/, "
            "instead of the example, so `lfr plan` right after is empty.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that exist (.gitignore is added to).")
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    env: EnvOption = None,
) -> None:
    """Write what a manifests repository needs for GitOps with lfr.

    \b
      lfr.yaml                      settings and environments (sandbox, production)
      manifests/example.yaml        a commented example (or, --from-org, the org's records)
      schema/*.schema.json          the JSON Schemas editors use (manifests', lfr.yaml's)
      .pre-commit-config.yaml       lfr's validate hook
      .gitignore                    .lfr/ and saved plans (added to an existing one)
      .github/workflows/lfr-*.yml   plan on pull requests, the plan comment, apply on merge,
                                    nightly drift: one job per environment
      .github/scripts/*.mjs         the comment and drift-issue scripts they run

    Every workflow pins lfr's GitHub Action to the same commit as this lfr (--action). A file
    that exists is refused (all are listed, nothing is written) unless --force. With --from-org,
    --env NAME takes the key from that environment of the new lfr.yaml (sandbox:
    $LIGHTFIELD_SANDBOX_API_KEY); without it, from $LIGHTFIELD_API_KEY or --api-key.

    Exit codes: 0 written, 1 error.
    """
    from .. import __version__
    from ..adapters.scaffold_files import (
        existing_files,
        in_git_repository,
        installed_action_ref,
        write_scaffold,
    )
    from ..core.errors import LfrError
    from ..core.scaffold import MANIFESTS_DIR, parse_action_ref
    from ..render.values import safe

    try:
        ref = parse_action_ref(action) if action else installed_action_ref()
    except LfrError as exc:
        raise fail(str(exc)) from None
    if ref is None:
        raise fail(
            "cannot tell which commit of lfr this is (it was not installed from a GitHub git "
            "URL): give --action OWNER/REPO@COMMIT, the lfr repository and commit the "
            "workflows should pin."
        )
    if env is not None and not from_org:
        raise fail("--env chooses the org --from-org exports; without --from-org, leave it out")
    files = _files(ref, branch, example=not from_org)
    clashes = existing_files(directory, files)
    if clashes and not force:
        raise fail(
            f"{len(clashes)} file{'s' if len(clashes) != 1 else ''} already exist in "
            f"{directory}; nothing was written (--force overwrites them):",
            *(f"  {path}" for path in clashes),
        )
    if from_org:
        settings = _environment(directory, files, env) if env is not None else None
        _export(directory / MANIFESTS_DIR, api_key, base_url, settings)
    try:
        written = write_scaffold(directory, files, force=force)
    except LfrError as exc:
        raise fail(str(exc), *exc.details) from None
    for item in written:
        echo(f"{item.status:<11} {safe((directory / item.path).as_posix())}")
    where, pinned = safe(directory.as_posix()), safe(ref.uses)
    echo(f"lfr {__version__} initialised {where} (workflows pin {pinned}).")
    first = "`lfr plan` shows your org" if from_org else "`lfr plan --local` plans the example"
    if not in_git_repository(directory):
        # The workflows, the pre-commit hook and the manifest revision (idempotency keys,
        # export's refusal to overwrite uncommitted work) all assume one.
        first = f"`git init` (not a git repository yet); {first}"
    echo(
        f"Next: {first}; give each environment of lfr.yaml its repository secret "
        "(LIGHTFIELD_SANDBOX_API_KEY, LIGHTFIELD_PRODUCTION_API_KEY), commit, and open a pull "
        "request."
    )


def _files(ref: ActionRef, branch: str, *, example: bool) -> dict[str, str]:
    from .. import __version__
    from ..adapters.scaffold_files import read_templates
    from ..core.errors import LfrError
    from ..core.json_schema import render_schema, settings_schema, static_schema
    from ..core.scaffold import scaffold, template_values

    try:
        values = template_values(ref, __version__, branch)
        schemas = render_schema(static_schema()), render_schema(settings_schema())
        return scaffold(read_templates(), values, *schemas, example=example)
    except LfrError as exc:
        raise fail(str(exc)) from None


def _environment(directory: Path, files: dict[str, str], env: str) -> RunSettings:
    """Environment ``env`` of the lfr.yaml init is about to write, read as lfr will read it."""
    from ..adapters.settings_file import settings_from_bytes
    from ..core.errors import LfrError
    from ..core.settings import choose_environment
    from ..workspace import RunSettings

    shown = (directory / "lfr.yaml").as_posix()
    loaded, problems = settings_from_bytes(files["lfr.yaml"].encode(), shown)
    if loaded is None:  # the template is lfr's own: a problem here is a bug in lfr
        report_problems(problems)
        raise fail("lfr's own lfr.yaml template does not validate")
    try:
        selection = choose_environment(loaded, env, "--env")
    except LfrError as exc:
        raise fail(str(exc)) from None
    return RunSettings(directory / "lfr.yaml", loaded, selection)


def _export(
    manifests: Path, api_key: str | None, base_url: str | None, settings: RunSettings | None
) -> None:
    """`lfr export --all` into the new repository's manifests/, refused without a key: the
    embedded workspace's demo data is nobody's org."""
    from ..core.scaffold import SCHEMA_FILE
    from ..render.values import safe
    from ..runs.export import export_opportunities
    from ..workspace import open_client

    target = target_of(api_key, base_url, False, settings)
    if target.is_local:  # (an environment without its key is refused by target_of)
        raise fail("--from-org needs a key: set LIGHTFIELD_API_KEY (or give --api-key).")
    schema_ref = Path("..", SCHEMA_FILE).as_posix()

    async def go() -> ExportResult:
        async with open_client(target) as client:
            return await export_opportunities(client, manifests, ids=None, schema_ref=schema_ref)

    result = run_export(go())
    for note in result.notes:
        echo(f"Note: {safe(note)}", err=True)
    records = sum(len(exported.records) for exported in result.files)
    echo(
        f"Exported {records} record{'s' if records != 1 else ''} into {safe(manifests.as_posix())}."
    )
