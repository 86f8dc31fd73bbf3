"""``lfr drift``: the managed values that differ in the CRM from the manifests, reported; exit 2
when there are any (the nightly drift job opens an issue with the markdown report).

The report is ``runs.drift``'s; this module prints it and chooses the exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .app import app
from .options import (
    ApiKeyOption,
    BaseUrlOption,
    ColorOption,
    ConfigOption,
    DriftFormatOption,
    EnvOption,
    ExcludeOption,
    LocalOption,
    OutputFormat,
    PathsArgument,
    ReportOption,
    TargetOption,
    TitleOption,
    selection_of,
)
from .output import ProgressLine, report_problems, show_result, stderr_is_tty
from .shared import manifests_of, run_command, settings_of, target_of

if TYPE_CHECKING:
    from ..core.reports import DriftReport


@app.command()
def drift(
    paths: PathsArgument = None,
    targets: TargetOption = None,
    excludes: ExcludeOption = None,
    output: DriftFormatOption = OutputFormat.text,
    report_file: ReportOption = None,
    title: TitleOption = None,
    color: ColorOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    local: LocalOption = False,
    env: EnvOption = None,
    config: ConfigOption = None,
) -> None:
    """Report managed values that differ in the CRM from the manifests (drift).

    A plan of the manifests as they are, read the other way round: for each drifted key, the
    manifest value, the live value and, for fields with history, when the live value was
    recorded and what it replaced. Values the CRM only formats differently (labels vs ids,
    number and date formats, list order) are never drift. A read-only key is enough.

    Exit codes: 0 no drift, 2 drift, 1 error.
    """
    from ..runs.drift import run_drift
    from ..workspace import open_client

    settings = settings_of(env, config)
    target = target_of(api_key, base_url, local, settings)
    progress = ProgressLine(stderr_is_tty())
    manifests = manifests_of(settings, paths)

    async def go() -> DriftReport:
        async with open_client(target) as client:
            run = await run_drift(
                client,
                manifests,
                target=target.identity,
                progress=progress,
                selection=selection_of(targets, excludes),
            )
            progress.close()
            if run.report is None:  # no plan: its problems, and exit 1
                report_problems(run.outcome.problems)
                raise typer.Exit(1)
            return run.report

    report = run_command(go(), progress)
    show_result(report, output, color, report_file, title)
    if report.drifted:
        raise typer.Exit(2)
