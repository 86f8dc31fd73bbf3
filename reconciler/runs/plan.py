"""The plan run end to end (architecture.md §2): files → problems or a Plan.

Owns the order of the stages and the rule that a run with any problem stops before it could
write: load and shape-check every file (no network), fetch the org's definitions, check values
and build desired state, resolve references (and find raw ids with no active record), fetch live
state, diff, and refuse a change that would link such an id. Each stage reports every
problem it finds; the run returns them all together. The first stages are ``runs.validate``'s;
a saved plan is ``runs.saved_plan``'s. Called by the CLI (plan, drift) and ``runs.apply``;
never prints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.revision import manifest_revision
from ..core.desired import cap_problems
from ..core.diff import plan_of
from ..core.model import LoadedManifest
from ..core.org import OrgSchema, option_labels
from ..core.plan import DiffOptions, Plan, RecordChange
from ..core.requests import oversized_bodies
from ..core.vocabulary import Problem
from .fetch import LiveFetch, Progress
from .resolve import link_problems
from .validate import against_org, read_manifests


@dataclass
class Outcome:
    """What a run produced: a plan, or the problems that stopped it (never both)."""

    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    manifests: list[LoadedManifest] = field(default_factory=list)
    fetch_strategy: str = ""
    # The org's definitions the plan was checked against (apply verifies writes with them).
    schema: OrgSchema | None = None
    # What the plan does that may not be meant (a create near an existing record).
    warnings: list[Problem] = field(default_factory=list)


async def run_plan(
    client: LightfieldClient,
    root: Path,
    *,
    target: str,
    array_replace: bool = True,
    progress: Progress | None = None,
) -> Outcome:
    """Plan ``root`` against the org: the whole plan, or the problems that stopped it."""
    planning = Planning(client, root, target=target, array_replace=array_replace, progress=progress)
    async for _ in planning.changes():
        pass
    return planning.outcome


class Planning:
    """One plan being made. ``changes()`` yields each id-addressed record's change as soon as its
    live state is final and it can be written now (it changes something and links no missing
    id): apply starts those writes while the rest is read. Once ``changes()`` is exhausted,
    ``outcome`` holds the whole plan (those changes included), or the problems that stopped it;
    ``schema`` is the org's definitions, known before the first change."""

    def __init__(
        self,
        client: LightfieldClient,
        root: Path,
        *,
        target: str,
        array_replace: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.client, self.root, self.target = client, root, target
        self.array_replace, self.progress = array_replace, progress
        self.outcome = Outcome()
        self.schema: OrgSchema | None = None

    async def changes(self) -> AsyncIterator[RecordChange]:
        read = read_manifests(self.root)
        manifests = read.manifests
        if read.problems:
            self.outcome = Outcome(problems=read.problems, manifests=manifests)
            return
        schema, resolution = await against_org(self.client, manifests)
        if resolution.problems:
            self.outcome = Outcome(problems=resolution.problems, manifests=manifests)
            return
        self.schema = schema
        revision = manifest_revision(self.root, read.digest)
        options = DiffOptions(
            revision=revision, target=self.target, array_replace=self.array_replace
        )
        fetch = LiveFetch(self.client, resolution.records, schema, options, progress=self.progress)
        async for settled in fetch.settled():
            change = settled.change
            if (
                change is not None
                and change.action != "noop"
                and not link_problems(settled.desired, change, resolution.missing)  # (below)
                and not oversized_bodies(change)
            ):
                yield change
        fetched = fetch.result
        if fetched.problems:
            self.outcome = Outcome(problems=fetched.problems, manifests=manifests)
            return
        changes = [(s.desired, s.change) for s in fetched.settled if s.change is not None]
        # A write that would link an id with no active record is refused by the API: a problem.
        # So is a body over the API's size limit.
        unlinkable = [
            problem
            for wanted, change in changes
            for problem in (
                *link_problems(wanted, change, resolution.missing),
                *oversized_bodies(change),
            )
        ]
        if unlinkable:
            self.outcome = Outcome(problems=cap_problems(sorted(unlinkable)), manifests=manifests)
            return
        labels = {**resolution.names, **option_labels(schema)}
        plan = plan_of((change for _, change in changes), options, labels)
        self.outcome = Outcome(
            plan=plan,
            manifests=manifests,
            fetch_strategy=fetched.strategy,
            schema=schema,
            warnings=sorted(fetched.warnings),
        )
