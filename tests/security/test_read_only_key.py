"""A read-only key is enough to look, never to write (issue 7), whatever the way in.

tests/apply/test_apply_cli.py covers `lfr apply DIR` with the demo read-only key and
tests/drift covers drift with it; this adds plan, validate, whoami, a saved plan, and a key
scoped to update but not create, all against the emulator's scope enforcement.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.emulator import Emulator
from reconciler.emulator.seed import DEMO_ORG, READ_SCOPES
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, FULL_KEY, READ_KEY, WriteManifest, opportunity


def posts(emu: Emulator) -> list[dict[str, object]]:
    return [r for r in emu.requests() if r["method"] != "GET"]


def test_a_read_only_key_plans_validates_and_names_its_scopes(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    plan = lfr(["plan", str(manifest_dir), "--detailed-exitcode"], server, key=READ_KEY)
    assert plan.exit_code == 2, plan.output
    assert "$amount: 120,000 → 5" in plan.stdout
    assert lfr(["validate", str(manifest_dir)], server, key=READ_KEY).exit_code == 0
    who = lfr(["whoami"], server, key=READ_KEY)
    assert who.exit_code == 0 and "opportunities:read" in who.stdout
    assert posts(emu) == []
    assert READ_KEY not in plan.output + who.output


def test_a_saved_plan_applied_with_a_read_only_key_is_refused_naming_the_scope(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    saved = tmp_path / "plan.json"
    # Planned with the read-only key (as a PR job would), applied with it by mistake.
    planned = lfr(["plan", str(manifest_dir), "--out", str(saved)], server, key=READ_KEY)
    assert planned.exit_code == 0
    result = lfr(["apply", str(saved), "--auto-approve"], server, key=READ_KEY)
    assert result.exit_code == 1
    assert "lacks the 'opportunities:update' scope" in result.stderr
    assert "nothing was sent" in result.stderr
    assert posts(emu) == []
    # The same saved plan with a write key applies.
    assert lfr(["apply", str(saved), "--auto-approve"], server, key=FULL_KEY).exit_code == 0
    assert len(posts(emu)) == 1


def test_a_key_that_may_update_but_not_create_is_refused_for_a_create(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    emu.add_key(DEMO_ORG, "sk_lf_update_only_1", [*READ_SCOPES, "opportunities:update"])
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        "  match: {$name: Scoped deal, $account: {name: Initech}}\n",
    )
    result = lfr(["apply", str(manifest_dir), "--auto-approve"], server, key="sk_lf_update_only_1")
    assert result.exit_code == 1
    assert "lacks the 'opportunities:create' scope" in result.stderr
    assert posts(emu) == []
