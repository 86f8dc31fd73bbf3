"""The ``lfr`` command line: the composition root.

Only this module reads the environment, prints, and chooses exit codes (design §8): everything
below it returns values or raises ``LfrError``. Exit codes: 0 success, 1 error, 2 reserved for
"changes present" (plan --detailed-exitcode, drift).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import sys
import time
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import __version__
from .apply import (
    ApplyReport,
    ApplyRun,
    SafetyRails,
    check_rails,
    check_scopes,
    require_scopes,
)
from .client import LightfieldClient, RateConfig
from .drift import DriftReport, explain_drift
from .errors import LfrError
from .export import ExportProblems, ExportResult, export_opportunities
from .manifest_schema import org_schema, render_schema, static_schema
from .manifests import Problem
from .pipeline import (
    Outcome,
    check_against_org,
    check_saved_plan,
    read_manifests,
    read_saved_plan,
    run_plan,
    validate_against_org,
    with_org_labels,
)
from .plan import Plan, RecordChange
from .render import github as github_render
from .render import json as json_render
from .render import markdown as markdown_render
from .render import text as text_render
from .render.values import safe
from .schema import OrgSchema
from .workspace import Target, choose_target, open_client

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

ArrayReplaceOption = Annotated[
    bool,
    typer.Option(
        "--array-replace/--no-array-replace",
        help="Allow HAS_MANY `replace` with an id array when that body is smaller; turn it off "
        "for an org whose API takes `replace` as one id or null only. (A saved plan keeps the "
        "bodies it was made with.)",
    ),
]


ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Also write the rendered output (in --format) to this file, e.g. for a job summary "
        "or a PR comment.",
    ),
]
TitleOption = Annotated[
    str | None,
    typer.Option(help="Heading of the markdown output (e.g. to say which target it ran on)."),
]


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror or exc}") from None


def _echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print ``text``. Every string from outside lfr is shown by ``render.values.safe`` before it
    gets here, so it cannot start a line with a workflow command; in GitHub Actions the output
    is also passed through ``neutralise_commands``, for what did not come through a renderer
    (messages composed below the CLI) or will not in some future change: a missed ``safe``
    would otherwise let a CRM value mask secrets or stop commands in a job that holds the
    write key. Annotations, the one output that must be commands, bypass it."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        text = github_render.neutralise_commands(text)
    typer.echo(text, err=err, nl=nl)


def _emit(rendered: str, report: Path | None) -> None:
    if report is not None:
        _write(report, rendered)
    _echo(rendered, nl=False)


def _fail(message: str, *more: str) -> typer.Exit:
    """``Error: message`` and any ``more`` lines on stderr, each shown as one line: errors quote
    data (API messages, file names, values), which must not break or start a line."""
    for line in (f"Error: {message}", *more):
        _echo(safe(line), err=True)
    return typer.Exit(1)


def _target(api_key: str | None, base_url: str | None, local: bool) -> Target:
    """The target of a command that talks to an API; said on stderr, as every such run does."""
    try:
        target = choose_target(os.environ, api_key=api_key, base_url=base_url, local=local)
    except LfrError as exc:
        raise _fail(str(exc)) from None
    typer.echo(target.describe(), err=True)
    return target


def _plan_of(outcome: Outcome) -> Plan:
    """The outcome's plan, or its problems on stderr and exit 1."""
    if outcome.problems or outcome.plan is None:
        _report_problems(outcome.problems)
        raise typer.Exit(1)
    return outcome.plan


class OutputFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


DirArgument = Annotated[
    Path,
    typer.Argument(
        help="Manifest directory (every *.yaml / *.yml below it) or a single file.",
        show_default=True,
    ),
]


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def _report_problems(problems: list[Problem]) -> None:
    """Problems go to stderr as text, and as annotations when running in GitHub Actions."""
    _echo(text_render.render_problems(problems, color=_stderr_is_tty()), err=True, nl=False)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        typer.echo(github_render.render_problems(problems), nl=False)  # commands, on purpose


class _ProgressLine:
    """``Fetching live state: 120/500`` on stderr, only on a TTY and only for slow runs."""

    def __init__(self, enabled: bool, delay: float = 0.5) -> None:
        self.enabled, self.delay, self.start = enabled, delay, time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.start < self.delay:
            return
        self.shown = True
        sys.stderr.write(f"\rFetching live state: {done}/{total}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


T = TypeVar("T")


def _run(work: Coroutine[Any, Any, T], progress: _ProgressLine | None = None) -> T:
    """Run one command's async work; an LfrError becomes "Error: ..." and exit 1."""
    try:
        return asyncio.run(work)
    except LfrError as exc:
        raise _fail(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()


@app.command()
def plan(
    directory: DirArgument = Path("manifests"),
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="How to print the plan.")
    ] = OutputFormat.text,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also save the plan as JSON (format_version 1) at this path."),
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 2 when the plan has changes, 0 when it has none (1 is always an error).",
        ),
    ] = False,
    show_unchanged: Annotated[
        bool, typer.Option(help="List unchanged records too (text format).")
    ] = False,
    color: Annotated[
        bool | None, typer.Option("--color/--no-color", help="Colour (default: on a TTY).")
    ] = None,
    array_replace: ArrayReplaceOption = True,
    report: ReportOption = None,
    title: TitleOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Show what would change: the manifests against live Lightfield opportunities.

    Reads every manifest, checks it against the org's definitions (every problem is listed
    with file:line and nothing is sent), resolves references, fetches the live records and
    prints the difference. Only keys a manifest declares are compared.

    Exit codes: 0 success, 1 error or invalid manifests, 2 changes present (with
    --detailed-exitcode).
    """
    target = _target(api_key, base_url, local)
    progress = _ProgressLine(_stderr_is_tty())

    async def go() -> Outcome:
        async with open_client(target) as client:
            return await run_plan(
                client,
                directory,
                target=target.identity,
                array_replace=array_replace,
                progress=progress,
            )

    result = _plan_of(_run(go(), progress))
    if out is not None:
        _write(out, json_render.render_plan(result))
    if output is OutputFormat.json:
        rendered = json_render.render_plan(result)
    elif output is OutputFormat.markdown:
        rendered = markdown_render.render_plan(result, title=title or "lfr plan")
    else:
        use_color = (sys.stdout.isatty() if color is None else color) and report is None
        rendered = text_render.render_plan(result, color=use_color, show_unchanged=show_unchanged)
    _emit(rendered, report)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(2)


@app.command()
def apply(
    source: Annotated[
        Path,
        typer.Argument(
            help="Manifest directory to plan and apply, or a plan saved by `lfr plan --out`."
        ),
    ] = Path("manifests"),
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (for CI).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even past the mass-change threshold.")
    ] = False,
    max_change: Annotated[
        float,
        typer.Option(
            help="Mass-change threshold: without --force, refuse a plan that changes more than "
            "this fraction of the managed records (when at least --min-records are managed)."
        ),
    ] = 0.30,
    min_records: Annotated[
        int, typer.Option(help="The mass-change threshold applies from this many records.")
    ] = 10,
    rate: Annotated[
        float,
        typer.Option(help="Writes per second (the API's Write limit is 25/s per org)."),
    ] = 25.0,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="How to print the apply report.")
    ] = OutputFormat.text,
    array_replace: ArrayReplaceOption = True,
    color: Annotated[
        bool | None, typer.Option("--color/--no-color", help="Colour (default: on a TTY).")
    ] = None,
    report_file: ReportOption = None,
    title: TitleOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Apply the manifests: plan, show the plan, ask, then send the minimal writes.

    Each write carries an Idempotency-Key derived from the manifest revision, the record, the
    body and the live values it was planned from, so re-running after a crash never applies a
    change twice. Every write is verified against the record the API returns.

    A saved plan (PLAN.json) is applied only if none of the live values it was planned from
    has moved since; otherwise it is refused with the record and key that changed.

    Exit codes: 0 everything applied (or nothing to do), 1 refused, cancelled or any failure.
    """
    target = _target(api_key, base_url, local)
    if rate <= 0:
        raise _fail("--rate must be positive")
    use_color = sys.stdout.isatty() if color is None else color
    rails = SafetyRails(max_change, min_records, force)
    progress = _ProgressLine(_stderr_is_tty())

    def _emit_report(report: ApplyReport) -> None:
        if output is OutputFormat.json:
            rendered = json_render.render_report(report)
        elif output is OutputFormat.markdown:
            rendered = markdown_render.render_report(report, title=title or "lfr apply")
        else:
            rendered = text_render.render_report(report, color=use_color and report_file is None)
        _emit(rendered, report_file)

    async def saved_plan(client: LightfieldClient) -> tuple[Plan, OrgSchema]:
        # Hostile input: checked whole (shape, target, that it sends what it shows) before any
        # request.
        plan = read_saved_plan(source, target=target.identity)
        schema = OrgSchema(await client.definitions("opportunities"))
        check_against_org(source, plan, schema)
        plan = with_org_labels(plan, schema)
        moved = await check_saved_plan(client, plan, schema)
        if moved:
            raise _fail(
                f"the saved plan {source} is stale; the CRM changed since it was made:",
                *(f"  {line}" for line in moved),
                f"Run `lfr plan --out {source}` again, review it, then apply.",
            )
        return plan, schema

    async def go() -> ApplyReport:
        early: ApplyRun | None = None
        # With --auto-approve --force nothing waits for the whole plan (no question, no
        # threshold), so each record's writes start as soon as its live state is read: the
        # Write bucket works while the Read bucket is still busy.
        streaming = auto_approve and force and not _is_saved_plan(source)

        def hand_over(change: RecordChange, org: OrgSchema) -> None:
            nonlocal early
            early = early or ApplyRun(client, org, progress=progress)
            early.submit(change)

        async with open_client(target, rates=RateConfig(write=rate)) as client:
            try:
                if _is_saved_plan(source):
                    plan, schema = await saved_plan(client)
                else:
                    if streaming:
                        await require_scopes(client, ["opportunities:update"])
                    outcome = await run_plan(
                        client,
                        source,
                        target=target.identity,
                        array_replace=array_replace,
                        progress=progress,
                        on_change=hand_over if streaming else None,
                    )
                    progress.close()
                    plan = _plan_of(outcome)
                    assert outcome.schema is not None, "a plan is always checked against the org"
                    schema = outcome.schema
                check_rails(plan, rails)
                # The plan is for the person approving; with a machine format on stdout (a PR
                # comment, a job summary) it goes to stderr instead.
                to_stderr = output is not OutputFormat.text
                plan_color = (
                    (_stderr_is_tty() if color is None else color) if to_stderr else use_color
                )
                _echo(text_render.render_plan(plan, color=plan_color), nl=False, err=to_stderr)
                if not plan.has_changes:
                    return ApplyReport()
                await check_scopes(client, plan)  # e.g. a create the key may not make
                if not auto_approve:
                    _confirm()
            except (LfrError, typer.Exit):
                if early is not None:  # writes already under way complete and are reported
                    _emit_report(await early.abandon())
                raise
            return await (early or ApplyRun(client, schema, progress=progress)).finish(plan)

    report = _run(go(), progress)
    _emit_report(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def drift(
    directory: DirArgument = Path("manifests"),
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="How to print the drift report.")
    ] = OutputFormat.text,
    report_file: ReportOption = None,
    title: TitleOption = None,
    color: Annotated[
        bool | None, typer.Option("--color/--no-color", help="Colour (default: on a TTY).")
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
) -> None:
    """Report managed values that differ in the CRM from the manifests (drift).

    A plan of the manifests as they are, read the other way round: for each drifted key, the
    manifest value, the live value and, for fields with history, when the live value was
    recorded and what it replaced. Values the CRM only formats differently (labels vs ids,
    number and date formats, list order) are never drift. A read-only key is enough.

    Exit codes: 0 no drift, 2 drift, 1 error.
    """
    target = _target(api_key, base_url, local)
    progress = _ProgressLine(_stderr_is_tty())

    async def go() -> DriftReport:
        async with open_client(target) as client:
            outcome = await run_plan(client, directory, target=target.identity, progress=progress)
            progress.close()
            return await explain_drift(client, _plan_of(outcome))

    report = _run(go(), progress)
    if output is OutputFormat.json:
        rendered = json_render.render_drift(report)
    elif output is OutputFormat.markdown:
        rendered = markdown_render.render_drift(report, title=title or "lfr drift")
    else:
        use_color = sys.stdout.isatty() if color is None else color
        rendered = text_render.render_drift(report, color=use_color and report_file is None)
    _emit(rendered, report_file)
    if report.drifted:
        raise typer.Exit(2)


def _is_saved_plan(source: Path) -> bool:
    return source.is_file() and source.suffix == ".json"


def _confirm() -> None:
    """Terraform's rule: only the word 'yes' applies; anything else, or no input, cancels."""
    if os.environ.get("CI", "").lower() == "true":
        raise _fail("refusing to ask for confirmation under CI=true; pass --auto-approve.")
    answer = typer.prompt(
        "Apply these changes? Only 'yes' is accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        raise _fail("Apply cancelled; nothing was sent.")


@app.command()
def validate(
    directory: DirArgument = Path("manifests"),
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
    """Check manifests without planning: every problem with file:line; exit 1 if any."""
    read = read_manifests(directory)
    manifests, problems = read.manifests, read.problems
    if not problems and not offline:
        target = _target(api_key, base_url, local)

        async def check() -> list[Problem]:
            async with open_client(target) as client:
                return await validate_against_org(client, manifests)

        problems = _run(check())
    if problems:
        _report_problems(problems)
        raise typer.Exit(1)
    noun = "manifest" if len(manifests) == 1 else "manifests"
    _echo(f"{len(manifests)} {noun} valid.")


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
        raise _fail("give --id opp_... (one or more) or --all (not both)")
    target = _target(api_key, base_url, local)
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
        _report_problems(exc.problems)
        raise _fail(str(exc)) from None
    except LfrError as exc:
        raise _fail(str(exc)) from None
    for note in result.notes:
        _echo(f"Note: {safe(note)}", err=True)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for exported in result.files:
        counts[exported.status] += 1
        names = ", ".join(f"{safe(name)} ({safe(id_)})" for name, id_ in exported.records)
        _echo(f"{exported.status:<9} {safe(exported.path.as_posix())}  {names}")
    records = sum(len(exported.records) for exported in result.files)
    _echo(
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
        target = _target(api_key, base_url, local)

        async def definitions() -> OrgSchema:
            async with open_client(target) as client:
                return OrgSchema(await client.definitions("opportunities"))

        document = org_schema(_run(definitions()))
    else:
        document = static_schema()
    text = render_schema(document)
    if out is None:
        _echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"cannot create {out.parent}: {exc.strerror or exc}") from None
    _write(out, text)
    _echo(f"Wrote {safe(out.as_posix())}.", err=True)


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

    async def check() -> tuple[bool, str, list[str]]:
        async with open_client(target) as client:
            info = await client.validate_auth()
            return info.active, info.subject_type or "unknown", list(info.scopes)

    active, subject, scopes = _run(check())
    if not active:
        raise _fail(f"the {subject} key is not active; create a new key in Lightfield.")
    _echo(f"Key is active ({safe(subject)} key).")
    _echo("Scopes: " + (", ".join(map(safe, scopes)) if scopes else "full access"))


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
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="LFR_EMULATOR_ADMIN_TOKEN",
            help="Bearer token the /_emulator/* endpoints require. Default: none on loopback "
            "(loopback clients only); beyond loopback a random one, printed once at start.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the Lightfield API emulator over HTTP (uvicorn).

    Try it:

    \b
        curl -H 'Authorization: Bearer sk_lf_demo_full' \\
             -H 'Lightfield-Version: 2026-03-01' http://127.0.0.1:8787/v1/opportunities
    """
    from .emulator import Emulator
    from .emulator.admin import new_admin_token
    from .emulator.faults import FaultConfig
    from .emulator.ratelimit import RateLimitConfig
    from .emulator.server import listen, on_loopback, serve

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
    if not 0 <= port <= 65535:  # bind() would raise OverflowError
        raise _fail(f"--port must be between 0 and 65535, not {port}.")
    try:
        emulator = Emulator(
            db=str(db) if db else ":memory:",
            seed=seed,
            rate_limits=limits,
            faults=fault_config,
            strict_idempotency=strict_idempotency,
            admin_token=admin_token or None,
        )
    except sqlite3.Error as exc:  # a directory, a file that is no database, no permission
        raise _fail(f"cannot open --db {db}: {exc}") from None
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    typer.echo(
        f"Lightfield emulator on http://{host}:{port} (seed {seed}, "
        f"{'db ' + str(db) if db else 'in memory'}); demo keys: sk_lf_demo_full, sk_lf_demo_read",
        err=True,
    )
    if emulator.admin_token is None and not on_loopback(sock):
        # Beyond loopback the logs (request bodies) and fault knobs must not be open to anyone.
        emulator.admin_token = new_admin_token()
        typer.echo(
            f"/_emulator/* needs 'Authorization: Bearer {emulator.admin_token}' "
            "(shown once; set --admin-token or LFR_EMULATOR_ADMIN_TOKEN to choose it)",
            err=True,
        )
    gc.set_threshold(*GC_DEFAULTS)  # a server: every generation collected as usual
    serve(emulator, sock)


# An lfr run builds large structures that live until it ends (documents, records, the plan)
# and makes few reference cycles. At Python's defaults (a collection every 700 allocations, a
# full one every 100 of those) the collector kept re-scanning them: a third of the CPU time of
# planning 10,000 records (BENCHMARKS.md). So the young generation is collected every 100,000
# allocations, and the older ones almost never within a run. Set by the entry point, as the
# process is lfr's; imported as a library, lfr leaves the collector alone; and `lfr emulator
# serve`, which may run for days, goes back to the defaults.
GC_THRESHOLD = (100_000, 1_000, 1_000)
GC_DEFAULTS = gc.get_threshold()  # read at import, before main() changes them


def main() -> None:
    gc.set_threshold(*GC_THRESHOLD)
    app()


if __name__ == "__main__":
    main()
