"""Kill `lfr apply` of an ``OpportunitySet`` (issue 17) at a write boundary, re-run: the set
converges and no record is written twice. The gate and kill are ``test_crash_points``'s."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.cli import lfr
from tests.support.emulator import demo_emulator

from .gate import WriteGate, kill_at_the_gate
from .harness import duplicate_changes

APPROVED = ("--auto-approve", "--force")
EVERY_DEAL = """\
apiVersion: lfr/v1
kind: OpportunitySet
metadata:
  name: every-deal
spec:
  selector: {all: true}
  fields:
    competitor: Set crash
"""


@pytest.mark.parametrize(
    "boundary", [(1, "before-send"), (9, "after-send"), (17, "after-response")]
)
def test_a_killed_set_apply_converges_with_no_duplicate_write(
    boundary: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k, phase = boundary
    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
    records = len(emu.records.list_records("org_demo", "opportunity", [])["data"])
    assert records == 17
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "every.yaml").write_text(EVERY_DEAL)
    gate = WriteGate(emu.app, k, phase)
    # Every record changes: over the mass-change rail, as meant.
    kill_at_the_gate(emu, gate, ["apply", "manifests", *APPROVED])
    expected = k if phase != "before-send" else k - 1
    assert len(emu.mutations()) == expected
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        reruns = 0
        while lfr(["plan", "manifests", "--detailed-exitcode"], base_url).exit_code == 2:
            reruns += 1
            assert reruns <= 2, "did not converge within 2 re-runs"
            rerun = lfr(["apply", "manifests", "--auto-approve", "--force"], base_url)
            assert rerun.exit_code == 0, rerun.output
    assert duplicate_changes(emu) == []
    assert len(emu.mutations()) == records  # each record written exactly once, across runs
