"""Kill `lfr apply --stamp` at its note write, re-run: never a second note (issue 18).

The killed process talks to the emulator through ``WriteGate`` (gate.py), which
passes the record's update (write 1) and stops at the note (write 2) at the chosen phase, then
the test SIGKILLs it. The re-run, through a second server on the same emulator, finds nothing
left to apply and so writes no note: the note the dead process committed stays the only one,
and one it never sent is not written later (at most one note per change, README "Provenance
notes").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, opportunity
from tests.support.emulator import demo_emulator

from .gate import WriteGate, kill_at_the_gate


@pytest.mark.parametrize(
    ("phase", "notes_after"),
    [("before-send", 0), ("after-send", 1), ("after-response", 1)],
)
def test_a_killed_stamped_apply_reruns_without_a_second_note(
    phase: str, notes_after: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "acme.yaml").write_text(
        opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000")
    )
    gate = WriteGate(emu.app, 2, phase)
    kill_at_the_gate(emu, gate, ["apply", "manifests", "--auto-approve", "--stamp"])
    notes = emu.records.list_records("org_demo", "note", [])["data"]
    assert len(notes) == notes_after

    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        rerun = lfr(["apply", "manifests", "--auto-approve", "--stamp"], base_url)

    assert rerun.exit_code == 0, rerun.output
    assert "Nothing to apply." in rerun.stdout
    assert len(emu.records.list_records("org_demo", "note", [])["data"]) == notes_after
    updates = [m for m in emu.mutations() if m["object_type"] == "opportunity"]
    assert len(updates) == 1
