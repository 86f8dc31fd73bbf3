"""Reading a saved plan file (``lfr plan --out``): the size cap checked before reading, and the
bytes handed to ``core.saved_plan``, which owns every rule about what they may hold."""

from __future__ import annotations

from pathlib import Path

from ..core.plan import Plan
from ..core.saved_plan import (
    MAX_FILE_BYTES,
    SavedPlan,
    SavedPlanError,
    malformed,
    parse_saved,
)


def read_saved_plan(path: Path, *, target: str | None) -> Plan:
    """The plan in ``path`` for ``target`` (None: whatever it was planned against, to show it),
    every rule of ``core.saved_plan`` checked; else a ``SavedPlanError``."""
    return read_saved(path, target=target).plan


def read_saved(path: Path, *, target: str | None) -> SavedPlan:
    """``read_saved_plan``, with the guardrails' review saved with the plan (``lfr show``)."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise malformed(file, f"{size:,} bytes; saved plans are limited to {MAX_FILE_BYTES:,}")
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # the file may grow after stat
    except OSError as exc:
        raise SavedPlanError(f"cannot read saved plan {file}: {exc.strerror}") from None
    return parse_saved(raw, file, target=target)
