"""The guardrails' review of a plan made or saved: lfr.yaml's policies checked against the org,
their selectors' references resolved, then the plan judged (``core.policies``).

Owns the I/O the review needs: a policy's ``selector`` names members by email and accounts by
name as a set's does, resolved the same way (``runs.resolve.resolve_references`` on the
selector's template); the core then decides which records each rule judges, and counts the
pipeline impact and ``amount-change``'s total, from the live records the run handed over
(``runs.plan.Outcome.live``, a saved plan's fresh reads). Never prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..adapters.client import LightfieldClient
from ..core.org import OrgSchema
from ..core.plan import Plan
from ..core.policies import Guardrails, Review
from ..core.records import Record
from ..core.vocabulary import Problem
from .resolve import resolve_references


async def review_plan(
    client: LightfieldClient,
    guardrails: Guardrails,
    plan: Plan,
    schema: OrgSchema,
    *,
    live: Mapping[str, Record],
    set_files: Mapping[str, str] | None = None,
    saved: bool = False,
) -> tuple[Review | None, list[Problem]]:
    """``plan`` judged by ``guardrails`` (``live``: each changed record's live record, by id),
    or every problem of lfr.yaml's policies against the org (keys it lacks, a selector's
    unknown key or label, a reference that finds no record), each at its ``lfr.yaml:line``."""
    problems = guardrails.problems(schema)
    if problems:
        return None, problems
    scoped, problems = await resolve_scopes(client, guardrails, schema)
    if problems:
        return None, problems
    return scoped.review(plan, schema, set_files=set_files, saved=saved, live=live), []


async def resolve_scopes(
    client: LightfieldClient, guardrails: Guardrails, schema: OrgSchema
) -> tuple[Guardrails, list[Problem]]:
    """``guardrails`` with each policy's selector read and its references resolved to ids."""
    selectors, problems = guardrails.selectors(schema)
    if problems or all(s is None for s in selectors):
        return guardrails, problems
    # Each template is named by its policy's index: two policies may share a line of lfr.yaml
    # (`policies: [{...}, {...}]`), so neither a rule's name nor an origin tells them apart.
    templates = [
        replace(s.template(), name=f"policies[{index}]")
        for index, s in enumerate(selectors)
        if s is not None
    ]
    resolution = await resolve_references(client, templates)
    if resolution.problems:
        return guardrails, sorted(resolution.problems)
    by_policy = {t.name: t for t in resolution.records}
    scopes = tuple(
        None if s is None else s.resolved(by_policy[f"policies[{index}]"])
        for index, s in enumerate(selectors)
    )
    return replace(guardrails, scopes=scopes), []
