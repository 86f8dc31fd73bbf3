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


# A selector with keys: their live values are planned from too (selected_by), and stay out of
# the idempotency keys, so the re-run's writes not yet landed keep theirs.
OPEN_DEALS = EVERY_DEAL.replace("every-deal", "open-deals").replace("{all: true}", "{status: open}")
OPEN = "opt_01cwx3gsq49scb4qzwqqqp3z9"


@pytest.mark.parametrize(
    ("manifest", "boundary"),
    [
        (EVERY_DEAL, (1, "before-send")),
        (EVERY_DEAL, (9, "after-send")),
        (EVERY_DEAL, (17, "after-response")),
        (OPEN_DEALS, (1, "before-send")),
        (OPEN_DEALS, (7, "after-send")),
        (OPEN_DEALS, (13, "after-response")),
    ],
)
def test_a_killed_set_apply_converges_with_no_duplicate_write(
    manifest: str, boundary: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k, phase = boundary
    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
    deals = emu.records.list_records("org_demo", "opportunity", [])["data"]
    if manifest == OPEN_DEALS:
        deals = [d for d in deals if d["fields"]["$opportunityStatus"]["value"] == OPEN]
    records = len(deals)
    assert records == (17 if manifest == EVERY_DEAL else 13)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "every.yaml").write_text(manifest)
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
