"""Hostile data through the commands beyond plan, drift and apply (issue 12's checks, extended).

``lfr show`` renders a fork's plan artifact; ``export`` and ``pin`` print file names and record
names taken from the CRM (and write files named after them); ``envs`` prints what a pull request
wrote into lfr.yaml; ``doctor`` prints what an API answered, and the API may be anything a
base URL points at. Each output is held to the same rules as plan's (tests/security/hostile.py):
no line break but our own, no workflow command, no invisible character, no mention in markdown.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.characters import REFUSED
from tests.security.hostile import (
    HOSTILE,
    HOSTILE_FILE,
    assert_log_safe,
    assert_markdown_quiet,
)
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, WriteManifest

# What a manifest may hold of the hostile strings (lines, commands, mentions, code spans):
# the loader refuses the invisible and control characters, so export leaves those out.
HOSTILE_MANIFEST = REFUSED.sub("", HOSTILE)


def test_show_renders_a_hostile_plan_artifact_inert(hostile_saved_plan: Path, server: str) -> None:
    for output in ("text", "markdown", "json"):
        result = lfr(["show", str(hostile_saved_plan), "-f", output, "--no-color"], server)
        assert result.exit_code == 0, result.output
        assert "add-mask::lf" in result.stdout  # the hostile before value is shown, escaped
        assert_log_safe(f"show -f {output}", result.stdout + result.stderr)
        if output == "markdown":
            assert_markdown_quiet("show -f markdown", result.stdout)
        if output == "json":
            (record,) = json.loads(result.stdout)["records"]
            assert record["origin"]["file"] == HOSTILE_FILE  # exact, escaped as JSON


def test_export_of_a_hostile_record_is_inert_and_stays_in_its_directory(
    server: str, manifest_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record's name picks the new manifest's file name; its text is written into it.
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$name": HOSTILE}})
    # C0 controls no manifest may hold: that value is left out (with a note); this one is kept.
    fields = {"$nextSteps": HOSTILE_MANIFEST}
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": fields})
    monkeypatch.chdir(manifest_dir.parent)
    shown = lfr(["export", "--id", ACME_RENEWAL, "--dry-run"], server)
    assert shown.exit_code == 0, shown.output
    assert "add-mask::lf" in shown.stdout  # the diff shows the value, escaped
    assert "field $name left out" in shown.stderr
    assert_log_safe("export --dry-run", shown.stdout + shown.stderr)
    assert list(manifest_dir.iterdir()) == []  # a dry run writes nothing

    written = lfr(["export", "--id", ACME_RENEWAL], server)
    assert written.exit_code == 0, written.output
    assert_log_safe("export", written.stdout + written.stderr)
    (path,) = [p for p in manifest_dir.rglob("*") if p.is_file()]
    assert path.parent == manifest_dir
    assert_log_safe("the exported file's name", path.name)
    assert "/" not in path.name and "::" not in path.name
    # The file holds the exact values: a plan right after is empty.
    plan = lfr(["plan", "manifests", "-f", "json"], server)
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["summary"]["update"] == 0


def test_pin_prints_hostile_names_inert(
    server: str, write: WriteManifest, manifest_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {"$name": HOSTILE_MANIFEST}
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": fields})
    # A match manifest under a hostile file name, selecting the record by its hostile name
    # (JSON's escapes are YAML's double-quoted ones).
    selector = "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: acme\n  match:\n"
    match = f"    $name: {json.dumps(HOSTILE_MANIFEST)}\n  onMissing: error\n"
    text = selector + match + "spec:\n  fields: {}\n"
    (manifest_dir / HOSTILE_FILE).write_text(text, encoding="utf-8")
    monkeypatch.chdir(manifest_dir.parent)
    for args in (["pin", "--dry-run"], ["pin"]):
        result = lfr(args, server)
        assert result.exit_code == 0, result.output
        assert ACME_RENEWAL in result.stdout
        assert_log_safe(" ".join(args), result.stdout + result.stderr)
    assert f"id: {ACME_RENEWAL}" in (manifest_dir / HOSTILE_FILE).read_text(encoding="utf-8")


def test_envs_prints_a_pull_requests_lfr_yaml_inert(tmp_path: Path, server: str) -> None:
    # Environment names are restricted; manifest paths are any text inside the directory.
    paths = json.dumps([HOSTILE_MANIFEST.replace("/", "_")])
    (tmp_path / "lfr.yaml").write_text(
        "version: 1\nenvironments:\n  prod:\n    api_key_env: LIGHTFIELD_PROD_KEY\n"
        f"    manifests: {{paths: {paths}}}\n",
        encoding="utf-8",
    )
    config = str(tmp_path / "lfr.yaml")
    table = lfr(["envs", "--config", config], server)
    assert table.exit_code == 0, table.output
    assert "add-mask::lf" in table.stdout
    assert_log_safe("envs", table.stdout + table.stderr)
    matrix = lfr(["envs", "--json", "--config", config], server)
    assert matrix.exit_code == 0, matrix.output
    assert_log_safe("envs --json", matrix.stdout)
    assert json.loads(matrix.stdout)[0]["manifests"] == [HOSTILE_MANIFEST.replace("/", "_")]


class _HostileApi(BaseHTTPRequestHandler):
    """An API that answers every probe with hostile text: an error body for most paths,
    definitions whose keys and value types are hostile, a hostile version header."""

    def do_GET(self) -> None:
        if self.path.startswith("/v1/opportunities/definitions"):
            fields = {
                HOSTILE: {"valueType": HOSTILE, "label": HOSTILE, "readOnly": False},
                "$name": {"valueType": "TEXT", "label": "Name", "readOnly": False},
            }
            self._send(200, {"fieldDefinitions": fields, "relationshipDefinitions": {}})
            return
        error = {"type": HOSTILE, "code": HOSTILE, "message": HOSTILE, "param": HOSTILE}
        self._send(400, {"error": error})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # Header values cannot break lines, but can carry commands and mentions.
        self.send_header("Lightfield-Version", "::add-mask::v @octocat")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_api() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostileApi)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_doctor_prints_what_a_hostile_api_answers_inert(hostile_api: str) -> None:
    result = lfr(["doctor"], hostile_api)
    assert result.exit_code == 1, result.output  # nothing lfr can work with
    assert "add-mask::lf" in result.stdout + result.stderr  # the API's text is shown, escaped
    assert_log_safe("doctor", result.stdout + result.stderr)
    assert "Traceback" not in result.output
