"""``lfr validate``, ``lfr export`` and ``lfr schema``: the commands about manifests themselves."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import LfrError
from ..core.json_schema import org_schema, render_schema, static_schema
from ..core.org import OrgSchema
from ..core.vocabulary import Problem
from ..render.values import safe
from ..runs.export import ExportProblems, ExportResult, export_opportunities
from ..runs.validate import read_manifests, validate_against_org
from ..workspace import open_client
from .shared import (
    ApiKeyOption,
    BaseUrlOption,
    ExcludeOption,
    LocalOption,
    PathsArgument,
    TargetOption,
    app,
    echo,
    fail,
    paths_of,
    report_problems,
    run_command,
    selection_of,
    target_of,
    write_file,
)


@app.command()
def validate(
    paths: PathsArgument = None,
    targets: TargetOption = None,
    excludes: ExcludeOption = None,
    offline: Annotated[
        bool,
        typer.Option(
            help="Only check YAML and manifest shape; skip the checks that need the org's "
            "definitions (keys, types, select labels, references)."
        ),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Check manifests without planning: every problem with file:line; exit 1 if any.

    Each manifest is checked as far as it can be on its own: a file with a YAML or shape error
    does not stop the value checks of the others, nor a value error the reference checks, so
    one run lists every problem of every file.
    """
    read = read_manifests(paths_of(paths), selection_of(targets, excludes))
    manifests, problems = read.manifests, read.problems
    if manifests and not offline:
        target = target_of(api_key, base_url, local)

        async def check() -> list[Problem]:
            async with open_client(target) as client:
                return await validate_against_org(client, manifests)

        problems = sorted(problems + run_command(check()))
    if problems:
        report_problems(problems)
        raise typer.Exit(1)
    noun = "manifest" if len(manifests) == 1 else "manifests"
    echo(f"{len(manifests)} {noun} valid.")


DEFAULT_SCHEMA_FILE = Path("schema/manifest.schema.json")


@app.command()
def export(
    ids: Annotated[
        list[str] | None,
        typer.Option(
            "--id",
            metavar="OPP_ID",
            help="An opportunity to export (opp_...); repeat for several.",
        ),
    ] = None,
    all_records: Annotated[
        bool, typer.Option("--all", help="Export every live opportunity.")
    ] = False,
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            help="Where manifests go: a record already managed by a manifest below it is "
            "updated in place, the others get <dir>/<name>.yaml.",
        ),
    ] = Path("manifests"),
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Write manifests from live opportunities, so that `lfr plan` right after is empty.

    Every writable field with a value and every link is written: select options by label (by
    option id when the label is ambiguous), members and contacts by email, accounts by name or
    domain when that finds exactly the record, else ids. Read-only keys, $pipeline and
    $createdBy are left out. Re-exporting over a manifest keeps its comments, key order and
    the spelling of values that still hold; keys newly set are appended, keys that became
    empty are set to null.

    Exit codes: 0 written, 1 error (nothing is written when existing manifests cannot be read).
    """
    if bool(ids) == all_records:
        raise fail("give --id opp_... (one or more) or --all (not both)")
    target = target_of(api_key, base_url, local)
    schema_ref = (
        Path(os.path.relpath(DEFAULT_SCHEMA_FILE, directory)).as_posix()
        if DEFAULT_SCHEMA_FILE.is_file()
        else None
    )

    async def go() -> ExportResult:
        async with open_client(target) as client:
            return await export_opportunities(
                client, directory, ids=None if all_records else ids, schema_ref=schema_ref
            )

    try:
        result = asyncio.run(go())
    except ExportProblems as exc:
        report_problems(exc.problems)
        raise fail(str(exc)) from None
    except LfrError as exc:
        raise fail(str(exc)) from None
    for note in result.notes:
        echo(f"Note: {safe(note)}", err=True)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for exported in result.files:
        counts[exported.status] += 1
        names = ", ".join(f"{safe(name)} ({safe(id_)})" for name, id_ in exported.records)
        echo(f"{exported.status:<9} {safe(exported.path.as_posix())}  {names}")
    records = sum(len(exported.records) for exported in result.files)
    echo(
        f"Export: {records} record{'s' if records != 1 else ''}; files: {counts['created']} "
        f"created, {counts['updated']} updated, {counts['unchanged']} unchanged."
    )


@app.command("schema")
def schema_command(
    org: Annotated[
        bool,
        typer.Option(
            "--org",
            help="Generate from the target org's definitions: its field keys with typed "
            "values, select options, relationships; unknown and read-only keys refused.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help=f"Write the schema to this file (e.g. {DEFAULT_SCHEMA_FILE})."),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Print (or --out: write) a JSON Schema of manifests for editors and linters.

    Editors find it through the first line of a manifest:
    `# yaml-language-server: $schema=../schema/manifest.schema.json`. Without --org the schema
    is the same for every org (shape, names, references); with --org it needs a target.
    """
    if org:
        target = target_of(api_key, base_url, local)

        async def definitions() -> OrgSchema:
            async with open_client(target) as client:
                return OrgSchema(await client.definitions("opportunities"))

        document = org_schema(run_command(definitions()))
    else:
        document = static_schema()
    text = render_schema(document)
    if out is None:
        echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot create {out.parent}: {exc.strerror or exc}") from None
    write_file(out, text)
    echo(f"Wrote {safe(out.as_posix())}.", err=True)
