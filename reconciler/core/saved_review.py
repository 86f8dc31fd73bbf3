"""The guardrails' review in a saved plan (``policy`` and ``impact``, as
``render.review.review_data`` writes them): their strict shape, and the ``Review`` they are
turned back into so that ``lfr show`` renders them with the one renderer ``lfr plan`` uses.

A saved plan is hostile input, so what it says of its policies and impact is checked like the
rest of it: every key and type, a rule this lfr has, counts and the amounts moved never
negative, totals that add up, and each label the one the plan's own ``labels`` give (the
renderers name stages and owners from those, so a label that differs would show one thing in
the file and another on screen). Apply never trusts the review: it judges the plan again by the
current lfr.yaml (``core.policies``). Both sections are optional: a plan saved without them
(before they existed) is still a plan, shown without a review.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic import model_validator as checked
from pydantic_core import PydanticCustomError

from .impact import Deal as CoreDeal
from .impact import Impact, PipelineFacts, Reason, owner_label, stage_label
from .impact import OwnerMove as CoreOwnerMove
from .impact import StageMove as CoreStageMove
from .plan import Plan
from .policies import Review
from .policies import Violation as CoreViolation
from .policy_settings import RULES
from .vocabulary import Origin

Text = Annotated[str, StringConstraints(max_length=65536)]
Amount = float
Moved = Annotated[float, Field(ge=0)]  # an amount moved in or out of a stage (never negative)
Count = Annotated[int, Field(ge=0)]


def _refused(kind: str, message: str) -> PydanticCustomError:
    """A check's own message, shown as it is after the JSON path (no "Value error, ")."""
    return PydanticCustomError(kind, message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Origin(_Strict):
    file: Text
    line: Count


class Violation(_Strict):
    rule: Text
    severity: Literal["error", "warn"]
    allowed: bool
    record: Text | None
    origin: _Origin
    message: Text

    @field_validator("rule")
    @classmethod
    def _a_rule(cls, rule: str) -> str:
        # Refused rather than shown: the rules are a closed set of this lfr (a newer lfr's plan
        # carries other keys too, which this format refuses anyway), and a reviewer reading
        # "error <rule>" cannot tell a forged rule from a real one. The name is not quoted.
        if rule not in RULES:
            raise _refused("rule", f"not a rule of this lfr ({', '.join(RULES)})")
        return rule


class PolicyReview(_Strict):
    blocking: bool
    violations: list[Violation]

    @checked(mode="after")
    def _blocking_says_what_the_violations_say(self) -> Self:
        blocks = any(v.severity == "error" and not v.allowed for v in self.violations)
        if self.blocking != blocks:
            raise _refused(
                "blocking",
                f"blocking is {str(self.blocking).lower()}, but the violations hold "
                f"{'an' if blocks else 'no'} error-level one not allowed",
            )
        return self


class StageMove(_Strict):
    stage: Text
    label: Text
    before: Amount
    after: Amount
    moved_in: Moved
    moved_out: Moved


class Deal(_Strict):
    model_config = ConfigDict(populate_by_name=True)

    name: Text
    amount: Amount | None
    from_stage: Text | None = Field(alias="from")
    to: Text | None


class Flow(_Strict):
    """An amount moved from one stage to another (from null: created deals), the chart's edge."""

    model_config = ConfigDict(populate_by_name=True)

    from_stage: Text | None = Field(alias="from")
    to: Text
    amount: Amount


class OwnerMove(_Strict):
    owner: Text | None
    label: Text
    managed: bool
    before: Amount
    after: Amount
    change: Amount

    @checked(mode="after")
    def _change_adds_up(self) -> Self:
        if self.change != self.after - self.before:
            raise _refused("change", "change is not after - before")
        return self


class ImpactReview(_Strict):
    currency: Text | None
    open_before: Amount
    open_after: Amount
    open_change: Amount
    counted: Count
    stages: list[StageMove]
    won: list[Deal]
    lost: list[Deal]
    reopened: list[Deal]
    owners: list[OwnerMove]
    uncounted: list[Text]
    # The chart's stage-to-stage moves; a plan saved before they were is shown without it.
    flows: list[Flow] | None = None
    # Why each of ``uncounted`` is not counted; a plan saved before the reasons were: all
    # NOT_IN_MANIFEST (then the only one).
    uncounted_reasons: list[Reason] | None = None

    @checked(mode="after")
    def _open_change_adds_up(self) -> Self:
        if self.open_change != self.open_after - self.open_before:
            raise _refused("open_change", "open_change is not open_after - open_before")
        return self

    @checked(mode="after")
    def _a_reason_for_each_uncounted(self) -> Self:
        if self.uncounted_reasons is not None and len(self.uncounted_reasons) != len(
            self.uncounted
        ):
            raise _refused("uncounted_reasons", "not one reason for each of uncounted")
        return self


def mismatch(
    policy: PolicyReview | None, impact: ImpactReview | None, plan: Plan
) -> tuple[str, str] | None:
    """What in the review does not fit its plan, as (JSON path, message): an impact without
    the policy section written with it, or a label that is not the one the plan's ``labels``
    give its stage or owner (``render.review`` names them from the plan)."""
    if impact is None:
        return None
    if policy is None:
        return "policy", "missing (a plan saved with its impact has its policy too)"
    for index, move in enumerate(impact.stages):
        if move.label != stage_label(move.stage, plan.labels):
            return f"impact.stages[{index}].label", "not the plan's label of its stage (labels)"
    stages = {move.stage for move in impact.stages}
    for index, flow in enumerate(impact.flows or ()):
        # Every edge of the chart joins stages of the table (a created deal's from is null).
        if flow.to not in stages or (flow.from_stage is not None and flow.from_stage not in stages):
            return f"impact.flows[{index}]", "a stage the impact's stages do not list"
    for index, owner in enumerate(impact.owners):
        expected = owner_label(owner.owner, owner.managed, plan.labels)
        if owner.label != expected or (not owner.managed and owner.owner is not None):
            return f"impact.owners[{index}].label", "not the plan's label of its owner (labels)"
    return None


def review_of(
    policy: PolicyReview, impact: ImpactReview | None, facts: PipelineFacts | None = None
) -> Review:
    """The core's ``Review`` of checked saved sections (``facts``: lfr.yaml's pipeline keys,
    for ``--group-by``; the review itself is the saved one, judged by nothing here)."""
    return Review(
        violations=tuple(
            CoreViolation(
                rule=v.rule,
                severity=v.severity,
                origin=Origin(v.origin.file, v.origin.line),
                record=v.record,
                message=v.message,
                allowed=v.allowed,
            )
            for v in policy.violations
        ),
        impact=None if impact is None else _impact(impact),
        facts=facts or PipelineFacts(),
    )


def _impact(saved: ImpactReview) -> Impact:
    def deals(items: list[Deal]) -> tuple[CoreDeal, ...]:
        return tuple(CoreDeal(d.name, d.amount, d.from_stage, d.to) for d in items)

    return Impact(
        currency=saved.currency,
        open_before=saved.open_before,
        open_after=saved.open_after,
        stages=tuple(
            CoreStageMove(m.stage, m.before, m.after, m.moved_in, m.moved_out) for m in saved.stages
        ),
        owners=tuple(CoreOwnerMove(o.owner, o.managed, o.before, o.after) for o in saved.owners),
        won=deals(saved.won),
        lost=deals(saved.lost),
        reopened=deals(saved.reopened),
        flows=tuple((f.from_stage, f.to, f.amount) for f in saved.flows or ()),
        uncounted=tuple(saved.uncounted),
        counted=saved.counted,
        uncounted_reasons=tuple(saved.uncounted_reasons or ()),
    )
