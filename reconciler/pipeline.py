"""The plan run end to end (design §2): files → problems or a Plan.

Owns the order of the stages and the rule that a run with any problem stops before it could
write: load and shape-check every file (no network), fetch the org's definitions, check values
and build desired state, resolve references (and find raw ids with no active record), fetch live
state, diff, and refuse a change that would link such an id. Each stage reports every
problem it finds; the run returns them all together. Also reads a saved plan and says what
changed in the CRM since it was made (``saved_plan`` checks the file itself). Called by
the CLI (plan, validate, apply, drift); never prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .apply import check_stale
from .client import LightfieldClient
from .desired import build_desired, cap_problems
from .diff import DiffOptions, diff_record, oversized_bodies, plan_of
from .fetch import Progress, fetch_live, find_matching
from .manifests import Problem, load_tree
from .model import DesiredRecord, LoadedManifest, parse_manifests
from .plan import Plan, RecordChange
from .records import Record
from .resolve import Resolution, link_problems, resolve_references
from .revision import manifest_revision

# Re-exported: the CLI reads a saved plan through the pipeline; saved_plan.py owns the rules.
from .saved_plan import SavedPlanError as SavedPlanError
from .saved_plan import check_against_org as check_against_org
from .saved_plan import read_saved_plan as read_saved_plan
from .schema import OrgSchema

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


@dataclass(frozen=True)
class ManifestSet:
    """Every manifest below a root, shape-checked, and the digest of the bytes they came from."""

    manifests: list[LoadedManifest]
    problems: list[Problem]
    digest: str


def read_manifests(root: Path) -> ManifestSet:
    """Offline half: every file loaded and shape-checked, with paths shown relative to cwd."""
    if not root.exists():
        return ManifestSet([], [Problem(str(root), 0, "no such file or directory")], "")
    loaded = load_tree(root, display_base=Path.cwd())
    manifests, problems = parse_manifests(loaded.documents)
    return ManifestSet(manifests, sorted(loaded.problems + problems), loaded.digest)


async def validate_against_org(
    client: LightfieldClient, manifests: list[LoadedManifest]
) -> list[Problem]:
    """The checks that need the org (definitions, references) but not live records."""
    _, resolution = await _against_org(client, manifests)
    return resolution.problems


async def _against_org(
    client: LightfieldClient, manifests: list[LoadedManifest]
) -> tuple[OrgSchema, Resolution]:
    """Definitions, desired state and resolved references; problems in the resolution."""
    schema = OrgSchema(await client.definitions("opportunities"))
    desired, problems = build_desired(manifests, schema)
    if problems:
        return schema, Resolution(problems=problems)
    return schema, await resolve_references(client, desired)


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
    schema, resolution = await _against_org(client, manifests)
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
            and not oversized_bodies(change)
        ):
            on_change(change, schema)

    fetched = await fetch_live(
        client, resolution.records, differs, schema, progress=progress, on_ready=ready
    )
    if fetched.problems:
        return Outcome(problems=fetched.problems, manifests=manifests)
    # A write that would link an id with no active record is refused by the API: a problem here.
    # So is a body over the API's size limit.
    unlinkable = [
        problem
        for wanted, live in fetched.pairs
        for problem in (
            *link_problems(wanted, diff(wanted, live), resolution.missing),
            *oversized_bodies(diff(wanted, live)),
        )
    ]
    if unlinkable:
        return Outcome(problems=cap_problems(sorted(unlinkable)), manifests=manifests)
    labels = {**resolution.names, **option_labels(schema)}
    plan = plan_of((diff(wanted, live) for wanted, live in fetched.pairs), options, labels)
    return Outcome(plan=plan, manifests=manifests, fetch_strategy=fetched.strategy, schema=schema)


def option_labels(schema: OrgSchema) -> dict[str, str]:
    """Select option id → label, from the org's definitions."""
    return {
        option.id: option.label
        for definition in schema.definitions.field_definitions.values()
        for option in definition.type_configuration.options
    }


def with_org_labels(plan: Plan, schema: OrgSchema) -> Plan:
    """A saved plan shown with labels from the org, not from the file: a select value is shown
    by its label alone, so a forged label would show one stage and send another. Related
    records are shown by id (their names in the file cannot be checked without reading them)."""
    return replace(plan, labels=option_labels(schema))


async def check_saved_plan(client: LightfieldClient, plan: Plan, schema: OrgSchema) -> list[str]:
    """What changed in the CRM since a saved plan was made, one line each: every planned-from
    live value that moved (``apply.check_stale``), and every create whose ``metadata.match``
    now selects a record (someone made it since: creating it again would be a duplicate)."""

    async def taken(change: RecordChange) -> list[str]:
        found = await find_matching(client, change.match, schema)
        if not found:
            return []
        ids = ", ".join(record.id for record in found[:10])
        return [
            f"{change.name}: planned as a create, but metadata.match now selects {ids} (made "
            "since the plan, by someone or by an earlier apply of this plan)"
        ]

    creates = [r for r in plan.records if r.action == "create" and r.match]
    moved, *matched = await asyncio.gather(
        check_stale(client, plan, schema), *(taken(change) for change in creates)
    )
    return moved + [line for lines in matched for line in lines]
