"""Hostile CRM values, written to real records, come out neutralised (issue 7).

Someone with CRM access puts terminal escapes (clear screen, OSC 8 hyperlinks, 8-bit CSI),
bidi overrides and Markdown / HTML (an image with an onerror, a link, a table break, a fake
``lfr-plan`` marker, a closing ``</details>``) into an opportunity's text, a contact's name and
the field's history. ``lfr plan``, ``lfr drift`` and ``lfr apply`` must print them as inert
text: no control character reaches a terminal, no tag, link or table cell comes out of a value
in a PR comment. tests/plan/test_renderers.py covers the renderers on a hand-built plan; these
tests go through the API, the pipeline and the CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.render import markdown as markdown_render
from reconciler.render import text as text_render
from reconciler.runs.drift import explain_drift
from reconciler.runs.plan import run_plan
from tests.security.hostile import (
    HOSTILE,
    HOSTILE_FILE,
    HOSTILE_TEXT,
    assert_log_safe,
    assert_markdown_quiet,
)
from tests.support.cli import api, lfr
from tests.support.demo import ACME_COM, ACME_RENEWAL, ALEX, FULL_KEY, WriteManifest, opportunity

EVIL = (
    "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \u202etxt.exe "
    "<img src=x onerror=alert(1)> [click](https://evil.example) | *x* `code` "
    "</details> <!-- lfr-plan --> \x9b31m @everyone"
)
EVIL_FIRST = "<b>Eve</b>\x1b[31m"
EVIL_LAST = "[x](https://evil.example) | \u2066"
EVIL_EMAIL = "eve@hostile.example"
# Anything a terminal would act on: C0 except \n, DEL, C1, bidi embeddings/overrides/isolates.
TERMINAL_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
OUR_COLOURS = re.compile(r"\x1b\[(?:0|1|31|32|33)m")
OUR_TAGS = {
    "<!-- lfr-plan -->",
    "<!-- lfr-apply -->",
    "<!-- lfr-drift -->",
    "<details>",
    "</details>",
    "<summary>",
    "</summary>",
    "<b>",
    "</b>",
    "<sub>",
    "</sub>",
}


@pytest.fixture
def hostile(server: str, write: WriteManifest, manifest_dir: Path) -> Path:
    """Hostile values in a live record, its history and a related contact; a manifest that
    changes both, so they appear as "before" values, labels and history."""
    for value in (EVIL, "Send revised quote " + EVIL):  # two entries: drift shows "before that"
        api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$nextSteps": value}})
    api(
        "POST",
        server,
        "/v1/contacts",
        {
            "fields": {
                "$name": {"firstName": EVIL_FIRST, "lastName": EVIL_LAST},
                "$email": [EVIL_EMAIL],
            },
            "relationships": {"$account": ACME_COM},
        },
    )
    write(
        "acme.yaml",
        opportunity(
            "acme",
            ACME_RENEWAL,
            "fields:\n  $nextSteps: Legal review\n"
            f"relationships:\n  $contact: [{ALEX}, {{email: {EVIL_EMAIL}}}]",
        ),
    )
    return manifest_dir


def assert_terminal_safe(text: str, *, coloured: bool = False) -> None:
    if coloured:
        text = OUR_COLOURS.sub("", text)
    assert TERMINAL_CONTROL.findall(text) == [], text
    assert "\\u001b[2J" in text  # shown as an escape, not acted on


def assert_markdown_safe(text: str, marker: str) -> None:
    assert TERMINAL_CONTROL.findall(text) == []
    tags = set(re.findall(r"<[^<>]*>", text))
    assert tags <= OUR_TAGS, tags - OUR_TAGS
    assert text.count(marker) == 1
    assert text.count("<details>") == text.count("</details>")
    # No link syntax survives (a value's brackets are escaped), no tag.
    assert re.findall(r"(?<!\\)\]\((?!https://lightfield\.emulator\.invalid/)", text) == []
    assert "<img" not in text
    # Every table row keeps its cell count: a value's "|" is escaped, never a new cell.
    for block in re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE):
        rows = block.splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, rows


def test_plan_text_and_markdown_neutralise_hostile_crm_values(hostile: Path, server: str) -> None:
    plain = lfr(["plan", str(hostile), "--no-color"], server)
    assert plain.exit_code == 0, plain.output
    assert "Eve" in plain.stdout and "evil.example" in plain.stdout  # shown, as text
    assert_terminal_safe(plain.stdout)
    coloured = lfr(["plan", str(hostile), "--color"], server)
    assert_terminal_safe(coloured.stdout, coloured=True)
    markdown = lfr(["plan", str(hostile), "-f", "markdown"], server)
    assert markdown.exit_code == 0
    assert "Eve" in markdown.stdout
    assert_markdown_safe(markdown.stdout, "<!-- lfr-plan -->")


def test_drift_text_and_markdown_neutralise_values_and_history(hostile: Path, server: str) -> None:
    plain = lfr(["drift", str(hostile), "--no-color"], server)
    assert plain.exit_code == 2, plain.output
    assert "before that" in plain.stdout  # the hostile history entry is shown
    assert_terminal_safe(plain.stdout)
    markdown = lfr(["drift", str(hostile), "-f", "markdown"], server)
    assert markdown.exit_code == 2
    assert_markdown_safe(markdown.stdout, "<!-- lfr-drift -->")


def test_apply_output_neutralises_hostile_values_on_failure_and_success(
    hostile: Path, server: str, emu: Emulator
) -> None:
    emu.faults.configure(FaultConfig(rules=[FaultRule(action="status", method="POST", status=418)]))
    text = lfr(["apply", str(hostile), "--auto-approve", "--no-color"], server)
    assert text.exit_code == 1
    assert "failed" in text.stdout
    assert_terminal_safe(text.stdout)
    emu.faults.configure(FaultConfig())
    markdown = lfr(["apply", str(hostile), "--auto-approve", "-f", "markdown"], server)
    assert markdown.exit_code == 0, markdown.output
    # stdout holds the plan as text (checked above), then the markdown report.
    report = markdown.stdout[markdown.stdout.index("<!-- lfr-apply -->") :]
    assert_markdown_safe(report, "<!-- lfr-apply -->")
    applied = api("GET", server, f"/v1/opportunities/{ACME_RENEWAL}")
    assert applied["fields"]["$nextSteps"]["value"] == "Legal review"


def test_problem_annotations_cannot_smuggle_a_workflow_command(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    # YAML escapes put a newline, an escape sequence and a fake annotation into values that
    # problem messages quote.
    write(
        "bad.yaml",
        opportunity(
            "bad",
            ACME_RENEWAL,
            'fields:\n  region: "Mars\\n::error file=README.md,line=1::pwned\\e[2J"\n'
            '  $amount: "12k\\r\\n::warning::x"',
        ),
    )
    result = lfr(["plan", str(manifest_dir)], server, env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 2
    assert all(line.startswith("::error file=manifests/bad.yaml,line=") for line in commands)
    assert TERMINAL_CONTROL.findall(result.stdout + result.stderr) == []


@pytest.mark.anyio
async def test_history_stamps_from_a_hostile_api_are_neutralised_too(
    hostile: Path, server: str
) -> None:
    """Text the API itself supplies (a history entry's recordedAt), not only record values."""

    class HostileHistory(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if "/history" not in request.url.path:
                return response
            body = json.loads(await response.aread())
            for entry in body["data"]:
                entry["recordedAt"] = EVIL
            return httpx.Response(response.status_code, headers=response.headers, json=body)

    async with LightfieldClient(
        FULL_KEY, base_url=server, transport=HostileHistory(), rates=None
    ) as client:
        outcome = await run_plan(client, hostile, target="t")
        assert outcome.plan is not None, outcome.problems
        report = await explain_drift(client, outcome.plan)
    assert any(note.changed_at == EVIL for note in report.history.values())
    assert_terminal_safe(text_render.render_drift(report))
    assert_markdown_safe(markdown_render.render_drift(report), "<!-- lfr-drift -->")


# Issue 12: line breaks, workflow commands, mentions, code spans, invisible characters; the
# strings and checks are in tests/security/hostile.py, shared with the other commands' tests.


def test_no_data_breaks_a_line_starts_a_command_or_mentions_in_plan_and_drift(
    server: str, manifest_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hostile string as a live value, as its history ("before that") and as a related
    # contact's name (a label); the manifest that changes them sits in a hostile file name,
    # and the run is in its directory, so that name leads the paths shown.
    for value in (HOSTILE, " \t" + HOSTILE):
        api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$nextSteps": value}})
    contact = {"firstName": HOSTILE, "lastName": "\n::add-mask::last @octocat"}
    api(
        "POST",
        server,
        "/v1/contacts",
        {
            "fields": {"$name": contact, "$email": [EVIL_EMAIL]},
            "relationships": {"$account": ACME_COM},
        },
    )
    links = f"[{ALEX}, {{email: {EVIL_EMAIL}}}]"
    spec = f"fields: {{$nextSteps: Legal review}}\nrelationships: {{$contact: {links}}}"
    (manifest_dir / HOSTILE_FILE).write_text(opportunity("acme", ACME_RENEWAL, spec))
    monkeypatch.chdir(manifest_dir)
    for command, code in (("plan", 0), ("drift", 2)):
        for output in ("text", "markdown", "json"):
            result = lfr([command, ".", "-f", output, "--no-color"], server)
            assert result.exit_code == code, result.output
            assert "add-mask::lf" in result.stdout  # the value is shown, escaped
            assert_log_safe(f"{command} -f {output}", result.stdout + result.stderr)
            if output == "markdown":
                assert_markdown_quiet(f"{command} -f {output}", result.stdout)
                assert "@&#8203;octocat" in result.stdout
            if output == "json" and command == "plan":
                plan = json.loads(result.stdout)  # exact values, escaped as JSON
                assert plan["records"][0]["origin"]["file"] == HOSTILE_FILE
                assert plan["records"][0]["fields"][0]["before"] == " \t" + HOSTILE
    text = lfr(["drift", ".", "--no-color"], server).stdout
    assert "\\u200b" in text and "\\u00ad" in text  # zero-width characters are shown
    assert "\\n::add-mask::lf" in text


def test_no_data_breaks_a_line_or_starts_a_command_in_problems_and_annotations(
    server: str, manifest_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A problem line starts with the file name; the messages quote the values.
    spec = f"fields:\n  region: {json.dumps(HOSTILE)}\n  $amount: {json.dumps(' ::x' + HOSTILE)}"
    for name in (HOSTILE_FILE, "plain.yaml"):
        (manifest_dir / name).write_text(opportunity("bad", ACME_RENEWAL, spec), encoding="utf-8")
    monkeypatch.chdir(manifest_dir)
    for args in (["validate", "."], ["plan", "."]):
        result = lfr(args, server, env={"GITHUB_ACTIONS": "true"})
        assert result.exit_code == 1, result.output
        assert_log_safe(f"{args} stderr", result.stderr)
        assert_log_safe(f"{args} annotations", result.stdout, annotations=True)
        files = {line.split(",")[0] for line in result.stdout.splitlines() if line.startswith("::")}
        # The hostile name is shown as the text output shows it; an ordinary one is exact.
        hostile = "\\u003a%3Aadd-mask%3A%3Af`i``le @octocat\\n##\\u005berror]x\\u2028\\u200b y\\r"
        assert files == {
            f"::error file={hostile}%3A%3Awarning%3A%3Az.yaml",
            "::error file=plain.yaml",
        }, files
    # Outside GitHub Actions the text is the same: the renderers make it safe, not the guard.
    assert lfr(["plan", "."], server).stderr == result.stderr


def test_no_data_breaks_a_line_or_starts_a_command_in_apply_output(
    hostile_saved_plan: Path, server: str
) -> None:
    for output in ("text", "markdown", "json"):
        result = lfr(["apply", str(hostile_saved_plan), "--auto-approve", "-f", output], server)
        assert result.exit_code == 1, result.output
        assert "is not an ISO 8601" in result.stdout, (
            result.stderr
        )  # the API's message quotes the value
        # The plan goes to stderr with a machine format on stdout (the case of the job that
        # holds the write key), to stdout with text.
        assert "add-mask::lf" in (result.stderr if output != "text" else result.stdout)
        assert_log_safe(f"apply -f {output}", result.stdout + result.stderr)
        if output == "markdown":
            assert_markdown_quiet("apply -f markdown", result.stdout)
        if output == "json":
            report = json.loads(result.stdout)
            assert report["records"][0]["origin"]["file"] == HOSTILE_FILE
            assert "::add-mask::lead" in report["records"][0]["failure"]["message"]


def test_no_data_breaks_a_line_or_starts_a_command_in_apply_errors(
    hostile_saved_plan: Path, server: str
) -> None:
    # Stale: the error quotes the planned-from and the new CRM value.
    api(
        "POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$nextSteps": HOSTILE * 2}}
    )
    data = json.loads(hostile_saved_plan.read_text(encoding="utf-8"))
    stale = lfr(["apply", str(hostile_saved_plan), "--auto-approve"], server)
    assert stale.exit_code == 1
    assert "is stale" in stale.stderr
    assert_log_safe("apply stale saved plan", stale.stdout + stale.stderr)
    data["target"] = HOSTILE_TEXT  # another org: the error quotes it
    hostile_saved_plan.write_text(json.dumps(data), encoding="utf-8")
    elsewhere = lfr(["apply", str(hostile_saved_plan), "--auto-approve"], server)
    assert elsewhere.exit_code == 1
    assert "was planned against ::add-mask::lead \\t::stop-commands" in elsewhere.stderr
    assert_log_safe("apply saved plan of another target", elsewhere.stdout + elsewhere.stderr)
