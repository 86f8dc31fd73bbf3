"""Helpers for the guardrails' tests: lfr.yaml beside manifests/, dates around today, the ids of
demo records found by name."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from reconciler.emulator import Emulator
from tests.support.cli import api

WriteSettings = Callable[[str], Path]


@pytest.fixture
def settings(manifest_dir: Path) -> WriteSettings:
    """Write lfr.yaml (dedented) in the run's directory, the parent of manifests/."""

    def write(text: str) -> Path:
        path = manifest_dir.parent / "lfr.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


def umbrella_create(fields: str) -> str:
    """A manifest that creates `umbrella-new` (matched by name and account) with ``fields``
    (YAML lines under spec.fields)."""
    return (
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: umbrella-new\n"
        "  match: {$name: Umbrella new deal, $account: {domain: umbrella.example}}\n"
        "spec:\n  fields:\n" + textwrap.indent(fields, "    ")
    )


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def record_id(server: str, name: str) -> str:
    """The id of the demo record named ``name``."""
    page = api("GET", server, "/v1/opportunities?limit=25")
    matches = [r["id"] for r in page["data"] if r["fields"]["$name"]["value"] == name]
    assert len(matches) == 1, name
    return str(matches[0])


def impact_lines(plan: Result) -> list[str]:
    """The lines of the text impact ``lfr plan`` printed (after its heading), having exited 0."""
    assert plan.exit_code == 0, plan.output
    return plan.stdout.split("Pipeline impact:\n", 1)[1].split("\n\n", 1)[0].splitlines()


def writes(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["method"] == "POST"]
