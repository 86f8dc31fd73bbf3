"""What apply and drift report, as data the renderers read (docs/architecture.md §5, §6).

``ApplyReport``: each record's result (applied, failed with the API's error and the manifest
``file:line`` it concerns, not attempted, or not verified) and why a run stopped early.
``DriftReport``: the plan read as drift, with the field history of each drifted field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .plan import Plan
from .vocabulary import Origin

Status = Literal["applied", "failed", "not_attempted", "unverified"]


@dataclass(frozen=True)
class Failure:
    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class RecordResult:
    name: str
    id: str | None
    action: str
    status: Status
    origin: Origin
    requests_sent: int = 0
    failure: Failure | None = None
    resent: bool = False
    # A create answered by the API's replay of an earlier apply's create (same key): the
    # record was made then, not now.
    replayed: bool = False


@dataclass
class ApplyReport:
    results: list[RecordResult] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early, if it did
    interrupted: bool = False  # stopped by an interrupt (Ctrl-C)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(r.status == "applied" for r in self.results)

    def summary(self) -> str:
        parts = [f"{self.count('applied')} applied"]
        parts += [
            f"{self.count(status)} {label}"
            for status, label in _LABELS
            if status != "applied" and self.count(status)
        ]
        return "Apply: " + ", ".join(parts) + "."


_LABELS: tuple[tuple[Status, str], ...] = (
    ("applied", "applied"),
    ("unverified", "not verified"),
    ("failed", "failed"),
    ("not_attempted", "not attempted"),
)


@dataclass(frozen=True)
class FieldHistoryNote:
    """What the history says about a drifted field's current value."""

    changed_at: str | None  # when the live value was recorded
    now: str | None  # its display value
    before: str | None  # the display value it replaced (None: the first value, or unknown)


@dataclass
class DriftReport:
    plan: Plan
    # (record id, field key) → history note, for the fields that have history.
    history: dict[tuple[str, str], FieldHistoryNote] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return self.plan.has_changes
