"""Drift: a plan of the manifests as checked in, read as "what changed in the CRM" (architecture.md
§6).

Owns the one thing drift adds to a plan: for each drifted attribute-backed field, when it
changed and what it showed before, from the field history endpoint (newest first, so the first
two entries are "now" and "before"). Relationships and column-backed fields have no history;
they are reported without it. ``run_drift`` starts a record's history reads as soon as its
change is known (``Planning.changes()``), so they run beside the rest of the plan's reads
instead of after them. Called by the CLI; never prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..core.errors import LfrError
from ..core.plan import Plan, RecordChange
from ..core.reports import DriftReport, FieldHistoryNote
from .fetch import Progress
from .plan import Outcome, Planning
from .validate import ManifestSource, Selection


@dataclass(frozen=True)
class DriftRun:
    """The plan's outcome and, when it made a plan, the drift report."""

    outcome: Outcome
    report: DriftReport | None


async def run_drift(
    client: LightfieldClient,
    root: Path | Sequence[Path] | ManifestSource,
    *,
    target: str,
    progress: Progress | None = None,
    selection: Selection | None = None,
) -> DriftRun:
    """Plan the manifests of ``root`` that ``selection`` chooses and explain each drifted
    field; history reads start with each change."""
    planning = Planning(client, root, target=target, progress=progress, selection=selection)
    history = _History(client)
    try:
        async for change in planning.changes():
            history.start([change])
        plan = planning.outcome.plan
        if plan is None:
            return DriftRun(planning.outcome, None)
        history.start(plan.records)  # records a selector found are not streamed
        return DriftRun(planning.outcome, await history.report(plan))
    finally:
        await history.cancel()


async def explain_drift(client: LightfieldClient, plan: Plan) -> DriftReport:
    """The drift report of a plan already made."""
    history = _History(client)
    history.start(plan.records)
    return await history.report(plan)


class _History:
    """The history reads of one drift run: one per drifted field, each started once."""

    def __init__(self, client: LightfieldClient) -> None:
        self.client = client
        self.notes: dict[tuple[str, str], FieldHistoryNote] = {}
        self.reads: dict[tuple[str, str], asyncio.Task[None]] = {}

    def start(self, changes: Iterable[RecordChange]) -> None:
        for change in changes:
            if change.action != "update" or change.id is None:
                continue
            for field_change in change.fields:
                key = (change.id, field_change.key)
                if key not in self.reads:
                    self.reads[key] = asyncio.create_task(self._note(*key))

    async def report(self, plan: Plan) -> DriftReport:
        await asyncio.gather(*self.reads.values())
        report = DriftReport(plan)
        report.history.update(self.notes)
        return report

    async def cancel(self) -> None:
        """Stop reads a failed plan no longer needs (and wait, so none outlives the run)."""
        for task in self.reads.values():
            task.cancel()
        await asyncio.gather(*self.reads.values(), return_exceptions=True)

    async def _note(self, record_id: str, key: str) -> None:
        try:
            page = await self.client.field_history("opportunities", record_id, key, limit=2)
        except LfrError:
            # No history for this field (column-backed), or it could not be read: history is
            # the report's garnish, so the field is reported without it.
            return
        if not page.data:
            return
        current = page.data[0]
        previous = page.data[1] if len(page.data) > 1 else None
        self.notes[(record_id, key)] = FieldHistoryNote(
            changed_at=current.recorded_at,
            now=current.display_value,
            before=previous.display_value if previous is not None else None,
        )
