"""`lfr show PLAN.json` renders the guardrails' review saved with the plan (issue 18): the
violations, the pipeline impact and, in markdown, its Mermaid chart, exactly as `lfr plan`
printed them (compared with real runs of both, not a copy), marked in one line as what
lfr.yaml said when the plan was made. A forged review is refused by its JSON path; a plan saved
without one (an older lfr) still shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.impact import NO_AMOUNT, NOT_IN_MANIFEST
from reconciler.render.review import SAVED
from tests.policies.conftest import WriteSettings, days_from_today, umbrella_create
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, INITECH, PRIYA, WriteManifest, opportunity

# An error (close date in the past) and a warn (amount moved by more than $10,000).
POLICIES = """
version: 1
policies:
  - rule: close-date-in-past
    severity: error
  - rule: amount-change
    severity: warn
    max_change: 10000
"""
MARKDOWN_SAVED = f"> {SAVED}"


def a_plan_with_violations_and_impact(write: WriteManifest, settings: WriteSettings) -> None:
    """Acme won at $135,000 with a close date in the past (an error, a warn); Initech up to
    $80,000, to Priya: a stage move (the chart's edge), owners, a deal won."""
    settings(POLICIES)
    past = days_from_today(-30)
    write(
        "acme.yaml",
        opportunity(
            "acme",
            ACME_RENEWAL,
            f"fields:\n  $stage: Closed Won\n  $amount: 135000\n  $closeDate: {past}",
        ),
    )
    write(
        "initech.yaml",
        opportunity(
            "initech",
            INITECH,
            f"fields:\n  $stage: Proposal\n  $amount: 80000\nrelationships:\n  $owner: {PRIYA}",
        ),
    )


def without(text: str, line: str) -> str:
    """``text`` without ``line``, which it holds exactly once."""
    lines = text.split("\n")
    assert lines.count(line) == 1, text
    lines.remove(line)
    return "\n".join(lines)


def test_show_prints_the_review_as_plan_printed_it_in_text_markdown_and_json(
    write: WriteManifest, settings: WriteSettings, server: str, tmp_path: Path
) -> None:
    a_plan_with_violations_and_impact(write, settings)
    saved = tmp_path / "plan.json"
    planned = {
        output: lfr(["plan", "--no-color", "-f", output, "--out", str(saved)], server)
        for output in ("text", "markdown", "json")
    }
    for output, result in planned.items():
        assert result.exit_code == 1, (output, result.output)  # the error-level policy blocks
    text = planned["text"].stdout
    assert "Pipeline impact:" in text and "Policies:" in text
    assert "  error close-date-in-past  manifests/acme.yaml:10" in text
    assert "  warn amount-change  manifests/acme.yaml:9" in text
    assert '  s0["Proposal"] -->|"$135,000"| s1["Closed Won"]' in planned["markdown"].stdout

    shown = {
        output: lfr(["show", str(saved), "--no-color", "-f", output], server)
        for output in ("text", "markdown", "json")
    }
    for output, result in shown.items():
        assert result.exit_code == 0, (output, result.output)  # show judges nothing
    # The same output, but for the one line that says when the review was made.
    assert without(shown["text"].stdout, SAVED) == text
    assert text.index("~ initech") < shown["text"].stdout.index(SAVED)
    assert shown["text"].stdout.index(SAVED) + len(SAVED) + 1 == shown["text"].stdout.index(
        "Pipeline impact:"
    )
    assert without(shown["markdown"].stdout, MARKDOWN_SAVED) == planned["markdown"].stdout
    assert f"{MARKDOWN_SAVED}\n#### Policies\n" in shown["markdown"].stdout
    # JSON: the very document plan printed, flows (the chart's edges) included.
    assert shown["json"].stdout == planned["json"].stdout
    data = json.loads(shown["json"].stdout)
    assert data["impact"]["flows"] == [
        {"from": data["impact"]["won"][0]["from"], "to": data["impact"]["won"][0]["to"],
         "amount": 135000.0}
    ]  # fmt: skip
    assert data["policy"]["blocking"] is True


def test_show_groups_a_saved_review_and_still_shows_it(
    write: WriteManifest, settings: WriteSettings, server: str, tmp_path: Path
) -> None:
    a_plan_with_violations_and_impact(write, settings)
    saved = tmp_path / "plan.json"
    planned = lfr(["plan", "--no-color", "--group-by", "owner", "--out", str(saved)], server)
    shown = lfr(["show", str(saved), "--no-color", "--group-by", "owner"], server)
    assert shown.exit_code == 0, shown.output
    assert without(shown.stdout, SAVED) == planned.stdout
    assert "== owner: Priya Nair <priya@acme-sales.example> ==" in shown.stdout


def test_a_plan_saved_without_a_review_still_shows_without_one(
    write: WriteManifest, settings: WriteSettings, server: str, tmp_path: Path
) -> None:
    a_plan_with_violations_and_impact(write, settings)
    saved = tmp_path / "plan.json"
    lfr(["plan", "--out", str(saved)], server)
    old = json.loads(saved.read_text(encoding="utf-8"))
    del old["policy"], old["impact"]  # as an lfr before the guardrails wrote it
    saved.write_text(json.dumps(old), encoding="utf-8")
    for output in ("text", "markdown", "json"):
        shown = lfr(["show", str(saved), "--no-color", "-f", output], server)
        assert shown.exit_code == 0, shown.output
        assert ACME_RENEWAL in shown.stdout and INITECH in shown.stdout
        for said in (SAVED, "Pipeline impact", "Policies", "mermaid", '"policy"', '"impact"'):
            assert said not in shown.stdout, (output, said)
    # --group-by still groups (lfr.yaml's pipeline keys), and JSON gains no review it never had.
    grouped = lfr(["show", str(saved), "--group-by", "stage", "-f", "markdown"], server)
    assert "#### stage: Closed Won" in grouped.stdout and SAVED not in grouped.stdout
    as_json = lfr(["show", str(saved), "--group-by", "stage", "-f", "json"], server)
    assert "policy" not in json.loads(as_json.stdout)


def test_a_plan_saved_before_flows_shows_its_review_without_the_chart(
    write: WriteManifest, settings: WriteSettings, server: str, tmp_path: Path
) -> None:
    a_plan_with_violations_and_impact(write, settings)
    saved = tmp_path / "plan.json"
    lfr(["plan", "--out", str(saved)], server)
    old = json.loads(saved.read_text(encoding="utf-8"))
    del old["impact"]["flows"]
    saved.write_text(json.dumps(old), encoding="utf-8")
    shown = lfr(["show", str(saved), "-f", "markdown"], server)
    assert shown.exit_code == 0, shown.output
    assert "#### Pipeline impact" in shown.stdout and "mermaid" not in shown.stdout


def _forge(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    *parents, last = path
    for key in parents:
        data = data[key]
    data[last] = value


FORGED = [
    # (case, (path, value) to set, the JSON path the error names, what it says)
    ("bad severity", (("policy", "violations", 0, "severity"), "info"), "policy.violations[0]"
     ".severity", "Input should be 'error' or 'warn'"),
    ("unknown rule", (("policy", "violations", 0, "rule"), "no-rule\n::x"), "policy.violations[0]"
     ".rule", "not a rule of this lfr (close-date-in-past, "),
    ("extra key in a violation", (("policy", "violations", 0, "extra"), 1),
     "policy.violations[0].extra", "Extra inputs are not permitted"),
    ("extra key in the impact", (("impact", "chart"), "graph"), "impact.chart",
     "Extra inputs are not permitted"),
    ("negative count", (("impact", "counted"), -1), "impact.counted",
     "Input should be greater than or equal to 0"),
    ("negative amount moved", (("impact", "stages", 0, "moved_in"), -5.0),
     "impact.stages[0].moved_in", "Input should be greater than or equal to 0"),
    ("blocking that is not", (("policy", "blocking"), False), "policy",
     "blocking is false, but the violations hold an error-level one not allowed"),
    ("open change that does not add up", (("impact", "open_change"), 1.0), "impact",
     "open_change is not open_after - open_before"),
    ("owner change that does not add up", (("impact", "owners", 0, "change"), 1.0),
     "impact.owners[0]", "change is not after - before"),
    ("stage label not the plan's", (("impact", "stages", 0, "label"), "Closed Lost"),
     "impact.stages[0].label", "not the plan's label of its stage (labels)"),
    ("owner label not the plan's", (("impact", "owners", 0, "label"), "@octocat"),
     "impact.owners[0].label", "not the plan's label of its owner (labels)"),
    ("a flow of the wrong shape", (("impact", "flows", 0), {"from": None, "amount": 1.0}),
     "impact.flows[0].to", "Field required"),
    ("a flow to a stage the table lacks", (("impact", "flows", 0, "to"), "opt_forged"),
     "impact.flows[0]", "a stage the impact's stages do not list"),
    ("an impact without its policy", (("policy",), None), "policy",
     "missing (a plan saved with its impact has its policy too)"),
    ("a reason for no uncounted record", (("impact", "uncounted_reasons"), [NO_AMOUNT]),
     "impact", "not one reason for each of uncounted"),
    ("a reason this lfr does not give", (("impact", "uncounted_reasons"), ["guessed"]),
     "impact.uncounted_reasons[0]", "Input should be 'amount or stage not in the manifest' or"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "forgery", "where", "says"), FORGED, ids=[f[0] for f in FORGED])
def test_a_forged_review_is_refused_by_its_path_by_show_and_apply(
    write: WriteManifest,
    settings: WriteSettings,
    server: str,
    tmp_path: Path,
    case: str,
    forgery: tuple[tuple[Any, ...], Any],
    where: str,
    says: str,
) -> None:
    a_plan_with_violations_and_impact(write, settings)
    saved = tmp_path / "plan.json"
    lfr(["plan", "--out", str(saved)], server)
    data = json.loads(saved.read_text(encoding="utf-8"))
    _forge(data, *forgery)
    if forgery[0] == ("policy",):
        del data["policy"]
    saved.write_text(json.dumps(data), encoding="utf-8")
    for command in (["show", str(saved)], ["apply", str(saved), "--auto-approve"]):
        result = lfr(command, server)
        assert result.exit_code == 1, (case, result.output)
        error = result.stderr.split("Error: ", 1)[1]
        assert error.startswith(f"{saved}: {where}: {says}"), (case, error)
        assert len(error.splitlines()) == 1 and "::x" not in error, error


def test_a_plan_saved_before_the_reasons_shows_its_uncounted_as_not_in_the_manifest(
    write: WriteManifest, server: str, tmp_path: Path
) -> None:
    """A create that sets no stage cannot be counted (nothing was read, nothing says where it
    goes); a plan saved before ``uncounted_reasons`` gave that one reason only."""
    write("new.yaml", umbrella_create("$amount: 10000\n"))
    saved = tmp_path / "plan.json"
    planned = lfr(["plan", "--out", str(saved), "--no-color"], server)
    assert planned.exit_code == 0, planned.output
    line = f"  not counted ({NOT_IN_MANIFEST}): umbrella-new"
    assert line in planned.stdout.splitlines()
    old = json.loads(saved.read_text(encoding="utf-8"))
    assert old["impact"]["uncounted_reasons"] == [NOT_IN_MANIFEST]
    del old["impact"]["uncounted_reasons"]
    saved.write_text(json.dumps(old), encoding="utf-8")
    shown = lfr(["show", str(saved), "--no-color"], server)
    assert shown.exit_code == 0, shown.output
    assert line in shown.stdout.splitlines()
