"""The bad-input corpus (issue 7): every file in tests/data/bad is refused before any request,
with its expected ``file:line`` and message (tests/data/bad/expectations.json).

``needs_org`` files are wrong only against the org's definitions (an unknown select label, a
read-only key): the one request they may cost is ``GET /v1/opportunities/definitions``. Every
other file is refused before any request at all. Files with a ``secret`` (manifests trying to set
a base URL, headers or a key) must not have it echoed back in any message.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.loader import load_bytes
from reconciler.cli import app
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.render import github as github_render
from reconciler.render import text as text_render
from reconciler.runs.plan import Outcome, run_plan
from tests.support.demo import FULL_KEY
from tests.support.emulator import demo_emulator

REPO = Path(__file__).resolve().parents[2]
BAD = REPO / "tests" / "data" / "bad"
CASES: list[dict[str, Any]] = json.loads((BAD / "expectations.json").read_text())["files"]
DEFINITIONS = ("GET", "/v1/opportunities/definitions")


def test_the_corpus_is_complete() -> None:
    on_disk = sorted(p.name for p in BAD.iterdir() if p.name != "expectations.json")
    assert on_disk == sorted(case["file"] for case in CASES)
    assert len(CASES) >= 60


@pytest.fixture(scope="module")
def shared_emu() -> Emulator:
    """One emulator for the whole corpus (nothing here writes); logs are cleared per file."""
    return demo_emulator(rate_limits=RateLimitConfig(enabled=False))


def plan_file(emu: Emulator, path: Path) -> Outcome:
    async def go() -> Outcome:
        async with LightfieldClient.for_asgi_app(emu.app, FULL_KEY, rates=None) as client:
            return await run_plan(client, path, target="t")

    return asyncio.run(go())


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_each_bad_manifest_is_refused_with_file_line_and_message_before_any_request(
    case: dict[str, Any], shared_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # problems name the file as tests/data/bad/<name>
    shown = f"tests/data/bad/{case['file']}"
    emu = shared_emu
    emu.reset_logs()
    outcome = plan_file(emu, Path(shown))
    assert outcome.plan is None
    found = [(p.file, p.line, p.message) for p in outcome.problems]
    assert any(
        (file, line) == (shown, case["line"]) and case["message"] in message
        for file, line, message in found
    ), found
    sent = [(r["method"], r["path"]) for r in emu.requests()]
    assert sent == ([DEFINITIONS] if case["needs_org"] else [])
    rendered = text_render.render_problems(outcome.problems)
    annotations = github_render.render_problems(outcome.problems)
    # file:line, and the column where the problem is a character (a YAML syntax error).
    at = re.compile(rf"{re.escape(shown)}:{case['line']}(:\d+)?: ")
    assert at.search(rendered) or case["line"] == 0
    if "secret" in case:
        assert case["secret"] not in rendered + annotations


@pytest.mark.parametrize(
    "name", ["yaml-alias-bomb.yaml", "yaml-nesting-10k-flow.yaml", "yaml-nesting-10k-mappings.yaml"]
)
def test_resource_hazards_are_refused_within_50_mb(name: str) -> None:
    raw = (BAD / name).read_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = load_bytes(raw, name)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.documents == [] and result.problems
    assert peak < 50 * 1024 * 1024, f"{peak / 2**20:.1f} MiB"
    print(f"{name}: refused in {elapsed * 1000:.1f} ms, peak {peak / 2**20:.2f} MiB")


def test_the_cli_reports_every_problem_of_every_file_in_one_run_without_a_traceback(
    server: str, live_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": server})
    result = runner.invoke(app, ["plan", "tests/data/bad"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    # Every file's problem, offline or needing the org's definitions, in this one run: the
    # files that read and shaped well are checked against the org beside those that did not.
    for case in CASES:
        if case["line"]:
            at = re.compile(rf"tests/data/bad/{re.escape(case['file'])}:{case['line']}(:\d+)?: ")
            assert at.search(result.stderr), case
    assert result.stderr.rstrip().endswith("nothing was sent.")
    assert {r["method"] for r in live_emu.requests()} <= {"GET"}  # definitions, lookups: reads
