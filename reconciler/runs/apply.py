"""The apply run: from a manifest directory or a saved plan to the report of what was applied.

Owns the order of an apply and its gates before any write: the plan made (``runs.plan``) or a
saved plan opened (``runs.saved_plan``), the safety rails (``core.plan.check_rails``), the plan
shown, the key's scopes checked, the question asked (``confirm``: the CLI asks it), then the
writes (``runs.writes``). With approval given up front and ``force``, nothing waits for the
whole plan: each record's writes start as soon as its live state is read, so the Write bucket
works while the Read bucket is still busy; writes already under way when a later problem stops
the run complete and are reported. Never prints: ``show`` and ``confirm`` are the CLI's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..core.errors import ApplyRefused, LfrError
from ..core.org import OrgSchema
from ..core.plan import Plan, SafetyRails, check_rails
from ..core.policies import Guardrails, Review
from ..core.records import Record
from ..core.reports import ApplyReport
from ..core.vocabulary import Problem
from .fetch import Progress
from .plan import Planning
from .review import review_plan
from .saved_plan import is_saved_plan, open_saved_plan
from .validate import ManifestSource, Selection
from .writes import ApplyRun, Interrupt, OnResult


@dataclass
class ApplyOutcome:
    """What an apply did. ``report``: the writes (None when none was handed over);
    ``problems``: what stopped the plan; ``error``: what stopped the run after writes had
    started (they completed and are in the report)."""

    report: ApplyReport | None = None
    problems: list[Problem] = field(default_factory=list)
    error: LfrError | None = None
    # The plan the report's writes carried out, once it was whole (``runs.stamp`` reads it).
    plan: Plan | None = None


async def run_apply(
    client: LightfieldClient,
    source: Path | Sequence[Path] | ManifestSource,
    *,
    target: str,
    rails: SafetyRails,
    approved: bool,
    show: Callable[[Plan], None],
    confirm: Callable[[], None],
    array_replace: bool = False,
    progress: Progress | None = None,
    selection: Selection | None = None,
    on_result: OnResult | None = None,
    interrupt: Interrupt | None = None,
    warn: Callable[[Sequence[Problem]], None] | None = None,
    guardrails: Guardrails | None = None,
    on_review: Callable[[Review], None] | None = None,
) -> ApplyOutcome:
    """Apply ``source`` (manifest paths, or one saved plan) to ``target``; ``selection``: the
    manifests ``--target`` / ``--exclude`` choose. ``show(plan)``
    is called once the plan passed the rails; ``confirm()`` unless ``approved``, after the
    scope check (it raises to cancel). An ``LfrError`` before any write propagates.
    ``on_result`` hears each record's result as it completes; after ``interrupt`` is requested
    no new record's writes start, and the report says what was applied and what was not.
    ``warn`` hears the plan's warnings, right after it is shown. ``guardrails``: the policies
    of lfr.yaml, judged on the whole plan (made here or saved) before it is shown
    (``on_review`` hears the review); a blocking violation refuses the apply before any write.
    With policies, nothing is written before the whole plan is known."""
    warnings: list[Problem] = []
    sets = False  # whether OpportunitySets were planned (none of whose records may match)
    set_files: dict[str, str] = {}
    early: ApplyRun | None = None
    saved = isinstance(source, Path) and is_saved_plan(source)
    judged = guardrails is not None and bool(guardrails.policies)
    streaming = approved and rails.force and not saved and not judged
    review: Review | None = None
    live: dict[str, Record] = {}  # each changed record's live record: a selector's scope

    try:
        if saved:
            assert isinstance(source, Path)
            plan, schema = await open_saved_plan(client, source, target=target, reads=live)
        else:
            planning = Planning(
                client,
                source,
                target=target,
                array_replace=array_replace,
                progress=progress,
                selection=selection,
            )
            if streaming:
                await require_scopes(client, ["opportunities:update"])
            async for change in planning.changes():
                if streaming and not planning.has_sets:
                    assert planning.schema is not None, "changes come after the definitions"
                    early = early or ApplyRun(
                        client,
                        planning.schema,
                        progress=progress,
                        on_result=on_result,
                        interrupt=interrupt,
                    )
                    early.submit(change)
                if interrupt is not None and interrupt.requested and early is not None:
                    # Stop reading: the writes under way finish, nothing else starts.
                    return ApplyOutcome(report=await early.abandon())
            outcome = planning.outcome
            if outcome.problems or outcome.plan is None:
                partial = await early.abandon() if early is not None else None
                return ApplyOutcome(report=partial, problems=outcome.problems)
            assert outcome.schema is not None, "a plan is always checked against the org"
            plan, schema = outcome.plan, outcome.schema
            warnings, sets, set_files = outcome.warnings, outcome.sets, outcome.set_files
            live = outcome.live
        if guardrails is not None:
            # A saved plan's names are the file's word: a rule scoped by names judges it whole;
            # one scoped by selector judges it by the records' fresh reads and the plan's writes.
            review, problems = await review_plan(
                client, guardrails, plan, schema, live=live, set_files=set_files, saved=saved
            )
            if review is None:
                partial = await early.abandon() if early is not None else None
                return ApplyOutcome(report=partial, problems=problems)
            if on_review is not None:
                on_review(review)
        if plan.records or not sets:
            # (sets that match nothing are no empty manifest set: the plan warns of them)
            check_rails(plan, rails)
        show(plan)
        if warn is not None and warnings:
            warn(warnings)
        if review is not None and review.blocking:
            raise ApplyRefused(refusal(review))
        if not plan.has_changes:
            return ApplyOutcome(report=ApplyReport())
        await check_scopes(client, plan)  # e.g. a create the key may not make
        if not approved:
            confirm()
    except LfrError as exc:
        if early is None:
            raise
        return ApplyOutcome(report=await early.abandon(), error=exc)
    run = early or ApplyRun(
        client, schema, progress=progress, on_result=on_result, interrupt=interrupt
    )
    return ApplyOutcome(report=await run.finish(plan), plan=plan)


def refusal(review: Review) -> str:
    """Why a plan with blocking violations is not applied, and how to override for one run."""
    rules = sorted({v.rule for v in review.blocking})
    count = len(review.blocking)
    allow = " ".join(f"--allow {rule}" for rule in rules)
    return (
        f"the plan breaks {count} error-level polic{'ies' if count != 1 else 'y'} of lfr.yaml "
        f"({', '.join(rules)}); nothing was sent. Fix the manifests, or override for one run "
        f"with {allow} (in CI: the pull-request label lfr-allow:<rule>)"
    )


def required_scopes(plan: Plan) -> list[str]:
    scopes = []
    if any(r.action == "create" for r in plan.records):
        scopes.append("opportunities:create")
    if any(r.action == "update" or len(r.requests) > 1 for r in plan.records):
        scopes.append("opportunities:update")
    return scopes


async def check_scopes(client: LightfieldClient, plan: Plan) -> None:
    """Refuse before writing when the key lacks a scope the writes need (empty = full access)."""
    await require_scopes(client, required_scopes(plan))


async def require_scopes(client: LightfieldClient, needed: Sequence[str]) -> None:
    granted = (await client.validate_auth()).scopes
    if not granted:
        return
    missing = [s for s in needed if s not in granted]
    if missing:
        raise ApplyRefused(
            f"the API key lacks the {', '.join(repr(s) for s in missing)} scope"
            f"{'s' if len(missing) > 1 else ''} this plan needs; nothing was sent. "
            "Use a key with write scopes for apply (a read-only key is enough for plan and drift)."
        )


async def apply_plan(
    client: LightfieldClient,
    plan: Plan,
    schema: OrgSchema,
    *,
    progress: Progress | None = None,
) -> ApplyReport:
    """Send every planned write; never raises for API errors (they are in the report)."""
    return await ApplyRun(client, schema, progress=progress).finish(plan)
