"""lfr against the readings of the API contract the emulator's profiles serve
(docs/api-contract.md): a create the org requires ``$stage`` for, a trashed record returned
instead of 404, and a server that rewrites the values it stores. Through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.emulator import Emulator
from reconciler.emulator.profiles import Profile, profile_named
from reconciler.emulator.server import running_server
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, INITECH_ACCOUNT, WriteManifest, opportunity

from .conftest import writes


@contextmanager
def served(profile: str | Profile) -> Iterator[tuple[Emulator, str]]:
    emu = Emulator(db=":memory:", seed="demo", profile=profile)
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        yield emu, base_url


def test_a_create_the_org_requires_a_stage_for_fails_at_plan_time(
    write: WriteManifest, manifest_dir: Path
) -> None:
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        f"  match: {{$name: Staged deal, $account: {INITECH_ACCOUNT}}}\n"
        "spec:\n  fields: {$amount: 5}\n",
    )
    with served("strict-0.20") as (emu, base_url):
        refused = lfr(["apply", str(manifest_dir), "--auto-approve"], base_url)
        assert refused.exit_code == 1
        assert refused.stderr.splitlines()[1:] == [
            "manifests/new.yaml:5: a manifest that may create its record (match, onMissing: "
            "create) must set $stage in spec or match; or set onMissing: error",
            "1 problem in 1 file; nothing was sent.",
        ]
        assert writes(emu) == []
    # The same manifest plans a create where the definitions do not require it.
    with served("default") as (_, base_url):
        assert lfr(["plan", str(manifest_dir)], base_url).exit_code == 0


def test_a_trashed_record_returned_instead_of_404_is_never_updated(
    write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    with served(Profile("trash-visible", serve_trashed=True)) as (emu, base_url):
        api("DELETE", base_url, f"/v1/opportunities/{ACME_RENEWAL}")
        assert api("GET", base_url, f"/v1/opportunities/{ACME_RENEWAL}")["trashed"] is True
        emu.reset_logs()
        refused = lfr(["apply", str(manifest_dir), "--auto-approve"], base_url)
        assert refused.exit_code == 1
        assert (
            f"manifests/a.yaml:5: opportunity {ACME_RENEWAL} (a) does not exist or is in the trash"
        ) in refused.stderr
        assert writes(emu) == []


def test_a_normalising_server_converges_on_what_lfr_can_canonicalise(
    write: WriteManifest, manifest_dir: Path
) -> None:
    # A scheme-less URL with a capital host and a trailing slash; text with a final newline
    # (a YAML block scalar) and inner spaces: the server rewrites both, lfr reads them as equal.
    spec = (
        "fields:\n  docsUrl: Docs.Acme.com/Pricing/\n"
        "  competitorUrls: [HTTP://Globex.com/, initech.com]\n"
        "  $nextSteps: |\n    Call  the CFO\n"
    )
    write("a.yaml", opportunity("a", ACME_RENEWAL, spec))
    with served("normalising") as (emu, base_url):
        applied = lfr(["apply", str(manifest_dir), "--auto-approve"], base_url)
        assert applied.exit_code == 0, applied.output
        stored = api("GET", base_url, f"/v1/opportunities/{ACME_RENEWAL}")["fields"]
        assert stored["docsUrl"]["value"] == "https://docs.acme.com/Pricing"
        assert stored["competitorUrls"]["value"] == ["http://globex.com", "https://initech.com"]
        assert stored["$nextSteps"]["value"] == "Call  the CFO"
        again = lfr(["plan", str(manifest_dir), "--detailed-exitcode"], base_url)
        assert again.exit_code == 0, again.output
        assert len(writes(emu)) == 1


def test_a_value_the_server_rewrites_unpredictably_is_reported_once_with_what_to_write(
    write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 1234.56"))
    with served("normalising") as (_, base_url):
        applied = lfr(["apply", str(manifest_dir), "--auto-approve"], base_url)
        assert applied.exit_code == 1
        assert (
            "the API stored other values than the ones sent ($amount: sent 1234.56, stored "
            "1235): it rewrites these values when it stores them, so every plan would show "
            "this change again; write the stored values in the manifest"
        ) in applied.output
        assert "at manifests/a.yaml:8" in applied.output  # the $amount line
        # Written as told, the manifest converges.
        write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 1235"))
        again = lfr(["plan", str(manifest_dir), "--detailed-exitcode"], base_url)
        assert again.exit_code == 0, again.output


def test_a_saved_create_without_a_stage_is_refused_once_the_org_requires_one(
    write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        f"  match: {{$name: Saved deal, $account: {INITECH_ACCOUNT}}}\n",
    )
    saved = tmp_path / "plan.json"
    with served("default") as (emu, base_url):
        made = lfr(["plan", str(manifest_dir), "--out", str(saved)], base_url)
        assert made.exit_code == 0, made.output
        # The deployment now requires $stage on create (and its definitions say so).
        emu.profile = profile_named("strict-0.20")
        emu.reset_logs()
        refused = lfr(["apply", str(saved), "--auto-approve"], base_url)
        assert refused.exit_code == 1
        assert (
            f"Error: {saved}: records[0].fields: this org requires $stage on create; the planned "
            "create of 'new' does not set it (plan again against this org)"
        ) in refused.stderr
        assert writes(emu) == []
