"""A JSON plan is written a line (a record) at a time, and reads exactly as it did when built
whole.

The stream is what ``lfr plan -f json``, ``--out`` and ``--report`` write; its bytes are held
to a golden document written by the renderer that built the whole text at once, and its memory
to a fraction of the document's size.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.core.plan import Plan
from reconciler.render import json as json_render
from tests.plan.test_renderers import PLAN, check_golden
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, WriteManifest, opportunity


def test_the_streamed_json_plan_is_the_document_it_always_was() -> None:
    check_golden("plan.json", "".join(json_render.stream_plan(PLAN)))
    check_golden("plan.json", json_render.render_plan(PLAN))
    empty = dataclasses.replace(PLAN, records=(), labels={})
    streamed = "".join(json_render.stream_plan(empty))
    assert '"records": [],' in streamed and json.loads(streamed)["records"] == []


def _large(copies: int) -> Plan:
    return dataclasses.replace(PLAN, records=PLAN.records * copies)


def test_a_large_json_plan_is_never_held_whole() -> None:
    plan = _large(700)  # 2,100 records, ~3 MB of JSON
    size = len(json_render.render_plan(plan))
    tracemalloc.start()
    try:
        written = pieces = 0
        for piece in json_render.stream_plan(plan):
            written += len(piece)
            pieces += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == size
    assert pieces > len(plan.records)  # a piece a record, at least
    assert all(piece.endswith("\n") for piece in json_render.stream_plan(plan))  # lines whole
    # Built whole, the text alone (and the records' dicts before it) would exceed the size.
    assert peak < size / 10, (peak, size)


def test_plan_json_on_stdout_in_out_and_in_report_is_the_same_document(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 135000"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 75000"))
    saved, report = tmp_path / "plan.json", tmp_path / "report.json"
    runner = CliRunner(
        env={"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": server, "CI": None}
    )
    args = ["plan", str(manifest_dir), "-f", "json", "--out", str(saved), "--report", str(report)]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert saved.read_text(encoding="utf-8") == report.read_text(encoding="utf-8") == result.stdout
    assert json.loads(result.stdout)["summary"] == {"create": 0, "update": 1, "noop": 1}


def test_an_unwritable_report_fails_before_anything_is_printed(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 135000"))
    runner = CliRunner(
        env={"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": server, "CI": None}
    )
    missing = tmp_path / "no-such-dir" / "report.json"
    args = ["plan", str(manifest_dir), "-f", "json", "--report", str(missing)]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Error: cannot write" in result.stderr


def test_an_ascii_record_skips_the_character_class_and_the_rest_is_still_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unsafe = json_render._UNSAFE
    searched: list[str] = []

    class Counting:
        def search(self, text: str) -> re.Match[str] | None:
            searched.append(text)
            return unsafe.search(text)

        def sub(self, replace: Callable[[re.Match[str]], str], text: str) -> str:
            return unsafe.sub(replace, text)

    monkeypatch.setattr(json_render, "_UNSAFE", Counting())
    assert json_render.render_line({"name": "acme", "n": 1}) == '{"name": "acme", "n": 1}'
    assert searched == []  # an all-ASCII text is not searched for invisible characters
    # What the ASCII path lets through is only what json.dumps leaves harmless.
    assert json_render.render_line("a\x7fb") == '"a\\u007fb"'
    assert json_render.render_line("x ##[group]y") == '"x ##\\u005bgroup]y"'
    assert json_render.render_line("a\x1bb\nc") == '"a\\u001bb\\nc"'
    assert json_render.render_line("a\u2028b\u200bc") == '"a\\u2028b\\u200bc"'
    assert json_render.render_line("café") == '"café"'
