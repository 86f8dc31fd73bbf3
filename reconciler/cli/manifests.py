"""``lfr validate``, ``lfr export``, ``lfr pin`` and ``lfr schema``: the commands about manifests
themselves."""

from __future__ import annotations

import difflib
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .options import (
    ApiKeyOption,
    BaseUrlOption,
    ConfigOption,
    DirArgument,
    EnvOption,
    ExcludeOption,
    ExportDryRunOption,
    LocalOption,
    PathsArgument,
    PinDryRunOption,
    TargetOption,
    selection_of,
)
from .output import echo, fail, report_problems, write_file
from .shared import manifests_of, run_command, run_export, settings_file_of, settings_of, target_of

if TYPE_CHECKING:
    from ..adapters.writer import ExportedFile
    from ..core.org import OrgSchema
    from ..core.vocabulary import Problem
    from ..runs.export import ExportResult
    from ..runs.pin import PinResult
    from ..runs.validate import Selection


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
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Check manifests without planning: every problem with file:line; exit 1 if any.

    Each manifest is checked as far as it can be on its own: a file with a YAML or shape error
    does not stop the value checks of the others, nor a value error the reference checks, so
    one run lists every problem of every file.

    With an lfr.yaml, the file is checked too (every problem with file:line) before any
    manifest is read. --offline with no path and no --env / $LFR_ENV checks the manifests
    of every environment (it needs no target), as a pre-commit hook wants."""
    from ..runs.validate import ManifestStream, validate_stream
    from ..workspace import open_client

    if offline and not paths and env is None and not os.environ.get("LFR_ENV"):
        _validate_every_environment(config, selection_of(targets, excludes))
        return
    settings = settings_of(env, config)
    # Read a file at a time: each manifest is checked and let go (100,000 files are not held).
    stream = ManifestStream(manifests_of(settings, paths), selection_of(targets, excludes))
    manifests = iter(stream)
    first = next(manifests, None)  # the org is asked only when there is something to check
    if offline or (first is None and not stream.sets):
        for _ in manifests:
            pass
        problems = stream.problems
    else:
        target = target_of(api_key, base_url, local, settings)
        rest = itertools.chain(() if first is None else (first,), manifests)

        async def check() -> list[Problem]:
            async with open_client(target) as client:
                return await validate_stream(client, stream, rest)

        problems = run_command(check())
    if problems:
        report_problems(problems)
        raise typer.Exit(1)
    echo(f"{_counted(stream.chosen + len(stream.sets))} valid.")


def _counted(documents: int) -> str:
    return f"{documents} manifest" if documents == 1 else f"{documents} manifests"


def _validate_every_environment(config: Path | None, selection: Selection) -> None:
    """``validate --offline`` of each environment's manifests, a file shared by several read
    and reported once."""
    from ..render.values import safe
    from ..runs.validate import read_every_environment

    found = settings_file_of(config)
    every = found.every_environment()
    names = [one.environment_name for one in every if one.environment_name]
    if len(names) > 1 and found.loaded is not None:
        file = found.loaded.document.file
        echo(safe(f"environments: {', '.join(names)} ({file}; --offline checks each)"), err=True)
    elif every[0].describe() is not None:
        echo(safe(str(every[0].describe())), err=True)
    sources = [manifests_of(one, None) for one in every]
    chosen, problems = read_every_environment(sources, selection)
    if problems:
        report_problems(problems)
        raise typer.Exit(1)
    echo(f"{_counted(chosen)} valid.")


DEFAULT_SCHEMA_FILE = Path("schema/manifest.schema.json")
DEFAULT_SETTINGS_SCHEMA_FILE = Path("schema/lfr.schema.json")


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
        Path | None,
        typer.Option(
            "--dir",
            help="Where manifests go: a record already managed by a manifest below it is "
            "updated in place, the others get <dir>/<name>.yaml (default: the environment's "
            "first manifest path in lfr.yaml, else manifests).",
            show_default=False,
        ),
    ] = None,
    dry_run: ExportDryRunOption = False,
    only_new: Annotated[
        bool,
        typer.Option(
            "--only-new",
            help="Only add records no manifest manages yet; existing manifests are not touched.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Rewrite manifests even when they hold uncommitted git changes (refused "
            "otherwise, as the export would overwrite them).",
        ),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Write manifests from live opportunities, so that `lfr plan` right after is empty.

    Every writable field with a value and every link is written: select options by label (by
    option id when the label is ambiguous), members and contacts by email, accounts by name or
    domain when that finds exactly the record, else ids. Read-only keys, $pipeline and
    $createdBy are left out. Re-exporting over a manifest keeps its comments, key order and
    the spelling of values that still hold; keys newly set are appended, keys that became
    empty are set to null.

    Never loses work: a manifest with uncommitted git changes is not rewritten (nothing is
    written) unless --force; --dry-run shows the diff first; --only-new leaves every managed
    record's manifest alone.

    Exit codes: 0 written (or, with --dry-run, shown), 1 error (nothing is written).
    """
    from ..render.values import safe
    from ..runs.export import export_opportunities
    from ..workspace import open_client

    if bool(ids) == all_records:
        raise fail("give --id opp_... (one or more) or --all (not both)")
    settings = settings_of(env, config)
    target = target_of(api_key, base_url, local, settings)
    out_dir = settings.manifest_paths(directory)[0]
    schema_ref = (
        Path(os.path.relpath(DEFAULT_SCHEMA_FILE, out_dir)).as_posix()
        if DEFAULT_SCHEMA_FILE.is_file()
        else None
    )

    async def go() -> ExportResult:
        async with open_client(target) as client:
            return await export_opportunities(
                client,
                out_dir,
                ids=None if all_records else ids,
                schema_ref=schema_ref,
                only_new=only_new,
                dry_run=dry_run,
                force=force,
            )

    result = run_export(go())
    for note in result.notes:
        echo(f"Note: {safe(note)}", err=True)
    if dry_run:
        for exported in result.files:
            echo(file_diff(exported), nl=False)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for exported in result.files:
        counts[exported.status] += 1
        if not dry_run:
            names = ", ".join(f"{safe(name)} ({safe(id_)})" for name, id_ in exported.records)
            echo(f"{exported.status:<9} {safe(exported.path.as_posix())}  {names}")
    records = sum(len(exported.records) for exported in result.files)
    verb = "would be" if dry_run else ""
    skipped = f"; {result.skipped} already managed, left alone" if only_new else ""
    echo(
        f"Export{' (dry run, nothing written)' if dry_run else ''}: {records} "
        f"record{'s' if records != 1 else ''}{skipped}; files{' ' + verb if verb else ''}: "
        f"{counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged."
    )


def file_diff(exported: ExportedFile) -> str:
    """A unified diff of one file an export would write (empty when it stays the same)."""
    from ..render.values import safe

    if exported.status == "unchanged":
        return ""
    path = exported.path.as_posix()
    before = [] if exported.before is None else exported.before.splitlines()
    lines = difflib.unified_diff(
        before,
        exported.after.splitlines(),
        "/dev/null" if exported.before is None else f"a/{path}",
        f"b/{path}",
        lineterm="",
    )
    return "".join(safe(line) + "\n" for line in lines)


@app.command()
def pin(
    directory: DirArgument = None,
    dry_run: PinDryRunOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Pin `match` manifests to the records they select: metadata.match becomes metadata.id.

    After an apply created records from `match` manifests, pinning keeps each manifest on its
    record whatever happens to the matched values in the CRM (a rename would otherwise make the
    next plan a create). Comments and formatting are kept; manifests whose selector selects no
    record yet are listed and left as they are.

    Exit codes: 0 pinned (or nothing to pin), 1 error (nothing is written).
    """
    from ..render.values import safe
    from ..runs.pin import pin_manifests
    from ..workspace import open_client

    settings = settings_of(env, config)
    target = target_of(api_key, base_url, local, settings)
    root = settings.manifest_paths(directory)[0]

    async def go() -> PinResult:
        async with open_client(target) as client:
            return await pin_manifests(client, root, dry_run=dry_run)

    result = run_export(go())
    for exported in result.files:
        if dry_run:
            echo(file_diff(exported), nl=False)
        else:
            for name, record_id in exported.records:
                echo(
                    f"pinned    {safe(exported.path.as_posix())}  {safe(name)} ({safe(record_id)})"
                )
    for origin, name in result.unmatched:
        echo(f"not pinned {safe(str(origin))}  {safe(name)}: its match selects no record yet")
    pinned = sum(len(exported.records) for exported in result.files)
    echo(
        f"Pin{' (dry run, nothing written)' if dry_run else ''}: {pinned} manifest"
        f"{'s' if pinned != 1 else ''} pinned, {len(result.unmatched)} not matching a record."
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
    lfr_yaml: Annotated[
        bool,
        typer.Option(
            "--lfr-yaml",
            help="The schema of lfr.yaml (the repository's settings) instead of manifests "
            f"(e.g. --out {DEFAULT_SETTINGS_SCHEMA_FILE}).",
        ),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Print (or --out: write) a JSON Schema of manifests for editors and linters.

    Editors find it through the first line of a manifest:
    `# yaml-language-server: $schema=../schema/manifest.schema.json`. Without --org the schema
    is the same for every org (shape, names, references); with --org it needs a target.
    With --lfr-yaml, the schema of lfr.yaml, which it finds through its first line
    `# yaml-language-server: $schema=schema/lfr.schema.json`.
    """
    from ..core.json_schema import org_schema, render_schema, settings_schema, static_schema
    from ..core.org import OrgSchema
    from ..render.values import safe
    from ..workspace import open_client

    if lfr_yaml and org:
        raise fail("--lfr-yaml and --org: choose one (lfr.yaml's schema is the same for every org)")
    if lfr_yaml:
        document = settings_schema()
    elif org:
        target = target_of(api_key, base_url, local, settings_of(env, config))

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
