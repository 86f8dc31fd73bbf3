"""``lfr apply``: plan (or read a saved plan), show the plan to the person approving, ask, then
write; the report, streamed record by record in text, and what to do next.

The apply use case is ``runs.apply``'s; this module shows the plan and asks the question (only
``yes`` applies; never under ``CI=true``), handles Ctrl-C (the first lets writes in flight
finish, the second exits at once) and, with ``--stamp``, has ``cli/stamping.py`` write the notes
once the report is on screen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .options import (
    AllowOption,
    ApiKeyOption,
    ApplyFormatOption,
    ArrayReplaceOption,
    BaseUrlOption,
    ColorOption,
    ConfigOption,
    EnvOption,
    ExcludeOption,
    LocalOption,
    OutputFormat,
    ReportOption,
    TargetOption,
    TitleOption,
    selection_of,
)
from .output import (
    ProgressLine,
    color_default,
    echo,
    fail,
    report_problems,
    show_result,
    stderr_is_tty,
    warn,
    write_file,
)
from .shared import manifests_of, run_command, settings_of, target_of
from .stamping import PrOption, StampOption, check_pr, stamp_notes

if TYPE_CHECKING:
    from ..core.plan import Plan
    from ..core.policies import Review
    from ..core.reports import ApplyReport, RecordResult
    from ..runs.apply import ApplyOutcome
    from ..runs.validate import ManifestSource
    from ..workspace import RunSettings


@app.command()
def apply(
    sources: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATHS | PLAN.json",
            help="Manifest directories or files to plan and apply (several may be given), or "
            "one plan saved by `lfr plan --out`. [default: the environment's manifest paths in "
            "lfr.yaml, else manifests]",
            show_default=False,
        ),
    ] = None,
    targets: TargetOption = None,
    excludes: ExcludeOption = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (for CI).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even past the mass-change threshold.")
    ] = False,
    max_change: Annotated[
        float | None,
        typer.Option(
            help="Mass-change threshold: without --force, refuse a plan that changes more than "
            "this fraction of the managed records (when at least --min-records are managed). "
            "Default: rails.max_changed_fraction in lfr.yaml, else 0.30.",
            show_default=False,
        ),
    ] = None,
    min_records: Annotated[
        int | None,
        typer.Option(
            help="The mass-change threshold applies from this many records. Default: "
            "rails.min_records in lfr.yaml, else 10.",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Writes per second (the API's Write limit is 25/s per org). Default: "
            "write_rate in lfr.yaml, else 25.",
            show_default=False,
        ),
    ] = None,
    output: ApplyFormatOption = OutputFormat.text,
    allow: AllowOption = None,
    array_replace: ArrayReplaceOption = False,
    color: ColorOption = None,
    report_file: ReportOption = None,
    title: TitleOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
    stamp: StampOption = None,
    pr: PrOption = None,
) -> None:
    """Apply the manifests: plan, show the plan, ask, then send the minimal writes.

    Each write carries an Idempotency-Key derived from the manifest revision, the record, the
    body and the live values it was planned from, so re-running after a crash never applies a
    change twice. Every write is verified against the record the API returns.

    A saved plan (PLAN.json) is applied only if none of the live values it was planned from
    has moved since; otherwise it is refused with the record and key that changed.

    With --target / --exclude, the plan, the mass-change threshold and the writes cover the
    chosen records only; a saved plan is applied whole (it is the selection it was made with).

    The plan (a saved one too) is judged by the policies of the current lfr.yaml before it is
    shown: an error-level violation refuses the apply before any write, unless --allow RULE.

    With --stamp, each record changed then gets a note in Lightfield saying what changed and
    from which commit and pull request (README "Provenance notes").

    Exit codes: 0 everything applied (or nothing to do), 1 refused, cancelled or any failure.
    """
    import asyncio
    import signal

    from ..adapters.buckets import RateConfig
    from ..core.plan import SafetyRails
    from ..render import text as text_render
    from ..render.formats import Style, render
    from ..runs.apply import run_apply
    from ..runs.writes import Interrupt
    from ..workspace import open_client
    from .guard import guardrails_of

    settings = settings_of(env, config)
    guardrails = guardrails_of(settings.loaded, allow)
    stamping = settings.stamp if stamp is None else stamp
    if stamping:
        check_pr(pr)
    # A saved plan (a .json file given as the argument) is applied as it is; otherwise the
    # manifests, from the arguments or lfr.yaml.
    what = _apply_source(sources or [], bool(targets or excludes), settings)
    target = target_of(api_key, base_url, local, settings)
    rate = settings.write_rate if rate is None else rate
    if rate <= 0:
        raise fail("--rate must be positive")
    use_color = color_default(sys.stdout.isatty()) if color is None else color
    rails = SafetyRails(
        settings.max_changed_fraction if max_change is None else max_change,
        settings.min_records if min_records is None else min_records,
        force,
    )
    progress = ProgressLine(stderr_is_tty())
    reviewed: list[Review] = []

    def show(plan: Plan) -> None:
        progress.close()
        # The plan is for the person approving; with a machine format on stdout (a PR comment,
        # a job summary) it goes to stderr instead.
        to_stderr = output is not OutputFormat.text
        plan_color = (
            (color_default(stderr_is_tty()) if color is None else color) if to_stderr else use_color
        )
        review = reviewed[-1] if reviewed else None
        echo(render(plan, "text", Style(color=plan_color, review=review)), nl=False, err=to_stderr)

    interrupt = Interrupt()
    # The text report streams: each record's line as it completes (a kill or Ctrl-C leaves
    # on screen what landed); the report at the end then adds what was not attempted.
    stream = output is OutputFormat.text

    def on_result(result: RecordResult) -> None:
        if stream:
            progress.close()
            echo(text_render.render_result(result, color=use_color), nl=False)

    async def go() -> ApplyOutcome:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None, "go() runs as the main task"

        def on_sigint() -> None:
            if interrupt.requested:
                # The second Ctrl-C: out now, whatever is in flight.
                echo(
                    "\nInterrupted again: exiting now. Writes in flight may or may not have "
                    "landed; run `lfr plan` to see what is left.",
                    err=True,
                )
                sys.stdout.flush()
                os._exit(130)
            if not interrupt.writing:
                interrupt.requested = True
                main.cancel()  # nothing sent yet: stop reading at once
                return
            echo(
                f"\nInterrupted: no new writes start; letting the {interrupt.in_flight} in "
                "flight (sent, or queued for the write rate) finish (Ctrl-C again to exit at "
                "once).",
                err=True,
            )
            interrupt.request()

        def confirm() -> None:
            # The question is answered with the default Ctrl-C (KeyboardInterrupt): the loop's
            # handler would leave the prompt waiting.
            loop.remove_signal_handler(signal.SIGINT)
            try:
                _confirm()
            finally:
                loop.add_signal_handler(signal.SIGINT, on_sigint)

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            async with open_client(target, rates=RateConfig(write=rate)) as client:
                return await run_apply(
                    client,
                    what,
                    target=target.identity,
                    rails=rails,
                    approved=auto_approve,
                    show=show,
                    confirm=confirm,
                    array_replace=array_replace,
                    progress=progress,
                    selection=selection_of(targets, excludes),
                    on_result=on_result,
                    interrupt=interrupt,
                    warn=warn,
                    guardrails=guardrails,
                    on_review=reviewed.append,
                )
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        outcome = run_command(go(), progress)
    except asyncio.CancelledError:
        raise _cancelled("interrupted") from None
    if outcome.problems:
        report_problems(outcome.problems)
    if outcome.report is not None:  # writes already under way completed, and are reported
        _show_apply_report(outcome.report, output, color, report_file, title, streamed=stream)
        _suggest_pin(outcome.report, what if isinstance(what, Path) else what.roots[0])
        if stamping and outcome.plan is not None and not outcome.report.interrupted:
            stamp_notes(target, outcome.plan, outcome.report, what, pr, progress, rate)
    if outcome.error is not None:
        raise fail(str(outcome.error), *outcome.error.details)
    if outcome.report is not None and outcome.report.interrupted:
        raise typer.Exit(130)
    if outcome.problems or outcome.report is None or not outcome.report.ok:
        raise typer.Exit(1)


def _show_apply_report(
    report: ApplyReport,
    output: OutputFormat,
    color: bool | None,
    report_file: Path | None,
    title: str | None,
    *,
    streamed: bool,
) -> None:
    """The report; in text, without the lines already streamed (the file gets them all)."""
    from ..render import text as text_render
    from ..render.formats import Style, render

    if not streamed:
        show_result(report, output, color, report_file, title)
        return
    if report_file is not None:
        write_file(report_file, render(report, output.value, Style(color=False, title=title)))
    use_color = color_default(sys.stdout.isatty()) if color is None else color
    echo(text_render.render_report(report, color=use_color, streamed=True), nl=False)


def _suggest_pin(report: ApplyReport, source: Path) -> None:
    """After a create from a `match` manifest: the step that ties the manifest to its record."""
    from ..render.values import safe

    created = sum(1 for r in report.results if r.action == "create" and r.status == "applied")
    if created:
        where = "MANIFEST_DIR" if source.is_file() else safe(source.as_posix())
        echo(
            f"Created {created} record{'s' if created != 1 else ''} from metadata.match: run "
            f"`lfr pin {where}` to write their ids into the manifests (metadata.id), so that a "
            "rename in the CRM cannot make a later plan create another.",
            err=True,
        )


def _cancelled(why: str, code: int = 130) -> typer.Exit:
    echo(f"Apply cancelled ({why}); nothing was sent.", err=True)
    return typer.Exit(code)


def _apply_source(
    paths: list[Path], selecting: bool, settings: RunSettings
) -> Path | ManifestSource:
    """The manifest paths (lfr.yaml's when none is given), or the one saved plan among them. A
    saved plan is applied whole: it is the selection it was made with
    (`lfr plan --target ... --out`)."""
    from ..runs.saved_plan import is_saved_plan

    saved = [path for path in paths if is_saved_plan(path)]
    if not saved:
        return manifests_of(settings, paths)
    if len(paths) > 1:
        raise fail("a saved plan is applied on its own: give one PLAN.json and no other path")
    if selecting:
        raise fail(
            "--target / --exclude choose manifests to plan; a saved plan is already a "
            "selection: make it with `lfr plan --target ... --out PLAN.json`"
        )
    return saved[0]


def _confirm() -> None:
    """Terraform's rule: only the word 'yes' applies; anything else cancels. No input at all
    (stdin closed, `</dev/null`) and Ctrl-C cancel with the same words, not click's bare
    `Aborted!`."""
    if os.environ.get("CI", "").lower() == "true":
        raise fail("refusing to ask for confirmation under CI=true; pass --auto-approve.")
    echo("Apply these changes? Only 'yes' is accepted: ", nl=False)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        echo("")
        raise _cancelled("interrupted") from None
    if not answer:
        echo("")
        raise _cancelled(
            "no answer: stdin is closed; pass --auto-approve to apply without asking", 1
        )
    if answer.strip() != "yes":
        raise fail("Apply cancelled; nothing was sent.")
