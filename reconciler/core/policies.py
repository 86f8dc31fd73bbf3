"""Guardrails: the built-in rules of ``lfr.yaml``'s ``policies``, judged on a plan's changes.

Owns what each rule means and which parameters it takes (``PARAMETERS``), the checks of a
policy that need no org (``check_policies``, called by ``core.settings``: each problem at the
``file:line`` of the key) and of one that does (``Guardrails.problems``: a key or stage label
the org does not have, with a suggestion), and the judgement itself (``Guardrails.review``):
every ``Violation`` at the ``file:line`` of the manifest key concerned (a plan-wide one at the
rule's line in ``lfr.yaml``), with the rule and the numbers. A policy's scope: every record,
``names`` globs, a ``selector`` (read by ``core.sets.read_selector``, its meaning is
``core.scope``'s), or both (a record in both). An error-level violation not
allowed for this run (``--allow RULE``) blocks: ``lfr plan`` exits 1 and ``lfr apply`` refuses
before any write; the same review is made of a saved plan applied later, from the current
``lfr.yaml``, so no file can carry its own exemption. Pure: ``today`` is given.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from .impact import (
    Impact,
    PipelineFacts,
    impact_of,
    live_values,
    money,
    pipeline_facts,
    touches_pipeline,
)
from .org import OrgSchema, fold
from .plan import Plan, RecordChange
from .policy_settings import RULE_PATTERN, RULES, PipelineSettings, PolicySettings
from .records import Record
from .scope import in_scope
from .sets import EMPTY_SCOPE, DesiredSet, read_selector
from .vocabulary import Origin, Problem

# Each rule's own parameters; ``rule``, ``severity``, ``names`` and ``selector`` are every rule's.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "close-date-in-past": ("field",),
    "reopen-closed": (),
    "amount-change": ("max_change", "max_percent", "max_total_change"),
    "owner-reassignments": ("max_records",),
    "required-on-create": ("keys",),
}
_ALL_PARAMETERS = ("field", "keys", "max_change", "max_percent", "max_total_change", "max_records")
# The value types each pipeline key must have in the org's definitions.
_FIELD_TYPES = {
    "amount": ("CURRENCY", "NUMBER"),
    "stage": ("SINGLE_SELECT",),
    "close_date": ("DATETIME",),
}
_SHOWN = 10  # records named in a plan-wide violation

OriginOf = Callable[..., Origin]


def suggest(word: str, known: Sequence[str]) -> str:
    hint = difflib.get_close_matches(word, list(known), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""


def check_policies(policies: Any, origin_of: OriginOf) -> list[Problem]:
    """What is wrong with lfr.yaml's ``policies`` (as read, before or whatever its shape's
    check says, so one run lists every problem) whatever the org: an unknown rule, a parameter
    the rule does not take, one it needs missing. Items that are no mapping with a text
    ``rule`` are left to the shape's check."""
    problems = []
    for index, policy in enumerate(policies if isinstance(policies, list) else []):
        if isinstance(policy, dict) and "selector" in policy and policy["selector"] is None:
            # ``selector:`` with nothing under it reads as no scope: said, not guessed.
            problems.append(Problem(origin_of("policies", index, "selector"), EMPTY_SCOPE))
        rule = policy.get("rule") if isinstance(policy, dict) else None
        if not isinstance(rule, str):
            continue
        if rule not in PARAMETERS:
            known = f"{rule!r}{suggest(rule, RULES)}" if _quotable(rule) else "(not shown)"
            problems.append(
                Problem(
                    origin_of("policies", index, "rule"),
                    f"unknown rule {known}; rules: {', '.join(RULES)}",
                )
            )
            continue
        own = PARAMETERS[rule]
        given = [name for name in _ALL_PARAMETERS if policy.get(name) is not None]
        for name in given:
            if name not in own:
                takes = f"its parameters: {', '.join(own)}" if own else "it takes no parameters"
                problems.append(
                    Problem(
                        origin_of("policies", index, name),
                        f"rule {rule} takes no {name}{suggest(name, own)}; {takes}",
                    )
                )
        needed = _NEEDED.get(rule, ())
        if needed and not any(name in given for name in needed):
            problems.append(
                Problem(
                    origin_of("policies", index, "rule"), f"rule {rule} needs {' or '.join(needed)}"
                )
            )
    return problems


# A rule's parameters of which it needs at least one.
_NEEDED = {
    "amount-change": ("max_change", "max_percent", "max_total_change"),
    "owner-reassignments": ("max_records",),
    "required-on-create": ("keys",),
}


def _quotable(text: str) -> bool:
    """A rule name is quoted only when it is one a rule could have (lfr.yaml's messages never
    quote what could be a secret)."""
    return re.fullmatch(RULE_PATTERN, text) is not None


def unknown_rules(names: Sequence[str]) -> list[str]:
    """``--allow`` names that are not rules, each with a suggestion."""
    return [f"{name!r}{suggest(name, RULES)}" for name in names if name not in RULES]


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: str  # error | warn
    origin: Origin  # the manifest key's file:line, or the rule's in lfr.yaml (plan-wide)
    record: str | None  # None: plan-wide
    message: str  # with the numbers
    allowed: bool = False  # --allow RULE for this run

    @property
    def blocks(self) -> bool:
        return self.severity == "error" and not self.allowed


@dataclass(frozen=True)
class Review:
    """What the guardrails say of one plan: its violations and its pipeline impact (None when
    the plan changes no amount or stage)."""

    violations: tuple[Violation, ...] = ()
    impact: Impact | None = None
    facts: PipelineFacts = field(default_factory=PipelineFacts)

    @property
    def blocking(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.blocks)


@dataclass(frozen=True)
class Guardrails:
    """The policies of ``lfr.yaml`` for one run: ``origin_of`` gives the line of a key of the
    file, ``allow`` the rules ``--allow`` overrides, ``today`` the date (ISO) a close date is
    compared with."""

    policies: tuple[PolicySettings, ...] = ()
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    origin_of: OriginOf | None = None
    allow: frozenset[str] = frozenset()
    today: str = ""
    # Each policy's selector with its references resolved to ids (``runs.review``), in the
    # order of ``policies`` (None: no selector); ``selectors`` gives them unresolved.
    scopes: tuple[DesiredSet | None, ...] = ()

    def _origin(self, *path: str | int) -> Origin:
        return self.origin_of(*path) if self.origin_of is not None else Origin("lfr.yaml", 0)

    def selectors(self, schema: OrgSchema) -> tuple[tuple[DesiredSet | None, ...], list[Problem]]:
        """Each policy's ``selector`` read against the org by the grammar of a set's
        (``core.sets.read_selector``), references not yet resolved; every problem at the
        ``lfr.yaml:line`` of its key."""
        problems: list[Problem] = []

        def report(origin: Origin, message: str) -> None:
            problems.append(Problem(origin, message))

        found: list[DesiredSet | None] = []
        for index, policy in enumerate(self.policies):
            if policy.selector is None:
                found.append(None)
                continue
            at = ("policies", index, "selector")
            _, status, terms, links = read_selector(
                policy.selector, _Lines(self), at, schema, report, scope=True
            )
            origin = self._origin(*at)
            found.append(DesiredSet(policy.rule, origin, False, status, terms, links, (), ()))
        return tuple(found), problems

    def problems(self, schema: OrgSchema) -> list[Problem]:
        """Keys and stage labels the org does not have (or has with another type), and what
        is wrong with a policy's selector."""
        problems: list[Problem] = list(self.selectors(schema)[1])
        used = {
            name for name in PipelineSettings.model_fields if name in self.pipeline.model_fields_set
        }
        for index, policy in enumerate(self.policies):
            used |= {
                "close-date-in-past": set() if policy.field else {"close_date"},
                "reopen-closed": {"stage"},
                "amount-change": {"amount", "stage"},
                "owner-reassignments": {"owner"},
                "required-on-create": set(),
            }.get(policy.rule, set())
            if policy.field is not None:
                problems += _field_problem(
                    schema, policy.field, ("DATETIME",), self._origin("policies", index, "field")
                )
            for at, key in enumerate(policy.keys or ()):
                if schema.field(key) is None and schema.relationship(key) is None:
                    problems.append(
                        Problem(
                            self._origin("policies", index, "keys", at),
                            f"the org has no key {key!r}{_did_you_mean(schema.suggest(key))}",
                        )
                    )
        for name in sorted(used - {"won", "lost"}):
            origin = self._pipeline_origin(name)
            key = getattr(self.pipeline, name)
            if name in _FIELD_TYPES:
                problems += _field_problem(schema, key, _FIELD_TYPES[name], origin)
            elif schema.relationship(key) is None:
                hint = _did_you_mean(schema.suggest(key))
                problems.append(Problem(origin, f"the org has no relationship {key!r}{hint}"))
        stage = schema.field(self.pipeline.stage)
        labels = [o.label for o in stage.type_configuration.options] if stage else []
        for name in ("won", "lost"):
            for at, label in enumerate(getattr(self.pipeline, name) or ()):
                if fold(label) not in {fold(known) for known in labels}:
                    problems.append(
                        Problem(
                            self._origin("pipeline", name, at),
                            f"no stage {label!r} in the org{suggest(label, labels)}",
                        )
                    )
        return problems

    def _pipeline_origin(self, name: str) -> Origin:
        if name in self.pipeline.model_fields_set:
            return self._origin("pipeline", name)
        return self._origin("policies")

    def review(
        self,
        plan: Plan,
        schema: OrgSchema | None,
        facts: PipelineFacts | None = None,
        *,
        set_files: Mapping[str, str] | None = None,
        saved: bool = False,
        live: Mapping[str, Record] | None = None,
    ) -> Review:
        """The plan judged by every policy, and its impact; ``facts`` (else from ``schema``
        and the pipeline section) say which stages are closed and the currency.

        A rule scoped by ``names`` judges a record whose name, set (``group``) or the set one
        of its changes came from (``set_files``: set name → file) matches; a ``saved`` plan's
        names are the file's word, not the manifests', so there such a rule judges every
        record: no edited file can take a record out of a rule's scope. A rule scoped by
        ``selector`` (resolved: ``scopes``) judges a record the selector matches before the
        plan (``live``: record id → its live record) or after it (``core.scope``); with
        ``names`` too, a record must be in both. An update whose live record is not given, or
        a selector not resolved, leaves the record judged: a scope never lets a record out
        for want of facts.

        The impact and ``amount-change``'s total count each changed record by its live read
        (``core.impact``): a key its manifest (or a saved plan's ``planned_from``) leaves out
        is read there, never taken as unchanged or left out of the total."""
        facts = facts or pipeline_facts(schema, self.pipeline)
        reads = live or {}
        touches = touches_pipeline(plan, facts)
        totals = any(p.max_total_change is not None for p in self.policies)
        known = (
            live_values(reads, schema, facts) if schema is not None and (touches or totals) else {}
        )
        impact = impact_of(plan, facts, known) if touches else None
        violations: list[Violation] = []
        files = set_files or {}
        for index, policy in enumerate(self.policies):
            scope = self.scopes[index] if index < len(self.scopes) else None
            records = [
                r
                for r in plan.records
                if r.action != "noop"
                and (saved or _in_scope(r, policy, files))
                and _selected(r, scope, reads, schema, facts)
            ]
            judge = _JUDGES[policy.rule]
            found = judge(policy, records, plan, facts, self, known)
            origin = self._origin("policies", index)
            violations += [
                Violation(
                    policy.rule,
                    policy.severity,
                    where or origin,
                    record,
                    message,
                    allowed=policy.rule in self.allow,
                )
                for where, record, message in found
            ]
        return Review(tuple(sorted(violations, key=_order)), impact, facts)


def _order(violation: Violation) -> tuple[str, int, str, str]:
    return (violation.origin.file, violation.origin.line, violation.rule, violation.message)


def _in_scope(record: RecordChange, policy: PolicySettings, set_files: Mapping[str, str]) -> bool:
    if policy.names is None:
        return True
    changed_in = {c.origin.file for c in record.fields} | {
        c.origin.file for c in record.relationships
    }
    names = {
        record.name,
        *(name for name in record.group.split(", ") if name),
        *(name for name, file in set_files.items() if file in changed_in),
    }
    return any(fnmatchcase(name, glob) for name in names for glob in policy.names)


def _selected(
    record: RecordChange,
    scope: DesiredSet | None,
    live: Mapping[str, Record],
    schema: OrgSchema | None,
    facts: PipelineFacts,
) -> bool:
    """Whether the policy's (resolved) selector keeps ``record`` in its scope: no selector,
    an update whose live state is unknown, and no org to read values by, all judge it."""
    if scope is None or schema is None:
        return True
    before = live.get(record.id) if record.id else None
    if record.action == "update" and before is None:
        return True
    return in_scope(scope, record, before, schema, facts)


@dataclass(frozen=True)
class _Lines:
    """lfr.yaml's lines as ``core.desired.Located`` (what a selector is read from)."""

    rails: Guardrails

    def origin_of(self, *path: str | int) -> Origin:
        return self.rails._origin(*path)


def _did_you_mean(hint: Sequence[str]) -> str:
    return f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""


def _field_problem(
    schema: OrgSchema, key: str, types: tuple[str, ...], origin: Origin
) -> list[Problem]:
    definition = schema.field(key)
    if definition is None:
        return [
            Problem(origin, f"the org has no field {key!r}{_did_you_mean(schema.suggest(key))}")
        ]
    if definition.value_type not in types:
        return [
            Problem(
                origin,
                f"{key} is a {definition.value_type} field in the org; this needs "
                f"{' or '.join(types)}",
            )
        ]
    return []


# --- the rules: each gives (origin or None for the rule's line, record or None, message) ---------

Found = list[tuple[Origin | None, str | None, str]]
# ``known``: each changed record's pipeline keys as read live (``core.impact.live_values``).
Known = Mapping[str, Mapping[str, Any]]
Judge = Callable[
    [PolicySettings, list[RecordChange], Plan, PipelineFacts, Guardrails, Known], Found
]


def _close_date_in_past(
    policy: PolicySettings, records: list[RecordChange], plan: Plan, facts: PipelineFacts,
    rails: Guardrails, known: Known,
) -> Found:  # fmt: skip
    key = policy.field or facts.close_date
    found: Found = []
    for record in records:
        for change in record.fields:
            after = change.after
            if change.key == key and isinstance(after, str) and after[:10] < rails.today:
                found.append(
                    (
                        change.origin,
                        record.called,
                        f"{record.called}: {key} set to {after[:10]}, before today ({rails.today})",
                    )
                )
    return found


def _reopen_closed(
    policy: PolicySettings, records: list[RecordChange], plan: Plan, facts: PipelineFacts,
    rails: Guardrails, known: Known,
) -> Found:  # fmt: skip
    found: Found = []
    for record in records:
        for change in record.fields:
            if change.key != facts.stage or record.action != "update":
                continue
            was = facts.outcomes.get(str(change.before), "open")
            now = facts.outcomes.get(str(change.after), "open")
            if was != "open" and now == "open":
                before = plan.labels.get(str(change.before), str(change.before))
                after = plan.labels.get(str(change.after), str(change.after))
                found.append(
                    (
                        change.origin,
                        record.called,
                        f"{record.called}: stage {before} ({was}) → {after} (open) reopens a "
                        "closed deal",
                    )
                )
    return found


def _amount_change(
    policy: PolicySettings, records: list[RecordChange], plan: Plan, facts: PipelineFacts,
    rails: Guardrails, known: Known,
) -> Found:  # fmt: skip
    found: Found = []
    amount = _money(facts)
    for record in records:
        for change in record.fields:
            if change.key != facts.amount or record.action != "update":
                continue
            before = float(change.before) if isinstance(change.before, int | float) else 0.0
            after = float(change.after) if isinstance(change.after, int | float) else 0.0
            delta = after - before
            percent = abs(delta) / abs(before) * 100 if before else float("inf")
            over = []
            if policy.max_change is not None and abs(delta) > policy.max_change:
                over.append(f"more than {amount(policy.max_change)}")
            if policy.max_percent is not None and delta and percent > policy.max_percent:
                over.append(f"more than {policy.max_percent:g}%")
            if over:
                share = f"{delta / before * 100:+.0f}%" if before else "from empty"
                found.append(
                    (
                        change.origin,
                        record.called,
                        f"{record.called}: {facts.amount} {money(before, facts.currency)} → "
                        f"{money(after, facts.currency)} "
                        f"({money(delta, facts.currency, signed=True)}, {share}): "
                        f"{' and '.join(over)}",
                    )
                )
    if policy.max_total_change is not None:
        scoped = replace(plan, records=tuple(records))  # the records in the rule's scope
        impact = impact_of(scoped, facts, known)
        total = impact.delta + impact.uncounted_delta
        if abs(total) > policy.max_total_change:
            open_deals = (
                f"open pipeline {amount(impact.open_before)} → {amount(impact.open_after)}"
                if impact.counted
                else "no deal with both amount and stage in a manifest"
            )
            unknown = (
                f", {money(impact.uncounted_delta, facts.currency, signed=True)} on deals "
                "whose stage is not in a manifest"
                if impact.uncounted_delta
                else ""
            )
            found.append(
                (
                    None,
                    None,
                    f"the plan changes amounts by {money(total, facts.currency, signed=True)} "
                    f"({open_deals}{unknown}): more than {amount(policy.max_total_change)}",
                )
            )
    return found


def _owner_reassignments(
    policy: PolicySettings, records: list[RecordChange], plan: Plan, facts: PipelineFacts,
    rails: Guardrails, known: Known,
) -> Found:  # fmt: skip
    moved = [
        record.called
        for record in records
        if record.action == "update"
        and any(link.key == facts.owner for link in record.relationships)
    ]
    limit = policy.max_records or 0
    if len(moved) <= limit:
        return []
    names = ", ".join(moved[:_SHOWN]) + (
        f" and {len(moved) - _SHOWN} more" if len(moved) > _SHOWN else ""
    )
    count = f"{len(moved)} records change" if len(moved) != 1 else "1 record changes"
    return [(None, None, f"{count} {facts.owner} (at most {limit}): {names}")]


def _required_on_create(
    policy: PolicySettings, records: list[RecordChange], plan: Plan, facts: PipelineFacts,
    rails: Guardrails, known: Known,
) -> Found:  # fmt: skip
    found: Found = []
    for record in records:
        if record.action != "create":
            continue
        set_keys = {c.key for c in record.fields if c.after is not None}
        set_keys |= {r.key for r in record.relationships if r.after}
        missing = [key for key in policy.keys or () if key not in set_keys]
        if missing:
            found.append(
                (
                    record.origin,
                    record.called,
                    f"{record.called}: a create must set {', '.join(missing)}",
                )
            )
    return found


_JUDGES: dict[str, Judge] = {
    "close-date-in-past": _close_date_in_past,
    "reopen-closed": _reopen_closed,
    "amount-change": _amount_change,
    "owner-reassignments": _owner_reassignments,
    "required-on-create": _required_on_create,
}


def _money(facts: PipelineFacts) -> Callable[[float], str]:
    return lambda value: money(value, facts.currency)
