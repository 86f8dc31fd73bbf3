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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.revision import manifest_revision
from ..core.desired import cap_problems
from ..core.diff import DiffOptions, diff_record, plan_of
from ..core.model import DesiredRecord, LoadedManifest
from ..core.org import OrgSchema, option_labels
from ..core.plan import Plan, RecordChange
from ..core.records import Record
from ..core.vocabulary import Problem
from .fetch import Progress, fetch_live
from .resolve import link_problems
from .validate import against_org, read_manifests

OnChange = Callable[[RecordChange, OrgSchema], None]


@dataclass
class Outcome:
    """What a run produced: a plan, or the problems that stopped it (never both)."""

    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    manifests: list[LoadedManifest] = field(default_factory=list)
    fetch_strategy: str = ""
    # The org's definitions the plan was checked against (apply verifies writes with them).
    schema: OrgSchema | None = None


async def run_plan(
    client: LightfieldClient,
    root: Path,
    *,
    target: str,
    array_replace: bool = True,
    progress: Progress | None = None,
    on_change: OnChange | None = None,
) -> Outcome:
    """Plan ``root`` against the org. ``on_change(change, schema)`` receives each id-addressed
    record's change as soon as its live state is final, before the whole plan is known (apply
    uses it to overlap writes with the remaining reads); the returned plan holds them all."""
    read = read_manifests(root)
    manifests = read.manifests
    if read.problems:
        return Outcome(problems=read.problems, manifests=manifests)
    schema, resolution = await against_org(client, manifests)
    if resolution.problems:
        return Outcome(problems=resolution.problems, manifests=manifests)
    revision = manifest_revision(root, read.digest)
    options = DiffOptions(revision=revision, target=target, array_replace=array_replace)

    # Each record is diffed once per live state it is seen in: the scan asks whether a listed
    # record differs, ``on_ready`` and the plan then want the change for that same state.
    last: dict[int, tuple[Record | None, RecordChange]] = {}  # by id(desired): all stay alive

    def diff(wanted: DesiredRecord, live: Record | None) -> RecordChange:
        seen = last.get(id(wanted))
        if seen is not None and seen[0] is live:
            return seen[1]
        change = diff_record(wanted, live, schema, options)
        last[id(wanted)] = (live, change)
        return change

    def differs(wanted: DesiredRecord, listed: Record) -> bool:
        return diff(wanted, listed).action != "noop"

    def ready(wanted: DesiredRecord, live: Record) -> None:
        if (
            on_change is not None
            and (change := diff(wanted, live)).action != "noop"
            and not link_problems(wanted, change, resolution.missing)  # (refused below)
        ):
            on_change(change, schema)

    fetched = await fetch_live(
        client, resolution.records, differs, schema, progress=progress, on_ready=ready
    )
    if fetched.problems:
        return Outcome(problems=fetched.problems, manifests=manifests)
    # A write that would link an id with no active record is refused by the API: a problem here.
    unlinkable = [
        problem
        for wanted, live in fetched.pairs
        for problem in link_problems(wanted, diff(wanted, live), resolution.missing)
    ]
    if unlinkable:
        return Outcome(problems=cap_problems(sorted(unlinkable)), manifests=manifests)
    labels = {**resolution.names, **option_labels(schema)}
    plan = plan_of((diff(wanted, live) for wanted, live in fetched.pairs), options, labels)
    return Outcome(plan=plan, manifests=manifests, fetch_strategy=fetched.strategy, schema=schema)
