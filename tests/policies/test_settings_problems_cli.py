"""A policy lfr.yaml cannot hold, at the file:line of the key with a suggestion: an unknown
rule, a parameter the rule does not take, one it needs, and (against the org) a key or a stage
the org does not have. Nothing is planned with such a file."""

from __future__ import annotations

from reconciler.emulator import Emulator
from tests.policies.conftest import WriteSettings, writes
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, WriteManifest, opportunity


def test_every_problem_of_the_policies_at_its_line(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 1"))
    settings(
        """
        version: 1
        policies:
          - rule: close-date-in-pass
            severity: error
          - rule: amount-change
            severity: warn
            max_records: 3
          - rule: owner-reassignments
            severity: fatal
          - rule: required-on-create
            severity: warn
            colour: red
        """
    )
    result = lfr(["plan"], server)
    assert result.exit_code == 1
    problems = result.stderr
    assert (
        "lfr.yaml:3: unknown rule 'close-date-in-pass' (did you mean 'close-date-in-past'?); "
        "rules: close-date-in-past, reopen-closed, amount-change, owner-reassignments, "
        "required-on-create"
    ) in problems
    # Shape problems (pydantic) come first; the rules' own checks run once the shape is valid.
    assert "lfr.yaml:9: policies.2.severity must be error or warn" in problems
    assert "lfr.yaml:12: unknown key 'policies.3.colour'" in problems


def test_a_parameter_of_another_rule_and_a_missing_one(
    settings: WriteSettings, write: WriteManifest, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 1"))
    settings(
        """
        version: 1
        policies:
          - rule: amount-change
            severity: warn
            max_records: 3
        """
    )
    result = lfr(["plan"], server)
    assert result.exit_code == 1
    assert "lfr.yaml:3: rule amount-change needs max_change or max_percent or max_total_change" in (
        result.stderr
    )
    assert (
        "lfr.yaml:5: rule amount-change takes no max_records; its parameters: max_change, "
        "max_percent, max_total_change"
    ) in result.stderr


def test_keys_and_stages_the_org_does_not_have_stop_the_run_before_any_write(
    write: WriteManifest, settings: WriteSettings, server: str, emu: Emulator
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 1"))
    settings(
        """
        version: 1
        pipeline:
          owner: $ownr
          won: [Closed Won, Closed Wonn]
        policies:
          - rule: close-date-in-past
            severity: error
            field: $closedate
          - rule: required-on-create
            severity: warn
            keys: [$amount, $acount]
          - rule: amount-change
            severity: warn
            max_change: 10
        """
    )
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = lfr(command, server)
        assert result.exit_code == 1
        problems = result.stderr
        assert "lfr.yaml:3: the org has no relationship '$ownr' (did you mean '$owner'?)" in (
            problems
        )
        assert "lfr.yaml:4: no stage 'Closed Wonn' in the org (did you mean 'Closed Won'" in (
            problems
        )
        assert "lfr.yaml:8: the org has no field '$closedate' (did you mean '$closeDate'" in (
            problems
        )
        assert "lfr.yaml:11: the org has no key '$acount' (did you mean '$account'" in problems
    assert writes(emu) == []


def test_a_key_of_the_wrong_type(
    write: WriteManifest, settings: WriteSettings, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 1"))
    settings(
        "version: 1\npolicies:\n  - {rule: close-date-in-past, severity: error, field: $amount}\n"
    )
    result = lfr(["plan"], server)
    assert result.exit_code == 1
    assert "lfr.yaml:3: $amount is a CURRENCY field in the org; this needs DATETIME" in (
        result.stderr
    )
