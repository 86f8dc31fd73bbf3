"""Fixtures of the export tests: a demo emulator in-process, a client on it, and a helper
that exports and then plans the same directory (the round trip export promises)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.runs.export import ExportResult, export_opportunities
from reconciler.runs.plan import Outcome, run_plan

Export = Callable[..., Awaitable[ExportResult]]
Plan = Callable[[], Awaitable[Outcome]]


@pytest.fixture
def export(client: LightfieldClient, manifest_dir: Path) -> Export:
    """``await export()`` = every record; ``await export(ids=[...])`` = those."""

    async def run(ids: Sequence[str] | None = None, schema_ref: str | None = None) -> ExportResult:
        return await export_opportunities(client, manifest_dir, ids=ids, schema_ref=schema_ref)

    return run


@pytest.fixture
def plan(client: LightfieldClient, manifest_dir: Path) -> Plan:
    async def run() -> Outcome:
        return await run_plan(client, manifest_dir, target="test")

    return run
