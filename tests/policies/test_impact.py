"""The pipeline impact of a plan through the CLI against a served emulator (text, markdown with
its Mermaid chart, JSON: the same numbers), `--group-by` in `plan` and `lfr show`, and a hostile
stage name that cannot break out of the chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconciler.core.impact import PipelineFacts
from reconciler.core.plan import FieldChange, Plan, RecordChange
from reconciler.core.policies import Guardrails
from reconciler.core.vocabulary import Origin
from reconciler.render import markdown
from tests.policies.conftest import impact_lines
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, INITECH, PRIYA, WriteManifest, opportunity


def acme_won_initech_moved(write: WriteManifest) -> None:
    """Acme (Proposal, $120,000, Jane) is won at $135,000; Initech analytics (Proposal,
    $75,000, Jane) goes up to $80,000 and to Priya."""
    write(
        "acme.yaml",
        opportunity("acme", ACME_RENEWAL, "fields:\n  $stage: Closed Won\n  $amount: 135000"),
    )
    write(
        "initech.yaml",
        opportunity(
            "initech",
            INITECH,
            f"fields:\n  $stage: Proposal\n  $amount: 80000\nrelationships:\n  $owner: {PRIYA}",
        ),
    )


def test_the_impact_in_text(write: WriteManifest, server: str) -> None:
    acme_won_initech_moved(write)
    assert impact_lines(lfr(["plan", "--no-color"], server)) == [
        "  open pipeline: $195,000 → $80,000 (-$115,000)",
        "  Closed Won: $0 → $135,000 (in $135,000, out $0)",
        "  Proposal: $195,000 → $80,000 (in $5,000, out $120,000)",
        "  won: 1 deal ($135,000): acme",
        "  owner Priya Nair <priya@acme-sales.example>: $0 → $80,000 (+$80,000)",
        # Jane's two deals: Acme's owner is not in its manifest, it is read live.
        "  owner mem_cmc1u2x5v2x4ljb: $195,000 → $0 (-$195,000)",
    ]


def test_the_impact_in_markdown_has_the_chart_and_in_json_the_same_numbers(
    write: WriteManifest, server: str
) -> None:
    acme_won_initech_moved(write)
    md = lfr(["plan", "-f", "markdown"], server)
    assert md.exit_code == 0, md.output
    assert "**Open pipeline: \\$195,000 → \\$80,000 (-\\$115,000)**" in md.stdout
    assert "| Proposal | \\$195,000 | \\$80,000 | \\$5,000 | \\$120,000 |" in md.stdout
    assert "**Won:** 1 (\\$135,000): acme" in md.stdout
    assert '```mermaid\nflowchart LR\n  s0["Proposal"] -->|"$135,000"| s1["Closed Won"]\n```' in (
        md.stdout
    )
    data = json.loads(lfr(["plan", "-f", "json"], server).stdout)
    impact = data["impact"]
    assert (impact["currency"], impact["open_before"], impact["open_after"]) == (
        "USD",
        195000.0,
        80000.0,
    )
    assert impact["open_change"] == -115000.0
    assert [(s["label"], s["moved_in"], s["moved_out"]) for s in impact["stages"]] == [
        ("Closed Won", 135000.0, 0.0),
        ("Proposal", 5000.0, 120000.0),
    ]
    assert [(d["name"], d["amount"]) for d in impact["won"]] == [("acme", 135000.0)]
    assert {o["label"]: o["change"] for o in impact["owners"]} == {
        "Priya Nair <priya@acme-sales.example>": 80000.0,
        "mem_cmc1u2x5v2x4ljb": -195000.0,
    }
    assert data["policy"] == {"blocking": False, "violations": []}


def test_no_impact_without_an_amount_or_stage_change(write: WriteManifest, server: str) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $nextSteps: Call"))
    result = lfr(["plan", "-f", "json"], server)
    assert "impact" not in json.loads(result.stdout)
    assert "Pipeline impact" not in lfr(["plan"], server).stdout


def test_group_by_owner_in_plan_and_show(write: WriteManifest, server: str, tmp_path: Path) -> None:
    acme_won_initech_moved(write)
    result = lfr(["plan", "--no-color", "--group-by", "owner", "--out", "plan.json"], server)
    assert result.exit_code == 0, result.output
    headings = [line for line in result.stdout.splitlines() if line.startswith("== ")]
    assert headings == [
        "== owner: Priya Nair <priya@acme-sales.example> ==",
        "== owner: (not in the manifest) ==",
    ]
    # Each group holds its records: Initech under Priya, Acme (no $owner managed) last.
    text = result.stdout
    assert text.index("== owner: Priya") < text.index("~ initech") < text.index("== owner: (not")
    assert text.index("== owner: (not") < text.index("~ acme")
    shown = lfr(["show", "plan.json", "--group-by", "stage", "-f", "markdown"], server)
    assert shown.exit_code == 0, shown.output
    stages = re.findall(r"^#### stage: (.*)$", shown.stdout, re.MULTILINE)
    assert stages == ["Closed Won", "Proposal"]


HOSTILE = 'Won"] --> x["pwn"]\nclick s0 "javascript:alert(1)"\n```\n@octocat <b>%%{init}%%'


def test_a_hostile_stage_name_stays_one_label_in_the_chart() -> None:
    origin = Origin("manifests/a.yaml", 8)
    plan = Plan(
        revision="r",
        target="t",
        labels={"opt_a": "Proposal", "opt_evil": HOSTILE},
        records=(
            RecordChange(
                action="update",
                name="a",
                id="opp_a",
                origin=origin,
                fields=(FieldChange("$stage", "opt_a", "opt_evil", origin),),
                planned_from={"$stage": "opt_a", "$amount": 10.0},
            ),
        ),
    )
    facts = PipelineFacts(outcomes={"opt_a": "open", "opt_evil": "won"}, currency="USD")
    review = Guardrails().review(plan, None, facts)
    rendered = markdown.render_plan(plan, review=review)
    chart = rendered.split("```mermaid\n", 1)[1].split("```", 1)[0]
    lines = chart.splitlines()
    assert lines[0] == "flowchart LR"
    assert len(lines) == 2  # one edge: nothing in the name made a line, a node or a click
    edge = lines[1]
    assert edge.startswith('  s0["Proposal"] -->|"$10"| s1["Won#34;#93; --#62; x#91;#34;pwn')
    assert edge.count('"') == 6  # the three quoted strings lfr wrote, none from the name
    assert "click" in edge and "\n" not in edge and "`" not in edge and "@" not in edge
    assert "%%" not in edge and "<" not in edge
    # Outside the chart, the name is Markdown-escaped text: one table row, no tag.
    table = rendered.split("| stage | before |", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(table) == 4 and table[2].startswith("| Proposal |")
    assert table[3].startswith('| Won"\\] --&gt; x\\["pwn"\\]\\\\nclick')
    assert "<b>%%" not in rendered
