"""What a plan does to the pipeline: the open total before → after, the amount moved into and
out of each stage, the deals won, lost and reopened, and the change by owner.

Owns ``PipelineFacts`` (which of the org's keys hold a deal's amount, stage, owner and account,
each stage's outcome, the currency: from the definitions and ``lfr.yaml``'s ``pipeline``) and
``impact_of``. Every record the plan changes is counted from its live read (``live_values``: the
read the plan was made from, ``runs.plan.Outcome.live``; for a saved plan applied, the fresh
read that refuses it when stale): before is the live record's pipeline keys, after is the same
with the plan's changes. So a stage-only move to a lost stage counts the deal's live amount,
and neither a manifest that leaves the amount out nor a saved plan whose ``planned_from`` (or
``selected_by``) leaves a key out hides a change from the impact or ``amount-change``'s total.
A changed record whose live amount is empty (and whose manifest sets none) is listed as not
counted, ``NO_AMOUNT``. Without a live read (a create; an unchanged record; a plan judged with
no reads) a key the manifest does not manage is unknown, and such a record is listed as not
counted, ``NOT_IN_MANIFEST``, never guessed. Also owns ``group_records`` (``--group-by``, by
the manifests' and planned-from values) and the names a stage or owner is shown by
(``stage_label``, ``owner_label``: the renderers show them, ``core.saved_review`` checks a saved
plan's review against them).
Pure: the renderers show it, ``core.policies`` judges the total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .diff import observed
from .org import OrgSchema, fold
from .plan import Plan, RecordChange
from .policy_settings import PipelineSettings
from .records import Record

Outcome = Literal["open", "won", "lost"]
GroupBy = Literal["owner", "stage", "account"]
_WON, _LOST = re.compile(r"\bwon\b", re.IGNORECASE), re.compile(r"\blost\b", re.IGNORECASE)
# What a group is called when the manifest does not manage its key.
UNMANAGED = "(not in the manifest)"
NONE = "(none)"
# What the renderers call an owner the manifest does not manage, and none.
OWNER_UNMANAGED = "(owner not in the manifest)"
NO_OWNER = "(no owner)"
# Why a changed record is not counted (``Impact.uncounted_reasons``), in the order shown.
Reason = Literal["amount or stage not in the manifest", "no amount in the manifest or the CRM"]
NOT_IN_MANIFEST: Reason = "amount or stage not in the manifest"  # no live read: keys unknown
NO_AMOUNT: Reason = "no amount in the manifest or the CRM"  # read live, and empty
REASONS: tuple[Reason, ...] = (NOT_IN_MANIFEST, NO_AMOUNT)


@dataclass(frozen=True)
class PipelineFacts:
    """The org's pipeline keys and the outcome of each stage option (by id)."""

    amount: str = "$amount"
    stage: str = "$stage"
    close_date: str = "$closeDate"
    owner: str = "$owner"
    account: str = "$account"
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    currency: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys a deal's pipeline is read by."""
        return (self.amount, self.stage, self.close_date, self.owner, self.account)


def pipeline_facts(schema: OrgSchema | None, settings: PipelineSettings) -> PipelineFacts:
    """The facts from the org's definitions (None: a saved plan shown offline, no outcomes and
    no currency) and ``lfr.yaml``'s ``pipeline`` section: a stage is won when its label is in
    ``won`` (default: has the word "won"), lost likewise, open otherwise."""
    outcomes: dict[str, Outcome] = {}
    currency = None
    if schema is not None:
        won = {fold(label) for label in settings.won or ()}
        lost = {fold(label) for label in settings.lost or ()}
        stage = schema.field(settings.stage)
        for option in stage.type_configuration.options if stage is not None else ():
            label = fold(option.label)
            is_won = label in won if settings.won is not None else bool(_WON.search(option.label))
            is_lost = (
                label in lost if settings.lost is not None else bool(_LOST.search(option.label))
            )
            outcomes[option.id] = "won" if is_won else "lost" if is_lost else "open"
        amount = schema.field(settings.amount)
        currency = amount.type_configuration.currency if amount is not None else None
    return PipelineFacts(
        amount=settings.amount,
        stage=settings.stage,
        close_date=settings.close_date,
        owner=settings.owner,
        account=settings.account,
        outcomes=outcomes,
        currency=currency,
    )


def live_values(
    live: Mapping[str, Record], schema: OrgSchema, facts: PipelineFacts
) -> dict[str, dict[str, Any]]:
    """Each live record's pipeline keys (``facts.keys``) by record id, as canonical as the
    planned-from values (``core.diff.observed``: option ids, numbers, sorted id tuples)."""
    return {record_id: observed(record, facts.keys, schema) for record_id, record in live.items()}


@dataclass(frozen=True)
class Side:
    """One record before or after the plan: its stage (option id), amount and owner (id);
    ``known``: which of them the live read or the manifest holds; ``amount_empty``: the
    amount is known to be empty, read live and not set by the manifest."""

    stage: str | None
    amount: float
    owner: str | None
    stage_known: bool
    amount_known: bool
    owner_known: bool
    exists: bool = True
    amount_empty: bool = False


def sides(
    record: RecordChange, facts: PipelineFacts, live: Mapping[str, Any] | None = None
) -> tuple[Side, Side]:
    """The record before and after the plan. Before: ``live`` (the pipeline keys of the
    record's live read, ``live_values``) when given, else the planned-from values of the keys
    its manifest manages; after: before with the plan's changes. The live read wins over
    ``planned_from``: a saved plan's word is taken for nothing it does not change (its
    changed keys were planned from the live values, or it was refused as stale). Without a
    live read, a set's selector-only keys are left out: the impact of one selection does not
    depend on how the selector spells it (``status: open`` and the list of open stages choose
    the same deals; only the latter would name their stage)."""
    values: dict[str, Any] = dict(record.managed_from)
    if live is not None and record.action != "create":
        values.update(live)
    after: dict[str, Any] = dict(values)
    for change in record.fields:
        after[change.key] = change.after
    for link in record.relationships:
        after[link.key] = link.after
    set_amount = any(change.key == facts.amount for change in record.fields)
    empty = live is not None and facts.amount not in record.managed_from and not set_amount
    before = _side(values, facts, exists=record.action != "create", read=empty)
    return before, _side(after, facts, exists=True, read=empty)


def _side(values: dict[str, Any], facts: PipelineFacts, *, exists: bool, read: bool) -> Side:
    """``read``: the amount came from the live read (empty there is known to be empty)."""
    stage = values.get(facts.stage)
    amount = values.get(facts.amount)
    owner = values.get(facts.owner)
    owner_id = owner[0] if isinstance(owner, tuple | list) and owner else None
    return Side(
        stage=stage if isinstance(stage, str) else None,
        amount=float(amount) if isinstance(amount, int | float) else 0.0,
        owner=owner_id,
        stage_known=facts.stage in values,
        amount_known=facts.amount in values,
        owner_known=facts.owner in values,
        exists=exists,
        amount_empty=read and not isinstance(amount, int | float),
    )


@dataclass(frozen=True)
class StageMove:
    stage: str  # option id (plan.labels names it)
    before: float
    after: float
    moved_in: float
    moved_out: float


@dataclass(frozen=True)
class OwnerMove:
    owner: str | None  # member id; None: no owner, or not managed (``managed``)
    managed: bool
    before: float
    after: float


@dataclass(frozen=True)
class Deal:
    name: str
    amount: float | None  # None: not known (not in the manifest, not read), or empty
    from_stage: str | None
    to_stage: str | None


@dataclass(frozen=True)
class Impact:
    currency: str | None
    open_before: float
    open_after: float
    stages: tuple[StageMove, ...]
    owners: tuple[OwnerMove, ...]
    won: tuple[Deal, ...]
    lost: tuple[Deal, ...]
    reopened: tuple[Deal, ...]
    # (from stage, to stage, amount) per stage-to-stage move; from None: a create.
    flows: tuple[tuple[str | None, str, float], ...]
    # Records whose change the totals cannot count, and why (``REASONS``; the same order; none
    # given: a review saved before the reasons were, every one ``NOT_IN_MANIFEST``).
    uncounted: tuple[str, ...]
    counted: int = 0  # records whose amount and stage are known (the totals' records)
    # The amount changes of records whose amount is managed and stage is not known (open or not:
    # unknown); ``core.policies`` adds them to the plan's total, a guardrail errs on the safe side.
    uncounted_delta: float = 0.0
    uncounted_reasons: tuple[Reason, ...] = ()

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why each of ``uncounted`` is not counted (the same order)."""
        return self.uncounted_reasons or (NOT_IN_MANIFEST,) * len(self.uncounted)

    def not_counted(self) -> list[tuple[Reason, list[str]]]:
        """The uncounted records by reason, in ``REASONS``' order."""
        pairs = list(zip(self.uncounted, self.reasons, strict=True))
        return [
            (reason, names)
            for reason in REASONS
            if (names := [name for name, why in pairs if why == reason])
        ]

    @property
    def delta(self) -> float:
        return self.open_after - self.open_before


def touches_pipeline(plan: Plan, facts: PipelineFacts) -> bool:
    """Whether the plan changes an amount or a stage (the impact is shown only then)."""
    keys = {facts.amount, facts.stage}
    return any(
        change.key in keys for record in plan.records if record.action != "noop"
        for change in record.fields
    )  # fmt: skip


def impact_of(
    plan: Plan, facts: PipelineFacts, live: Mapping[str, Mapping[str, Any]] | None = None
) -> Impact:
    """The plan's effect on the open pipeline of its records (noop ones included, so the
    totals are of every record whose stage and amount are known); ``live``: the pipeline keys
    of each changed record's live read, by id (``live_values``)."""
    reads = live or {}
    outcome = facts.outcomes.get
    open_before = open_after = 0.0
    stage_rows: dict[str, list[float]] = {}  # stage → [before, after, in, out]
    owner_rows: dict[tuple[str | None, bool], list[float]] = {}
    won: list[Deal] = []
    lost: list[Deal] = []
    reopened: list[Deal] = []
    flows: dict[tuple[str | None, str], float] = {}
    uncounted: list[str] = []
    reasons: list[Reason] = []
    counted = 0
    uncounted_delta = 0.0
    for record in plan.records:
        changes = record.action != "noop"
        read = reads.get(record.id) if record.id and changes else None
        before, after = sides(record, facts, read)
        known = after.stage_known and after.amount_known
        if not known or after.amount_empty:
            if changes and _pipeline_change(record, facts):
                uncounted.append(record.called)
                reasons.append(NOT_IN_MANIFEST if not known else NO_AMOUNT)
            if changes and after.amount_known:
                uncounted_delta += after.amount - (before.amount if before.exists else 0.0)
            after_outcome = outcome(after.stage or "", "open")
            before_outcome = outcome(before.stage or "", "open")
            _deal_outcome(record, before, after, before_outcome, after_outcome, facts,
                          won, lost, reopened)  # fmt: skip
            continue
        counted += 1
        is_open_before = before.exists and outcome(before.stage or "", "open") == "open"
        is_open_after = outcome(after.stage or "", "open") == "open"
        amount_before = before.amount if before.exists else 0.0
        open_before += amount_before if is_open_before and before.stage else 0.0
        open_after += after.amount if is_open_after and after.stage else 0.0
        for stage, amount, index in (
            (before.stage, amount_before, 0),
            (after.stage, after.amount, 1),
        ):
            if stage is not None and (index == 1 or before.exists):
                stage_rows.setdefault(stage, [0.0, 0.0, 0.0, 0.0])[index] += amount
        contribution: dict[str, float] = {}
        if before.exists and before.stage is not None:
            contribution[before.stage] = contribution.get(before.stage, 0.0) - amount_before
        if after.stage is not None:
            contribution[after.stage] = contribution.get(after.stage, 0.0) + after.amount
        for stage, amount in contribution.items():
            row = stage_rows[stage]
            row[2 if amount > 0 else 3] += abs(amount)
        if after.stage is not None and (not before.exists or before.stage != after.stage):
            source = before.stage if before.exists else None
            flows[(source, after.stage)] = flows.get((source, after.stage), 0.0) + after.amount
        owner_key_before = (before.owner, before.owner_known)
        owner_key_after = (after.owner, after.owner_known)
        if is_open_before and before.exists:
            owner_rows.setdefault(owner_key_before, [0.0, 0.0])[0] += amount_before
        if is_open_after:
            owner_rows.setdefault(owner_key_after, [0.0, 0.0])[1] += after.amount
        _deal_outcome(
            record, before, after, outcome(before.stage or "", "open"),
            outcome(after.stage or "", "open"), facts, won, lost, reopened,
        )  # fmt: skip
    return Impact(
        currency=facts.currency,
        open_before=open_before,
        open_after=open_after,
        stages=tuple(
            StageMove(stage, *row) for stage, row in sorted(stage_rows.items()) if row[2] or row[3]
        ),
        owners=tuple(
            OwnerMove(owner, managed, before_total, after_total)
            for (owner, managed), (before_total, after_total) in sorted(
                owner_rows.items(), key=lambda item: (str(item[0][0]), item[0][1])
            )
            if before_total != after_total
        ),
        won=tuple(won),
        lost=tuple(lost),
        reopened=tuple(reopened),
        flows=tuple((a, b, amount) for (a, b), amount in sorted(flows.items(), key=str)),
        uncounted=tuple(uncounted),
        counted=counted,
        uncounted_delta=uncounted_delta,
        uncounted_reasons=tuple(reasons),
    )


def _pipeline_change(record: RecordChange, facts: PipelineFacts) -> bool:
    return any(change.key in (facts.amount, facts.stage) for change in record.fields)


def _deal_outcome(
    record: RecordChange,
    before: Side,
    after: Side,
    was: Outcome,
    now: Outcome,
    facts: PipelineFacts,
    won: list[Deal],
    lost: list[Deal],
    reopened: list[Deal],
) -> None:
    """A deal that the plan closes (won or lost) or reopens (closed → open)."""
    if record.action == "noop" or after.stage is None:
        return
    if record.action == "update" and before.stage == after.stage:
        return
    deal = Deal(
        record.called,
        after.amount if after.amount_known and not after.amount_empty else None,
        before.stage if before.exists else None,
        after.stage,
    )
    closed_before = before.exists and was != "open" and before.stage is not None
    if now == "won" and was != "won":
        won.append(deal)
    elif now == "lost" and was != "lost":
        lost.append(deal)
    elif now == "open" and closed_before:
        reopened.append(deal)


def group_records(
    records: Sequence[RecordChange], by: GroupBy, facts: PipelineFacts, labels: dict[str, str]
) -> list[tuple[str, list[RecordChange]]]:
    """``records`` grouped by their owner, stage or account after the plan (a record whose
    manifest does not manage the key is in ``UNMANAGED``), groups by name, records in order."""
    key = {"owner": facts.owner, "stage": facts.stage, "account": facts.account}[by]
    groups: dict[str, list[RecordChange]] = {}
    for record in records:
        values: dict[str, Any] = dict(record.managed_from)
        values.update({c.key: c.after for c in record.fields})
        values.update({r.key: r.after for r in record.relationships})
        if key not in values:
            name = UNMANAGED
        else:
            value = values[key]
            if isinstance(value, tuple | list):
                value = value[0] if value else None
            name = NONE if value is None else labels.get(str(value), str(value))
        groups.setdefault(name, []).append(record)
    return sorted(groups.items(), key=lambda item: (item[0] in (UNMANAGED, NONE), item[0]))


def stage_label(stage: str | None, labels: dict[str, str]) -> str:
    """A stage option id by its label (``new``: none, a created deal's source)."""
    return "new" if stage is None else labels.get(stage, stage)


def owner_label(owner: str | None, managed: bool, labels: dict[str, str]) -> str:
    """An owner (member id) by its label, or what stands for one not managed or none."""
    if not managed:
        return OWNER_UNMANAGED
    return NO_OWNER if owner is None else labels.get(owner, owner)


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def money(value: float, currency: str | None, *, signed: bool = False) -> str:
    """``value`` in the org's currency: ``$135,000``, ``€1,250.50``, ``CHF 90,000`` (an ISO
    4217 code from the definitions; anything else is not shown)."""
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else "-" if value < 0 else ""
    number = abs(value)
    digits = f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"
    code = currency if isinstance(currency, str) and _is_code(currency) else None
    if code is None:
        return f"{sign}{digits}"
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{code} {digits}"


def _is_code(text: str) -> bool:
    return len(text) == 3 and text.isascii() and text.isalpha() and text.isupper()
