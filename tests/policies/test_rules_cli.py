"""Each built-in policy through the CLI against a served emulator: it is broken or not, a warn
shows and passes, an error makes `plan` exit 1 and `apply` refuse before any write (the
emulator's request log holds no POST), `--allow RULE` overrides it for one run, and a saved plan
is judged again by the current lfr.yaml when applied."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.emulator import Emulator
from tests.policies.conftest import (
    WriteSettings,
    days_from_today,
    record_id,
    today,
    umbrella_create,
    writes,
)
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, INITECH, PRIYA, WriteManifest, opportunity

CLOSE_DATE_ERROR = """
version: 1
policies:
  - rule: close-date-in-past
    severity: error
"""


def past_close_date(write: WriteManifest, days: int = -30) -> str:
    date = days_from_today(days)
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, f"fields:\n  $closeDate: {date}"))
    return date


def test_a_close_date_in_the_past_is_an_error_at_the_key_with_the_dates(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    settings(CLOSE_DATE_ERROR)
    date = past_close_date(write)
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1
    assert (
        f"  error close-date-in-past  manifests/acme.yaml:8  acme: $closeDate set to {date}, "
        f"before today ({today()})"
    ) in result.stdout.splitlines()
    assert "Error: the plan breaks 1 error-level policy of lfr.yaml (close-date-in-past)" in (
        result.stderr
    )
    assert "--allow close-date-in-past" in result.stderr


def test_a_close_date_from_today_on_breaks_nothing(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    settings(CLOSE_DATE_ERROR)
    past_close_date(write, days=0)
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 0, result.output
    assert "Policies:" not in result.stdout
    assert "~ $closeDate: 2027-03-31 → " in result.stdout


def test_a_warn_is_shown_and_passes(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    settings(CLOSE_DATE_ERROR.replace("error", "warn"))
    past_close_date(write)
    result = lfr(["plan", "--no-color", "--detailed-exitcode"], server)
    assert result.exit_code == 2  # changes, no error
    assert "  warn close-date-in-past  manifests/acme.yaml:8  acme: $closeDate set to" in (
        result.stdout
    )


def test_allow_overrides_an_error_for_one_run_and_an_unknown_rule_is_refused(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    settings(CLOSE_DATE_ERROR)
    past_close_date(write)
    allowed = lfr(["plan", "--no-color", "--allow", "close-date-in-past"], server)
    assert allowed.exit_code == 0, allowed.output
    assert "  error (allowed by --allow) close-date-in-past  manifests/acme.yaml:8" in (
        allowed.stdout
    )
    typo = lfr(["plan", "--allow", "close-date-in-the-past"], server)
    assert typo.exit_code == 1
    assert "--allow: no rule 'close-date-in-the-past' (did you mean 'close-date-in-past'?)" in (
        typo.stderr
    )


def test_apply_refuses_before_any_write_and_allow_applies(
    write: WriteManifest, settings: WriteSettings, server: str, emu: Emulator
) -> None:
    settings(CLOSE_DATE_ERROR)
    date = past_close_date(write)
    # --force too: without policies, apply would start writing before the whole plan is read.
    refused = lfr(["apply", "--auto-approve", "--force", "--no-color"], server)
    assert refused.exit_code == 1
    assert "error close-date-in-past  manifests/acme.yaml:8" in refused.stdout
    assert "nothing was sent" in refused.stderr
    assert writes(emu) == []
    applied = lfr(["apply", "--auto-approve", "--allow", "close-date-in-past"], server)
    assert applied.exit_code == 0, applied.output
    live = api("GET", server, f"/v1/opportunities/{ACME_RENEWAL}")["fields"]["$closeDate"]
    assert live["value"].startswith(date)


def test_a_saved_plan_is_judged_again_by_the_current_lfr_yaml(
    write: WriteManifest, settings: WriteSettings, server: str, emu: Emulator, tmp_path: Path
) -> None:
    past_close_date(write)
    settings(CLOSE_DATE_ERROR)
    # Planned with --allow: the JSON on stdout (and in --out) says the violation was allowed and
    # nothing blocks; apply accepts it as a saved plan, and judges it again.
    planned = lfr(
        ["plan", "-f", "json", "--allow", "close-date-in-past", "--out", "out.json"], server
    )
    assert planned.exit_code == 0, planned.output
    policy = json.loads(planned.stdout)["policy"]
    assert policy["blocking"] is False
    assert [(v["rule"], v["allowed"]) for v in policy["violations"]] == [
        ("close-date-in-past", True)
    ]
    assert json.loads((tmp_path / "out.json").read_text())["policy"] == policy
    printed = tmp_path / "printed.json"
    printed.write_text(planned.stdout)
    for saved in (printed, tmp_path / "out.json"):
        refused = lfr(["apply", str(saved), "--auto-approve", "--no-color"], server)
        assert refused.exit_code == 1
        assert "error close-date-in-past  manifests/acme.yaml:8" in refused.stdout
        assert "nothing was sent" in refused.stderr
        assert writes(emu) == []
    applied = lfr(
        ["apply", str(printed), "--auto-approve", "--allow", "close-date-in-past"], server
    )
    assert applied.exit_code == 0, applied.output
    assert len(writes(emu)) == 1


def test_reopening_a_won_deal_is_refused_and_a_scope_that_misses_it_is_not(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    won = record_id(server, "Globex analytics")  # Closed Won
    write("globex.yaml", opportunity("globex-analytics", won, "fields:\n  $stage: Proposal"))
    settings(
        """
        version: 1
        policies:
          - rule: reopen-closed
            severity: error
            names: ["globex-*"]
        """
    )
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1
    assert (
        "  error reopen-closed  manifests/globex.yaml:8  globex-analytics: stage Closed Won "
        "(won) → Proposal (open) reopens a closed deal"
    ) in result.stdout.splitlines()
    # The amount is not in the manifest: the deal is reopened with its live amount.
    assert "  reopened: 1 deal ($250,000): globex-analytics" in result.stdout.splitlines()
    assert "  open pipeline: $0 → $250,000 (+$250,000)" in result.stdout.splitlines()
    settings(
        """
        version: 1
        policies:
          - {rule: reopen-closed, severity: error, names: ["acme-*", "initech-*"]}
        """
    )
    assert lfr(["plan"], server).exit_code == 0


def test_a_renewal_stage_is_closed_when_lfr_yaml_says_so(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    churned = record_id(server, "Hooli legacy renewal")  # Renewals / Churned
    write("hooli.yaml", opportunity("hooli", churned, "fields:\n  $stage: Renewal Review"))
    rule = "policies:\n  - {rule: reopen-closed, severity: error}\n"
    settings("version: 1\n" + rule)
    assert lfr(["plan"], server).exit_code == 0  # "Churned" has no word "lost"
    settings("version: 1\npipeline:\n  lost: [Closed Lost, churned]\n" + rule)
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1
    assert "hooli: stage Churned (lost) → Renewal Review (open) reopens a closed deal" in (
        result.stdout
    )


def test_amount_change_per_record_and_for_the_plan(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 150000"))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 80000"))
    settings(
        """
        version: 1
        policies:
          - {rule: amount-change, severity: warn, max_percent: 20}
          - {rule: amount-change, severity: error, max_change: 25000}
          - {rule: amount-change, severity: warn, max_total_change: 30000}
        """
    )
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    # Acme: 120,000 → 150,000 is +25% and +30,000; Initech: 75,000 → 80,000 breaks neither.
    acme = "manifests/acme.yaml:8  acme: $amount $120,000 → $150,000 (+$30,000, +25%)"
    assert f"  warn amount-change  {acme}: more than 20%" in lines
    assert f"  error amount-change  {acme}: more than $25,000" in lines
    # The stages are not in the manifests: read live, both deals are open and counted.
    assert (
        "  warn amount-change  lfr.yaml:5  the plan changes amounts by +$35,000 (open pipeline "
        "$195,000 → $230,000): more than $30,000"
    ) in lines
    assert not any("initech:" in line for line in lines if "amount-change" in line)


def test_owner_reassignments_over_the_limit(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    owner = f"relationships:\n  $owner: {PRIYA}"
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, owner))
    write("initech.yaml", opportunity("initech", INITECH, owner))
    settings(
        "version: 1\npolicies:\n  - {rule: owner-reassignments, severity: error, max_records: 1}\n"
    )
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1
    assert (
        "  error owner-reassignments  lfr.yaml:3  2 records change $owner (at most 1): "
        "acme, initech"
    ) in result.stdout.splitlines()
    settings(
        "version: 1\npolicies:\n  - {rule: owner-reassignments, severity: error, max_records: 2}\n"
    )
    assert lfr(["plan"], server).exit_code == 0


def test_required_on_create_names_the_missing_keys_at_the_record(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    write("new.yaml", umbrella_create("$stage: Discovery\n$amount: 10000\n"))
    settings(
        """
        version: 1
        policies:
          - rule: required-on-create
            severity: error
            keys: [$amount, $closeDate, $owner]
        """
    )
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1
    assert (
        "  error required-on-create  manifests/new.yaml:1  umbrella-new: a create must set "
        "$closeDate, $owner"
    ) in result.stdout.splitlines()


GLOBEX_OWNER_SET = """\
apiVersion: lfr/v1
kind: OpportunitySet
metadata:
  name: globex-owner
spec:
  selector:
    $account: {name: Globex}
  relationships:
    $owner: {email: mei@acme-sales.example}
"""


def test_a_rule_scoped_by_name_takes_a_sets_records_which_carry_the_sets_name(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    write("globex.yaml", GLOBEX_OWNER_SET)
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, f"relationships:\n  $owner: {PRIYA}"))
    rule = "  - {{rule: owner-reassignments, severity: error, max_records: 1, names: [{0}]}}\n"
    settings("version: 1\npolicies:\n" + rule.format("globex-*"))
    scoped = lfr(["plan", "--no-color"], server)
    assert scoped.exit_code == 1
    # Two Globex deals change owner (mei owns the third): counted; acme is out of scope.
    assert (
        "  error owner-reassignments  lfr.yaml:3  2 records change $owner (at most 1): "
        "globex-owner (opp_cmjftirrzryr3rj), globex-owner (opp_cmr2snmcnldykx0)"
    ) in scoped.stdout.splitlines()
    settings("version: 1\npolicies:\n" + rule.format("acme"))
    assert lfr(["plan"], server).exit_code == 0  # acme alone: 1 record, at most 1


def test_a_sets_change_on_a_record_another_manifest_names_is_in_the_sets_scope(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    """opp_cmjftirrzryr3rj is the manifest `globex-deal`'s; the set changes its owner too."""
    write("globex.yaml", GLOBEX_OWNER_SET)
    write("deal.yaml", opportunity("globex-deal", "opp_cmjftirrzryr3rj", "fields:\n  priority: 2"))
    settings(
        "version: 1\npolicies:\n  - {rule: owner-reassignments, severity: error, "
        "max_records: 1, names: [globex-owner]}\n"
    )
    result = lfr(["plan", "--no-color"], server)
    assert result.exit_code == 1, result.output
    assert (
        "  error owner-reassignments  lfr.yaml:3  2 records change $owner (at most 1): "
        "globex-deal, globex-owner (opp_cmr2snmcnldykx0)"
    ) in result.stdout.splitlines()


def test_a_saved_plan_cannot_rename_a_record_out_of_a_rules_scope(
    write: WriteManifest, settings: WriteSettings, server: str, emu: Emulator, tmp_path: Path
) -> None:
    past_close_date(write)
    settings(CLOSE_DATE_ERROR.replace("severity: error", "severity: error\n    names: [acme]"))
    planned = lfr(
        ["plan", "--allow", "close-date-in-past", "--out", str(tmp_path / "plan.json")], server
    )
    assert planned.exit_code == 0, planned.output
    saved = json.loads((tmp_path / "plan.json").read_text())
    saved["records"][0]["name"] = "renamed"  # a name the rule's scope does not take
    (tmp_path / "plan.json").write_text(json.dumps(saved))
    refused = lfr(["apply", str(tmp_path / "plan.json"), "--auto-approve", "--no-color"], server)
    assert refused.exit_code == 1, refused.output
    assert "error close-date-in-past" in refused.stdout
    assert writes(emu) == []
