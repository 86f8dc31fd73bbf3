"""The ``policies`` and ``pipeline`` sections of ``lfr.yaml``, as pydantic models.

Owns their shape only: which keys a policy may hold, their types and bounds (``core.settings``
checks them with the rest of the file and says each problem at ``file:line``). What each rule
means, which parameters it takes and how a plan is judged by it is ``core.policies``'s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# The built-in rules, in the order the README's table lists them.
RULES = (
    "close-date-in-past",
    "reopen-closed",
    "amount-change",
    "owner-reassignments",
    "required-on-create",
)
# A rule's name in a pull-request label (lfr-allow:<rule>) and --allow: lowercase words.
RULE_PATTERN = r"^[a-z][a-z-]{0,39}$"

Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]
NameGlob = Annotated[str, StringConstraints(min_length=1, max_length=200)]
StageLabel = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PolicySettings(_Strict):
    """One rule enabled: its name, what a violation does, which records it judges, and the
    rule's parameters (each rule takes only its own: ``core.policies.PARAMETERS``)."""

    rule: Annotated[str, StringConstraints(pattern=RULE_PATTERN)] = Field(
        description="The rule: " + ", ".join(RULES) + "."
    )
    severity: Literal["error", "warn"] = Field(
        description="error: `lfr plan` exits 1 and `lfr apply` refuses before any write "
        "(unless --allow RULE); warn: shown in the plan only."
    )
    names: list[NameGlob] | None = Field(
        default=None,
        min_length=1,
        description="Scope: the records (metadata.name globs, as --target) the rule judges; "
        "default: all.",
    )
    # The grammar of a selector is ``core.sets.read_selector``'s (it needs the org's definitions).
    selector: dict[str, Any] | None = Field(
        default=None,
        description="Scope: the records whose live state before the plan or state after it "
        "this selector matches (the grammar of an OpportunitySet's spec.selector: a key with a "
        "value or a list of values, status: open|closed); with names, a record must match both; "
        "default: all.",
    )
    # Not ``key``: lfr.yaml refuses a key named like a credential (core.settings).
    field: Key | None = Field(
        default=None,
        description="close-date-in-past: the close date field (default: pipeline.close_date).",
    )
    keys: list[Key] | None = Field(
        default=None,
        min_length=1,
        description="required-on-create: the keys (fields or relationships) a create must set.",
    )
    max_change: float | None = Field(
        default=None,
        gt=0,
        description="amount-change: the most a record's amount may change (absolute, in the "
        "org's currency).",
    )
    max_percent: float | None = Field(
        default=None,
        gt=0,
        description="amount-change: the most a record's amount may change, in percent of the "
        "live amount.",
    )
    max_total_change: float | None = Field(
        default=None,
        gt=0,
        description="amount-change: the most the plan may change the open pipeline total "
        "(absolute).",
    )
    max_records: int | None = Field(
        default=None,
        ge=0,
        description="owner-reassignments: the most records one plan may give a new owner.",
    )


class PipelineSettings(_Strict):
    """Which of the org's keys hold a deal's amount, stage, close date, owner and account, and
    which stages are closed (won or lost): the pipeline impact and the rules read them."""

    amount: Key = Field(default="$amount", description="The amount field (CURRENCY or NUMBER).")
    stage: Key = Field(default="$stage", description="The stage field (SINGLE_SELECT).")
    close_date: Key = Field(default="$closeDate", description="The close date field (DATETIME).")
    owner: Key = Field(default="$owner", description="The owner relationship.")
    account: Key = Field(default="$account", description="The account relationship.")
    won: list[StageLabel] | None = Field(
        default=None,
        description="Stage labels that mean won; default: every stage whose label has the "
        "word 'won' (Closed Won).",
    )
    lost: list[StageLabel] | None = Field(
        default=None,
        description="Stage labels that mean lost; default: every stage whose label has the "
        "word 'lost' (Closed Lost).",
    )
