"""Kill `lfr apply` at a write boundary of a 20-record plan (17 updates, 3 creates), re-run:
every run converges within 2 re-runs and no change is ever applied twice (issue 7).

A real ``lfr apply`` subprocess talks to a real uvicorn emulator through ``WriteGate``, a
test-side ASGI layer in front of the emulator app (no hook in lfr itself). The gate lets the
first k-1 writes through and stops at write k:

- ``before-send``: write k never reaches the emulator;
- ``after-send``: write k commits, its answer is never sent (the crash between commit and
  response);
- ``after-response``: write k commits and is answered;

then the test SIGKILLs the process; writes held at the gate are dropped. By default a few
boundaries run; ``pytest tests/reliability --slow`` runs all 60 (k = 1..20 × 3).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.cli import lfr
from tests.support.demo import opportunity
from tests.support.emulator import demo_emulator

from .conftest import is_slow
from .gate import WriteGate, kill_at_the_gate
from .harness import creates, duplicate_changes

PHASES = ("before-send", "after-send", "after-response")
RECORDS = 20
QUICK = [(1, "before-send"), (10, "after-send"), (20, "after-response")]
ACCOUNTS = ("Initech", "Hooli", "Globex")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "boundary" in metafunc.fixturenames:
        every = [(k, phase) for k in range(1, RECORDS + 1) for phase in PHASES]
        chosen = every if is_slow(metafunc.config) else QUICK
        metafunc.parametrize("boundary", chosen, ids=[f"write{k}-{p}" for k, p in chosen])


def manifests(directory: Path, ids: list[str]) -> None:
    directory.mkdir()
    for index, record_id in enumerate(ids):
        spec = f"fields:\n  priority: {index + 100}\n  competitor: Crash {index}"
        (directory / f"m{index:02d}.yaml").write_text(opportunity(f"m{index:02d}", record_id, spec))
    for index, account in enumerate(ACCOUNTS):
        (directory / f"new{index}.yaml").write_text(
            f"apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new{index}\n"
            f"  match: {{$name: Crash test {index}, $account: {{name: {account}}}}}\n"
            f"spec:\n  fields: {{$amount: {index + 1}000, $stage: Prospecting}}\n"
        )


def test_a_killed_apply_converges_within_two_reruns_with_no_duplicate_write(
    boundary: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k, phase = boundary
    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
    gate = WriteGate(emu.app, k, phase)
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "manifests"
    ids = [r["id"] for r in emu.records.list_records("org_demo", "opportunity", [])["data"]]
    manifests(directory, ids)
    assert len(ids) + len(ACCOUNTS) == RECORDS
    # The killed process talks to the emulator through the gate; the re-runs through a second
    # server on the same emulator, so nothing the dead process had in transit can land later.
    kill_at_the_gate(emu, gate, ["apply", "manifests", "--auto-approve", "--force"])
    # Leaving the gated server waited for every request it had taken: the count is final.
    expected = k if phase != "before-send" else k - 1
    assert len(emu.mutations()) == expected, f"the kill must land at write {k} ({phase})"
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        reruns = 0
        while lfr(["plan", "manifests", "--detailed-exitcode"], base_url).exit_code == 2:
            reruns += 1
            assert reruns <= 2, "did not converge within 2 re-runs"
            rerun = lfr(["apply", "manifests", "--auto-approve", "--force"], base_url)
            assert rerun.exit_code == 0, rerun.output
    assert duplicate_changes(emu) == []
    assert len(creates(emu)) == len(ACCOUNTS)
    assert len(emu.mutations()) == RECORDS  # each record written exactly once, across runs
