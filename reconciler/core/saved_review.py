"""The strict shape of the guardrails' review in a saved plan (``policy`` and ``impact``, as
``render.review.review_data`` writes them): a saved plan is hostile input, so what it says of
its policies and impact is checked like the rest of it, though apply never trusts it (it judges
the plan again by the current lfr.yaml, ``core.policies``). Both are optional: a plan saved
without them (before they existed) is still a plan.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(max_length=65536)]
Amount = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Origin(_Strict):
    file: Text
    line: Annotated[int, Field(ge=0)]


class Violation(_Strict):
    rule: Text
    severity: Literal["error", "warn"]
    allowed: bool
    record: Text | None
    origin: _Origin
    message: Text


class PolicyReview(_Strict):
    blocking: bool
    violations: list[Violation]


class StageMove(_Strict):
    stage: Text
    label: Text
    before: Amount
    after: Amount
    moved_in: Amount
    moved_out: Amount


class Deal(_Strict):
    model_config = ConfigDict(populate_by_name=True)

    name: Text
    amount: Amount | None
    from_stage: Text | None = Field(alias="from")
    to: Text | None


class OwnerMove(_Strict):
    owner: Text | None
    label: Text
    managed: bool
    before: Amount
    after: Amount
    change: Amount


class ImpactReview(_Strict):
    currency: Text | None
    open_before: Amount
    open_after: Amount
    open_change: Amount
    counted: Annotated[int, Field(ge=0)]
    stages: list[StageMove]
    won: list[Deal]
    lost: list[Deal]
    reopened: list[Deal]
    owners: list[OwnerMove]
    uncounted: list[Text]
