"""Ctrl-C during apply, with a real `lfr apply` process against a served emulator with latency:
results stream as records complete; the first SIGINT lets the writes in flight finish, starts
no new one, reports applied / in flight / not attempted and exits 130; a second SIGINT exits at
once; no answer at the prompt (`</dev/null`) and Ctrl-C at it both cancel in plain words."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig
from tests.support.cli import api
from tests.support.demo import ACME_RENEWAL, FULL_KEY, WriteManifest, opportunity

RECORDS = 60
# Far longer than the test needs; reached only when lfr hangs.
PATIENCE = 60.0


class Lfr:
    """`lfr ARGS` as a child process, its output collected as it comes."""

    def __init__(self, args: list[str], server: str, stdin: int | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
        env.update(LIGHTFIELD_API_KEY=FULL_KEY, LIGHTFIELD_BASE_URL=server, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", *args],
            stdin=subprocess.PIPE if stdin is None else stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        assert stream is not None
        while chunk := stream.read1(4096):  # type: ignore[attr-defined]
            into.append(chunk.decode())

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + PATIENCE
        while not condition():
            assert self.process.poll() is None, (self.stdout, self.stderr)
            assert time.monotonic() < deadline, (self.stdout, self.stderr)
            time.sleep(0.01)

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self) -> int:
        code = self.process.wait(timeout=PATIENCE)
        for reader in self._readers:
            reader.join()
        return code


@pytest.fixture
def many(emu: Emulator, write: WriteManifest, manifest_dir: Path, server: str) -> Iterator[Path]:
    """RECORDS manifests, each raising one record's amount; every request takes 400 ms."""
    emu.seed_bulk(opportunities=RECORDS)
    listed = api("GET", server, "/v1/opportunities?limit=25")["data"]
    listed += api("GET", server, "/v1/opportunities?limit=25&offset=25")["data"]
    listed += api("GET", server, "/v1/opportunities?limit=25&offset=50")["data"]
    for index, record in enumerate(listed[:RECORDS]):
        write(
            f"m{index:02}.yaml", opportunity(f"m{index:02}", record["id"], "fields:\n  $amount: 7")
        )
    emu.faults.configure(FaultConfig(latency_ms=400))
    yield manifest_dir
    emu.faults.configure(FaultConfig())


@pytest.mark.parametrize(
    "mode",
    [["--max-change", "1"], ["--force"]],
    ids=["writes after the whole plan", "writes while the plan reads"],
)
def test_first_ctrl_c_lets_writes_in_flight_finish_and_reports_what_was_not_attempted(
    mode: list[str], many: Path, server: str, emu: Emulator
) -> None:
    run = Lfr(["apply", str(many), "--auto-approve", "--no-color", *mode], server)
    # Results stream: the first record's line is out before the run ends.
    run.wait_for(lambda: "✓ " in run.stdout)
    run.interrupt()
    assert run.finish() == 130, (run.stdout, run.stderr)
    assert "Interrupted: no new writes start; letting the" in run.stderr
    assert "(sent, or queued for the write rate) finish" in run.stderr
    applied_lines = [line for line in run.stdout.splitlines() if line.startswith("✓ ")]
    not_attempted = [line for line in run.stdout.splitlines() if line.startswith("· ")]
    stopped = re.search(
        r"Interrupted: (\d+) applied; (\d+) were in flight and were let finish; "
        r"(\d+) not attempted(; the rest of the plan was not read)?\. Run `lfr plan` to see "
        r"what is left",
        run.stdout,
    )
    assert stopped is not None, run.stdout
    applied, in_flight, skipped = map(int, stopped.groups()[:3])
    assert applied == len(applied_lines) and skipped == len(not_attempted)
    assert in_flight > 0 and applied < RECORDS
    if mode == ["--force"]:
        assert stopped.group(4) is not None
    else:
        assert skipped > 0 and applied + skipped == RECORDS
    # What the report says landed is exactly what the API received.
    writes = [r for r in emu.requests() if r["method"] == "POST"]
    assert len(writes) == applied
    assert f"Apply: {applied} applied, {skipped} not attempted." in run.stdout


def test_a_second_ctrl_c_exits_at_once(many: Path, server: str) -> None:
    run = Lfr(["apply", str(many), "--auto-approve", "--force", "--no-color"], server)
    run.wait_for(lambda: "✓ " in run.stdout)
    run.interrupt()
    run.wait_for(lambda: "Interrupted: no new writes start" in run.stderr)
    run.interrupt()
    assert run.finish() == 130
    assert "Interrupted again: exiting now." in run.stderr
    assert "Apply:" not in run.stdout  # no report: it did not wait for the writes in flight


def test_ctrl_c_at_the_prompt_cancels_in_plain_words(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 1"))
    run = Lfr(["apply", str(manifest_dir)], server)
    run.wait_for(lambda: "Only 'yes' is accepted:" in run.stdout)
    run.interrupt()
    assert run.finish() == 130
    assert "Apply cancelled (interrupted); nothing was sent." in run.stderr
    assert "Aborted" not in run.stdout + run.stderr


def test_apply_with_no_input_refuses_as_clearly_as_ctrl_c(
    write: WriteManifest, manifest_dir: Path, server: str, emu: Emulator
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 1"))
    run = Lfr(["apply", str(manifest_dir)], server, stdin=subprocess.DEVNULL)
    assert run.finish() == 1
    assert run.stderr.splitlines()[-1] == (
        "Apply cancelled (no answer: stdin is closed; pass --auto-approve to apply without "
        "asking); nothing was sent."
    )
    assert "Aborted" not in run.stdout + run.stderr
    assert [r for r in emu.requests() if r["method"] == "POST"] == []
