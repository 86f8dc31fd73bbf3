"""The canary key scan (issue 7): one key, used across a whole run of CLI scenarios with DEBUG
logging on (httpx, httpcore, uvicorn, reconciler) and every error path we can force, appears
nowhere: not in stdout, stderr, log records (message, args or any attribute), tracebacks, plan
files, markdown reports, GitHub annotations, the emulator's logs, or at the other host a
redirect pointed to.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner, Result

from reconciler.adapters.client import API_VERSION
from reconciler.adapters.http import EXCERPT
from reconciler.cli import app
from reconciler.core.redact import MIN_FRAGMENT
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.seed import DEMO_ORG, READ_SCOPES
from tests.support.client import shown_key_runs
from tests.support.demo import ACME_RENEWAL, NINA, opportunity

from .harness import collector, write_manifests

CANARY = "sk_lf_canary_3f9b1c7d5e2a4086"
CANARY_READ = "sk_lf_canary_read_9e8d7c6b5a41"
CANARY_REVOKED = "sk_lf_canary_revoked_0c1d2e3f"
CANARIES = (CANARY, CANARY_READ, CANARY_REVOKED)
LOGGERS = ("httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access", "reconciler")
POST = "POST"


class Transcript:
    """Everything a run showed anyone, in one place to scan."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.runs = 0

    def add(self, what: str, text: str) -> None:
        self.texts.append((what, text))

    def run(
        self,
        args: list[str],
        base_url: str | None,
        key: str | None = CANARY,
        *,
        env: dict[str, str | None] | None = None,
        stdin: str | None = None,
    ) -> Result:
        base = {"LIGHTFIELD_API_KEY": key, "LIGHTFIELD_BASE_URL": base_url, "CI": None}
        result = CliRunner(env=base | (env or {})).invoke(app, args, input=stdin)
        self.runs += 1
        self.add(f"stdout of {args}", result.stdout)
        self.add(f"stderr of {args}", result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            self.add(f"traceback of {args}", "".join(traceback.format_exception(exc)))
            self.add(f"repr of {args}", repr(exc))
        return result

    def leaks(self) -> list[str]:
        return [
            f"{what}: {canary}"
            for what, text in self.texts
            for canary in CANARIES
            if canary in text
        ]


@pytest.fixture
def transcript(caplog: pytest.LogCaptureFixture, live_emu: Emulator) -> tuple[Transcript, Emulator]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    live_emu.add_key(DEMO_ORG, CANARY, [])
    live_emu.add_key(DEMO_ORG, CANARY_READ, list(READ_SCOPES))
    return Transcript(), live_emu


def test_the_canary_key_appears_nowhere(
    transcript: tuple[Transcript, Emulator],
    server: str,
    manifest_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t, emu = transcript
    write_manifests(manifest_dir)
    d = str(manifest_dir)
    plan_file = tmp_path / "plan.json"

    def faults(*rules: FaultRule) -> None:
        emu.faults.configure(FaultConfig(rules=list(rules)))

    # Reading: every format, a saved plan, validate, whoami, drift, the key given as a flag.
    assert t.run(["whoami"], server).exit_code == 0
    assert t.run(["whoami", "--api-key", CANARY], server, key=None).exit_code == 0
    assert t.run(["validate", d], server).exit_code == 0
    for fmt in ("text", "markdown", "json"):
        assert t.run(["plan", d, "-f", fmt], server).exit_code == 0
    assert t.run(["plan", d, "--out", str(plan_file)], server, CANARY_READ).exit_code == 0
    assert t.run(["drift", d, "-f", "markdown"], server, CANARY_READ).exit_code == 2
    # Refusals: a read-only key, a revoked key, unsafe base URLs, a key that cannot be sent.
    assert t.run(["apply", d, "--auto-approve"], server, CANARY_READ).exit_code == 1
    assert t.run(["apply", str(plan_file), "--auto-approve"], server, CANARY_READ).exit_code == 1
    assert t.run(["whoami"], server, CANARY_REVOKED).exit_code == 1
    assert t.run(["plan", d], "http://example.com").exit_code == 1
    assert t.run(["plan", d], "https://user:pw@example.com").exit_code == 1
    assert t.run(["whoami"], server, CANARY + " trailing-junk").exit_code == 1
    assert t.run(["apply", d], server, stdin="no\n").exit_code == 1
    # Writing through faults: retries, damaged answers, a stop, a redirect elsewhere, a 422.
    with collector() as (elsewhere, seen):
        faults(
            FaultRule(action="status", method=POST, status=503, retry_after=0.01, times=2),
            FaultRule(action="commit_then_drop", method=POST, times=1),
            FaultRule(action="malformed_body", method=POST, times=1),
            FaultRule(
                action="redirect",
                method=POST,
                status=307,
                path=f"/v1/opportunities/{ACME_RENEWAL}",
                location=f"{elsewhere}/steal",
                times=1,
            ),
        )
        assert t.run(["apply", d, "--auto-approve", "-f", "markdown"], server).exit_code == 1
        faults(FaultRule(action="redirect", status=302, location=f"{elsewhere}/steal", times=1))
        assert t.run(["plan", d], server).exit_code == 1
        t.add("the other host", json.dumps(seen, default=repr))
        assert seen == []
    faults()
    assert t.run(["apply", d, "--auto-approve", "-f", "json"], server).exit_code == 0
    (manifest_dir / "acme.yaml").write_text(
        opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 7\n  priority: 12k")
    )
    annotated = t.run(["plan", d], server, env={"GITHUB_ACTIONS": "true"})
    assert annotated.exit_code == 1 and "::error file=" in annotated.stdout
    (manifest_dir / "acme.yaml").write_text(
        opportunity(
            "acme", ACME_RENEWAL, f"fields:\n  $amount: 8\nrelationships:\n  $champion: {NINA}"
        )
    )
    faults(FaultRule(action="status", method=POST, status=429, retry_after=0.01, times=None))
    assert t.run(["apply", d, "--auto-approve"], server).exit_code == 1  # budget exhausted
    faults()
    # A 422 (the plan refuses a missing id itself): the champion is trashed after the plan.
    saved = tmp_path / "champion.json"
    assert t.run(["plan", d, "--out", str(saved)], server).exit_code == 0
    headers = {"Authorization": f"Bearer {CANARY}", "Lightfield-Version": API_VERSION}
    assert httpx.delete(f"{server}/v1/contacts/{NINA}", headers=headers).status_code == 200
    rejected = t.run(["apply", str(saved), "--auto-approve", "-f", "markdown"], server)
    assert rejected.exit_code == 1 and "relationship_entity_inactive" in rejected.stdout
    # Everything written to disk, every log record in every form, the emulator's own logs.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            t.add(str(path), path.read_text(encoding="utf-8", errors="replace"))
    t.add("log text", caplog.text)
    for record in caplog.records:
        t.add(f"log record {record.name}", record.getMessage() + repr(record.__dict__))
    t.add("emulator request log", json.dumps(emu.requests(), default=repr))
    t.add("emulator mutation log", json.dumps(emu.mutations(), default=repr))

    assert {r.name.split(".")[0] for r in caplog.records} >= {"httpcore", "httpx", "reconciler"}
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert t.leaks() == []
    scanned = sum(len(text) for _, text in t.texts)
    print(f"canary: {t.runs} CLI runs, {len(caplog.records)} log records, {scanned} chars, 0 leaks")


# --- a server that echoes the key it was sent ------------------------------------------------


def _percent(text: str) -> str:
    return "".join(f"%{ord(c):02X}" for c in text)


OTHER_ORG_KEY = "sk_lf_other_org_5c4b3a2918"
# How a proxy or a debugging backend might answer with the Authorization it received.
ECHO_PAGES: list[Callable[[str], tuple[int, str, str]]] = [
    lambda k: (401, "text/html", f"<html><body><p>Invalid key {k}</p></body></html>"),
    lambda k: (401, "text/html", f"<p>{'x' * (EXCERPT - len(k))} {k}</p>"),  # across the cut
    lambda k: (403, "text/html", f"<p>{'y' * (EXCERPT - 10)} {k.upper()}</p>"),
    lambda k: (401, "text/plain", f"Authorization: Bearer {k[:-1]}"),
    lambda k: (401, "text/plain", f"token={k[3:]}; other={OTHER_ORG_KEY}"),
    lambda k: (400, "text/plain", f"GET /v1/auth/validate?key={_percent(k)}"),
    lambda k: (400, "text/plain", f"GET /v1/auth/validate?key={quote(_percent(k), safe='')}"),
    lambda k: (
        403,
        "application/json",
        json.dumps(
            {
                "error": {
                    "type": "forbidden",
                    "message": f"Key {k.upper()} lacks a scope",
                    "code": k[: MIN_FRAGMENT + 2],
                    "param": quote(k.replace("_", "%5F")),
                    "seen": {k: [k.lower(), OTHER_ORG_KEY.upper()]},
                }
            }
        ),
    ),
    lambda k: (404, "application/json", json.dumps({"type": "not_found", "message": k})),
    lambda k: (502, "text/html", f"<h1>Bad gateway</h1><pre>{k}</pre>"),
]


class _Echo(http.server.BaseHTTPRequestHandler):
    answered: list[int]

    def do_GET(self) -> None:
        key = self.headers.get("authorization", "").removeprefix("Bearer ")
        status, content_type, body = ECHO_PAGES[len(self.answered) % len(ECHO_PAGES)](key)
        self.answered.append(status)
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("x-should-retry", "false")  # one answer per run, no waiting
        # No echo in a response header: lfr shows none, but httpcore's own DEBUG trace logs
        # them verbatim (a limit of the log scan here, not of lfr's output).
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


@contextmanager
def echo_server() -> Iterator[tuple[str, list[int]]]:
    """A loopback server answering every GET with the next ECHO_PAGES page built around the
    key it received, as a real echoing proxy would."""
    answered: list[int] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Echo", (_Echo,), {"answered": answered})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answered
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_echoing_the_canary_gets_it_shown_nowhere(
    manifest_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    write_manifests(manifest_dir)
    t = Transcript()
    commands = [["whoami"], ["plan", "manifests"], ["validate", "manifests"]]
    with echo_server() as (base_url, answered):
        for command in commands:
            for _ in ECHO_PAGES:
                result = t.run(command, base_url)
                assert result.exit_code == 1, result.output
                assert result.stderr.count("Error: ") == 1, result.stderr
    assert len(answered) == len(commands) * len(ECHO_PAGES)  # every page was served once
    t.add("log text", caplog.text)
    for record in caplog.records:
        t.add(f"log record {record.name}", record.getMessage() + repr(record.__dict__))
    shown = "\n".join(text for _, text in t.texts)
    assert "sk_lf_…" in shown  # the echoes arrived, and were replaced
    assert shown_key_runs(shown, (CANARY, OTHER_ORG_KEY)) == []
    assert t.leaks() == []
    print(f"canary echoes: 0 leaks in {len(answered)} echoing answers over {t.runs} CLI runs")
