"""``lfr show``: a plan saved by ``lfr plan --out`` rendered again, offline, with the review it
was saved with; the file is hostile input, checked as ``lfr apply PLAN.json`` checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app
from .options import (
    ColorOption,
    GroupByOption,
    OutputFormat,
    PlanFormatOption,
    ReportOption,
    ShowUnchangedOption,
    TitleOption,
)
from .output import echo, fail, show_result
from .shared import settings_file_of

if TYPE_CHECKING:
    from ..core.policies import Review


@app.command()
def show(
    plan_file: Annotated[
        Path, typer.Argument(metavar="PLAN.json", help="A plan saved by `lfr plan --out`.")
    ],
    output: PlanFormatOption = OutputFormat.text,
    show_unchanged: ShowUnchangedOption = False,
    group_by: GroupByOption = None,
    color: ColorOption = None,
    report: ReportOption = None,
    title: TitleOption = None,
) -> None:
    """Render a saved plan (a CI artifact, say) as text, markdown or JSON, with no network.

    The file is hostile input until checked: it is read under the same size cap and strict
    checks as `lfr apply PLAN.json` (its shape, and that every request sends exactly what it
    shows), whatever target it was planned against. Its labels are shown as saved; apply shows
    them from the org and refuses the plan if the CRM moved since.

    The guardrails' review saved with the plan (policy violations, pipeline impact and, in
    markdown, its chart) is shown as `lfr plan` showed it, marked as what lfr.yaml's policies
    said when the plan was made: show judges nothing, and `lfr apply PLAN.json` judges the
    plan again by the current lfr.yaml. A plan saved without a review is shown without one.

    Exit codes: 0 shown (whatever its review says), 1 not a valid saved plan.
    """
    from ..adapters.plan_file import read_saved
    from ..core.errors import LfrError
    from ..core.saved_review import review_of
    from ..render.values import safe
    from .guard import grouping_only

    try:
        saved = read_saved(plan_file, target=None)
    except LfrError as exc:
        raise fail(str(exc)) from None
    plan = saved.plan
    echo(
        f"Saved plan {safe(plan_file.as_posix())}: planned against {safe(plan.target)} at "
        f"{safe(plan.revision)}.",
        err=True,
    )
    # --group-by reads the pipeline keys of lfr.yaml; no policy is judged offline (apply does).
    grouping = grouping_only(settings_file_of(None).loaded) if group_by else None
    review: Review | None = None
    if saved.policy is not None:
        facts = grouping.facts if grouping is not None else None
        review = review_of(saved.policy, saved.impact, facts)
    elif output is not OutputFormat.json:  # JSON does not group: no review it never had
        review = grouping
    show_result(
        plan,
        output,
        color,
        report,
        title,
        show_unchanged=show_unchanged,
        review=review,
        group_by=group_by.value if group_by else None,
        saved_review=saved.policy is not None,
    )
