"""A saved plan's review (``policy``, ``impact``) as hostile as a fork's artifact can make it,
rendered by ``lfr show`` in every format (issue 18): each string of it (rule messages, record
and deal names, origins, stage and owner labels, the currency) reaches the output inert, by the
same rules as plan's (tests/security/hostile.py), and no label breaks out of the Mermaid chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconciler.core.impact import NO_AMOUNT, NOT_IN_MANIFEST
from tests.security import hostile
from tests.security.hostile import HOSTILE_TEXT, assert_log_safe, assert_markdown_quiet
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, INITECH, PRIYA, WriteManifest, opportunity

# A saved plan refuses control characters outside CRM values: the rest of the hostile strings,
# plus what would end a Mermaid node or edge, start a directive or close the code fence.
MERMAID = 'Won"] --> x["pwn"]\nclick s0 "javascript:alert(1)"\n```\n%%{init}%% <x-evil>'
EVIL = f"{HOSTILE_TEXT}\n::set-output name=x::y\n# heading *bold* [link](https://e.x) {MERMAID}"


def a_hostile_saved_review(manifest_dir: Path, write: WriteManifest, server: str) -> Path:
    """A real plan with a violation and an impact, then every string of its review (and the
    labels its stages and owner are named by) made hostile, consistently, as anyone can."""
    (manifest_dir.parent / "lfr.yaml").write_text(
        "version: 1\npolicies:\n  - rule: amount-change\n    severity: warn\n"
        "    max_change: 10000\n",
        encoding="utf-8",
    )
    won = "fields:\n  $stage: Closed Won\n  $amount: 135000"
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, won))
    spec = f"fields:\n  $stage: Proposal\n  $amount: 80000\nrelationships:\n  $owner: {PRIYA}"
    write("initech.yaml", opportunity("initech", INITECH, spec))
    saved = manifest_dir.parent / "plan.json"
    made = lfr(["plan", "--out", str(saved)], server)
    assert made.exit_code == 0, made.output
    data = json.loads(saved.read_text(encoding="utf-8"))
    impact, (violation,) = data["impact"], data["policy"]["violations"]
    assert impact["flows"] and impact["stages"] and impact["owners"] and impact["won"]
    violation.update(message=EVIL, record=EVIL, origin={"file": EVIL, "line": 3})
    for stage in impact["stages"]:
        data["labels"][stage["stage"]] = stage["label"] = f"{EVIL} {stage['stage']}"
    for owner in impact["owners"]:
        if owner["owner"] is not None:
            data["labels"][owner["owner"]] = owner["label"] = EVIL
    for deal in impact["won"]:
        deal["name"] = EVIL
    impact["uncounted"] = [EVIL, "`x` @octocat"]
    impact["uncounted_reasons"] = [NOT_IN_MANIFEST, NO_AMOUNT]  # a line of each
    impact["currency"] = EVIL
    saved.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return saved


def test_show_renders_a_hostile_saved_review_inert(
    manifest_dir: Path, write: WriteManifest, server: str
) -> None:
    saved = a_hostile_saved_review(manifest_dir, write, server)
    for output in ("text", "markdown", "json"):
        result = lfr(["show", str(saved), "-f", output, "--no-color"], server)
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert_log_safe(f"show -f {output}", out + result.stderr)
        assert "set-output" in out  # shown, escaped
        if output == "text":
            assert "Pipeline impact:" in out and "  warn amount-change  " in out
        if output == "markdown":
            _assert_one_chart(out, edges=len(json.loads(saved.read_text())["impact"]["flows"]))
            # Outside the chart (checked above: a fence is no code span), Markdown's rules.
            prose = re.sub(r"^```mermaid\n.*?^```$", "", out, flags=re.MULTILINE | re.DOTALL)
            assert_markdown_quiet("show -f markdown", prose)
            for line in prose.splitlines():  # outside code spans: no tag, no link
                text = hostile.prose(line)
                assert "<x-evil" not in text and not re.search(r"(?<!\\)\]\(https://e", text), line
        if output == "json":
            data = json.loads(out)
            assert data["policy"]["violations"][0]["message"] == EVIL  # exact, as JSON escapes
            assert data["impact"]["uncounted"][0] == EVIL


def _assert_one_chart(markdown: str, *, edges: int) -> None:
    """One Mermaid block, closed by lfr's fence: a header and one line per edge, each holding
    only the quotes lfr wrote, nothing a label could add (a node, a click, a directive)."""
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, markdown
    lines = blocks[0].splitlines()
    assert lines[0] == "flowchart LR" and len(lines) == 1 + edges, lines
    for edge in lines[1:]:
        assert re.fullmatch(r'  s\d+(\["[^"]*"\])? -->\|"[^"]*"\| s\d+(\["[^"]*"\])?', edge), edge
        assert "`" not in edge and "@" not in edge and "%%" not in edge and "<" not in edge
    # A fence opens only at the start of a line (up to 3 spaces in): only the chart's own do.
    fences = [line for line in markdown.splitlines() if re.match(r" {0,3}(```|~~~)", line)]
    assert fences == ["```mermaid", "```"], fences
