"""Drift: a plan of the manifests as checked in, read as "what changed in the CRM" (architecture.md
§6).

Owns the one thing drift adds to a plan: for each drifted attribute-backed field, when it
changed and what it showed before, from the field history endpoint (newest first, so the first
two entries are "now" and "before"). Relationships and column-backed fields have no history;
they are reported without it. Called by the CLI; never prints.
"""

from __future__ import annotations

import asyncio

from ..adapters.client import LightfieldClient
from ..core.errors import LfrError
from ..core.plan import Plan
from ..core.reports import DriftReport, FieldHistoryNote


async def explain_drift(client: LightfieldClient, plan: Plan) -> DriftReport:
    report = DriftReport(plan)
    wanted = [
        (record.id, change.key)
        for record in plan.records
        if record.action == "update" and record.id is not None
        for change in record.fields
    ]

    async def note(record_id: str, key: str) -> None:
        try:
            page = await client.field_history("opportunities", record_id, key, limit=2)
        except LfrError:
            # No history for this field (column-backed), or it could not be read: history is
            # the report's garnish, so the field is reported without it.
            return
        if not page.data:
            return
        current = page.data[0]
        previous = page.data[1] if len(page.data) > 1 else None
        report.history[(record_id, key)] = FieldHistoryNote(
            changed_at=current.recorded_at,
            now=current.display_value,
            before=previous.display_value if previous is not None else None,
        )

    await asyncio.gather(*(note(record_id, key) for record_id, key in wanted))
    return report
