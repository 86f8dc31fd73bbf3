"""One measured run of each kind: ``lfr plan``, ``lfr drift``, ``lfr export --all``, the SDK
baselines, ``lfr apply``, the core, the emulator's own throughput.

Owns how a run is timed and checked: every command runs as a subprocess (startup included,
as a user sees it), the emulator's logs are reset before and read after, and each run checks
its own result (the plan's summary, the baseline's count of differing records, every write
applied) so a figure is never reported for a run that did the wrong thing. Before every
rate-limited run it waits until the emulator's token buckets are full again, so runs do not
inherit each other's debt. Called by reads.py, applies.py
and cpu_bound.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .emulator_process import EmulatorProcess, lfr_command

READ_KEY = "sk_lf_demo_read"
FULL_KEY = "sk_lf_demo_full"
API_VERSION = "2026-03-01"
RATE = 25.0  # the emulator's requests per second (and bucket capacity) per category
REFILL_MARGIN_SECONDS = 0.05
RUN_TIMEOUT_SECONDS = 900.0
BENCHMARKS_DIR = Path(__file__).resolve().parent


class BenchmarkError(RuntimeError):
    """A run did not do what it was supposed to do; its figures would be meaningless."""


@dataclass
class Requests:
    """Requests one run sent, per rate category, from the emulator's request log."""

    read: int = 0
    search: int = 0
    write: int = 0
    rate_limited: int = 0  # 429 answers
    write_span: float = 0.0  # seconds from the first write's arrival to the last one's

    @classmethod
    def from_log(cls, entries: list[dict[str, Any]]) -> Requests:
        counts = Counter(str(e.get("category")) for e in entries)
        writes = [float(e["at"]) for e in entries if e.get("category") == "write"]
        return cls(
            read=counts["read"],
            search=counts["search"],
            write=counts["write"],
            rate_limited=sum(1 for e in entries if e.get("status") == 429),
            write_span=max(writes) - min(writes) if writes else 0.0,
        )

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "search": self.search, "write": self.write}

    def text(self) -> str:
        return f"read {self.read}, search {self.search}, write {self.write}"


@dataclass
class Run:
    wall: float
    requests: Requests = field(default_factory=Requests)
    details: dict[str, Any] = field(default_factory=dict)


class Pacer:
    """Waits, before a rate-limited run, until the server's buckets have refilled: a bucket
    is short of at most as many tokens as the previous run took from it (capacity 25), and
    gets them back at 25 per second."""

    def __init__(self) -> None:
        self._last_end = 0.0
        self._debt = 0.0  # seconds the busiest bucket needs to be full again

    def ready(self) -> None:
        wait = self._debt - (time.monotonic() - self._last_end)
        if wait > 0:
            time.sleep(wait)

    def done(self, requests: Requests | None = None) -> None:
        self._last_end = time.monotonic()
        used = max(requests.as_dict().values()) if requests is not None else RATE
        self._debt = min(used, RATE) / RATE + REFILL_MARGIN_SECONDS


def _env(emu: EmulatorProcess, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "CI")}
    env.update(LIGHTFIELD_API_KEY=key, LIGHTFIELD_BASE_URL=emu.base_url)
    return env


def _timed(
    command: list[str], *, cwd: Path, env: dict[str, str], exit_code: int = 0
) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - fixed argv
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS
    )
    wall = time.perf_counter() - started
    if result.returncode != exit_code:
        raise BenchmarkError(
            f"{' '.join(command[:3])} exited {result.returncode}:\n"
            f"{result.stdout[-1500:]}\n{result.stderr[-1500:]}"
        )
    return wall, result.stdout


def lfr_startup(cwd: Path) -> float:
    """Wall time of ``lfr version``: the interpreter and imports every lfr command pays."""
    wall, _ = _timed([*lfr_command(), "version"], cwd=cwd, env=dict(os.environ))
    return wall


def lfr_plan(
    emu: EmulatorProcess, workdir: Path, pacer: Pacer, *, managed: int, differing: int
) -> Run:
    """``lfr plan manifests`` in ``workdir``; checks the summary line."""
    pacer.ready()
    emu.reset_logs()
    wall, out = _timed([*lfr_command(), "plan", "manifests"], cwd=workdir, env=_env(emu, READ_KEY))
    requests = Requests.from_log(emu.requests())
    pacer.done(requests)
    expected = f"Plan: 0 to create, {differing} to update, {managed - differing} unchanged."
    if expected not in out:
        raise BenchmarkError(f"lfr plan in {workdir}: expected {expected!r}, got:\n{out[-800:]}")
    return Run(wall, requests)


def lfr_set_plan(emu: EmulatorProcess, workdir: Path, pacer: Pacer) -> Run:
    """``lfr plan manifests`` of a workdir holding one ``OpportunitySet``; how many records it
    changes is read from the summary (``details["updates"]``): a set's size is what it matches."""
    pacer.ready()
    emu.reset_logs()
    wall, out = _timed([*lfr_command(), "plan", "manifests"], cwd=workdir, env=_env(emu, READ_KEY))
    requests = Requests.from_log(emu.requests())
    pacer.done(requests)
    found = re.search(r"Plan: 0 to create, (\d+) to update, 0 unchanged\.", out)
    if found is None:
        raise BenchmarkError(f"lfr plan of a set in {workdir}: no summary in:\n{out[-800:]}")
    return Run(wall, requests, {"updates": int(found.group(1))})


def lfr_drift(
    emu: EmulatorProcess, workdir: Path, pacer: Pacer, *, managed: int, differing: int
) -> Run:
    """``lfr drift manifests`` in ``workdir`` (exit 2: drift); checks the summary line and
    counts the history reads."""
    pacer.ready()
    emu.reset_logs()
    command = [*lfr_command(), "drift", "manifests"]
    wall, out = _timed(command, cwd=workdir, env=_env(emu, READ_KEY), exit_code=2)
    entries = emu.requests()
    requests = Requests.from_log(entries)
    pacer.done(requests)
    expected = f"Drift: {differing} drifted, {managed - differing} in sync."
    if expected not in out:
        raise BenchmarkError(f"lfr drift in {workdir}: expected {expected!r}, got:\n{out[-800:]}")
    history = sum(1 for e in entries if str(e.get("path", "")).endswith("/history"))
    return Run(wall, requests, {"history": history})


def lfr_export(emu: EmulatorProcess, workdir: Path, pacer: Pacer, *, records: int) -> Run:
    """``lfr export --all --dir exported`` in an empty ``workdir``; checks that every live
    opportunity was written, each once."""
    pacer.ready()
    emu.reset_logs()
    command = [*lfr_command(), "export", "--all", "--dir", "exported"]
    wall, out = _timed(command, cwd=workdir, env=_env(emu, READ_KEY))
    requests = Requests.from_log(emu.requests())
    pacer.done(requests)
    expected = f"Export: {records} records; files: {records} created, 0 updated, 0 unchanged."
    if expected not in out:
        raise BenchmarkError(f"lfr export in {workdir}: expected {expected!r}, got:\n{out[-800:]}")
    return Run(wall, requests)


def sdk_baseline(
    emu: EmulatorProcess,
    workdir: Path,
    pacer: Pacer,
    *,
    managed: int,
    differing: int,
    mode: str = "list",
) -> Run:
    """benchmarks/baseline.py (``list``: paging the list; ``per-record``: a retrieve each) over
    the same manifests; checks it found the same differences."""
    pacer.ready()
    emu.reset_logs()
    command = [sys.executable, str(BENCHMARKS_DIR / "baseline.py"), mode, "manifests"]
    wall, out = _timed(command, cwd=workdir, env=_env(emu, READ_KEY))
    requests = Requests.from_log(emu.requests())
    pacer.done(requests)
    found = json.loads(out.strip().splitlines()[-1])
    if (found["records"], found["differing"]) != (managed, differing):
        raise BenchmarkError(
            f"SDK baseline in {workdir}: expected {managed} records, {differing} differing; "
            f"got {found}"
        )
    return Run(wall, requests, found)


def lfr_apply(
    emu: EmulatorProcess, workdir: Path, pacer: Pacer, *, updates: int, force: bool = True
) -> Run:
    """``lfr apply --auto-approve --force manifests`` (without ``force``: ``--max-change 1``
    instead, so the whole plan is made and shown before the first write); counts duplicate
    writes in the mutation log (a record changed more than once, where each was planned to
    change once)."""
    pacer.ready()
    emu.reset_logs()
    rail = ["--force"] if force else ["--max-change", "1"]
    command = [*lfr_command(), "apply", "manifests", "--auto-approve", *rail]
    wall, out = _timed(command, cwd=workdir, env=_env(emu, FULL_KEY))
    requests = Requests.from_log(emu.requests())
    pacer.done(requests)
    if f"Apply: {updates} applied." not in out:
        raise BenchmarkError(f"lfr apply in {workdir}: expected {updates} applied:\n{out[-800:]}")
    per_record = Counter(
        m["record_id"] for m in emu.mutations() if m.get("object_type") == "opportunity"
    )
    if len(per_record) != updates:
        raise BenchmarkError(f"lfr apply changed {len(per_record)} records, not {updates}")
    duplicates = sum(count - 1 for count in per_record.values())
    return Run(wall, requests, {"duplicates": duplicates})


def core(directory: Path) -> Run:
    """benchmarks/core.py in a fresh process (so its peak RSS is its own)."""
    command = [sys.executable, str(BENCHMARKS_DIR / "core.py"), str(directory)]
    _, out = _timed(command, cwd=directory, env=dict(os.environ))
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return Run(float(result["seconds"]), details=result)


# --- the emulator's own throughput -------------------------------------------------------------


async def _connection(host: str, port: int, requests: list[bytes]) -> None:
    """Send ``requests`` one after the other on one keep-alive connection, reading each answer
    (status line, headers, ``Content-Length`` body). A bare client, so that what is measured is
    the server: an httpx client spends more CPU per request than the emulator does."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            if status != 200:
                raise BenchmarkError(f"throughput: HTTP {status}: {body[:200]!r}")
    finally:
        writer.close()
        await writer.wait_closed()


async def _hammer(base_url: str, paths: list[str], concurrency: int) -> float:
    """GET every path over ``concurrency`` keep-alive connections; requests per second."""
    host, port = base_url.removeprefix("http://").split(":")
    requests = [
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {READ_KEY}\r\nLightfield-Version: {API_VERSION}\r\n\r\n"
        ).encode()
        for path in paths
    ]
    shares = [requests[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, int(port), share) for share in shares))
    return len(paths) / (time.perf_counter() - started)


def throughput(
    emu: EmulatorProcess, ids: list[str], *, reads: int, pages: int, concurrency: int = 8
) -> dict[str, float]:
    """Requests per second the emulator serves with limits and latency off: retrieves by id
    (Read) and full list pages of 25 (Search), over keep-alive connections on loopback."""
    read_paths = [f"/v1/opportunities/{ids[i % len(ids)]}" for i in range(reads)]
    last_offset = max(1, len(ids) - 25)
    page_paths = [
        f"/v1/opportunities?limit=25&offset={(i * 25) % last_offset}" for i in range(pages)
    ]
    result = {
        "read": asyncio.run(_hammer(emu.base_url, read_paths, concurrency)),
        "search": asyncio.run(_hammer(emu.base_url, page_paths, concurrency)),
    }
    emu.reset_logs()
    return result
