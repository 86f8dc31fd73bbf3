"""``lfr plan``: the manifests against the live CRM, judged by lfr.yaml's policies, printed
(and, with ``--out``, saved for ``lfr show`` and ``lfr apply PLAN.json``).

The plan is ``runs.plan``'s and its judgement ``runs.review``'s; this module reads the options,
shows the result and chooses the exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .options import (
    AllowOption,
    ApiKeyOption,
    ArrayReplaceOption,
    BaseUrlOption,
    ColorOption,
    ConfigOption,
    EnvOption,
    ExcludeOption,
    GroupByOption,
    LocalOption,
    OutputFormat,
    PathsArgument,
    PlanFormatOption,
    ReportOption,
    ShowUnchangedOption,
    TargetOption,
    TitleOption,
    selection_of,
)
from .output import (
    ProgressLine,
    report_problems,
    show_result,
    stderr_is_tty,
    warn,
    write_chunks,
)
from .shared import manifests_of, plan_of, run_command, settings_of, target_of

if TYPE_CHECKING:
    from ..core.policies import Review
    from ..core.vocabulary import Problem
    from ..runs.plan import Outcome


@app.command()
def plan(
    paths: PathsArgument = None,
    targets: TargetOption = None,
    excludes: ExcludeOption = None,
    output: PlanFormatOption = OutputFormat.text,
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
    show_unchanged: ShowUnchangedOption = False,
    allow: AllowOption = None,
    group_by: GroupByOption = None,
    color: ColorOption = None,
    array_replace: ArrayReplaceOption = False,
    report: ReportOption = None,
    title: TitleOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Show what would change: the manifests against live Lightfield opportunities.

    Reads every manifest, checks it against the org's definitions (every problem is listed
    with file:line and nothing is sent), resolves references, fetches the live records and
    prints the difference. Only keys a manifest declares are compared.

    The plan is judged by the policies of lfr.yaml (violations at the file:line of the key)
    and, when it changes amounts or stages, shows its pipeline impact.

    Exit codes: 0 success, 1 error, invalid manifests or an error-level policy broken (without
    --allow RULE), 2 changes present (with --detailed-exitcode).
    """
    from ..render.formats import Style, render_chunks
    from ..runs.plan import run_plan
    from ..runs.review import review_plan
    from ..workspace import open_client
    from .guard import guardrails_of, refuse_if_blocking

    settings = settings_of(env, config)
    guardrails = guardrails_of(settings.loaded, allow)
    target = target_of(api_key, base_url, local, settings)
    progress = ProgressLine(stderr_is_tty())

    async def go() -> tuple[Outcome, Review | None, list[Problem]]:
        async with open_client(target) as client:
            outcome = await run_plan(
                client,
                manifests_of(settings, paths),
                target=target.identity,
                array_replace=array_replace,
                progress=progress,
                selection=selection_of(targets, excludes),
            )
            if outcome.plan is None or outcome.schema is None:
                return outcome, None, []
            # The policies' selectors name members and accounts: resolved with this client.
            review, problems = await review_plan(
                client,
                guardrails,
                outcome.plan,
                outcome.schema,
                live=outcome.live,
                set_files=outcome.set_files,
            )
            return outcome, review, problems

    outcome, review, policy_problems = run_command(go(), progress)
    result = plan_of(outcome)
    if policy_problems:
        report_problems(policy_problems)
        raise typer.Exit(1)
    assert review is not None, "a plan made is always judged"
    if out is not None:
        # With the review, as on stdout: for reading; apply judges the plan again.
        write_chunks(out, render_chunks(result, "json", Style(review=review)))
    show_result(
        result,
        output,
        color,
        report,
        title,
        show_unchanged=show_unchanged,
        review=review,
        group_by=group_by.value if group_by else None,
    )
    warn(outcome.warnings)
    refuse_if_blocking(review)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(2)
