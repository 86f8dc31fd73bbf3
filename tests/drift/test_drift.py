"""`lfr drift` after out-of-band edits made with the official SDK, against a real uvicorn
emulator: exit codes, report content with field history, and no false drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import lightfield
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig
from tests.support.cli import lfr
from tests.support.demo import (
    ACME_RENEWAL,
    FULL_KEY,
    INITECH,
    NINA,
    READ_KEY,
    WriteManifest,
    opportunity,
)


@pytest.fixture
def sdk(server: str) -> Iterator[lightfield.Lightfield]:
    """Someone editing the CRM by hand, through the official SDK."""
    client = lightfield.Lightfield(
        api_key=FULL_KEY, base_url=server, _strict_response_validation=True, max_retries=0
    )
    yield client
    client.close()


def manage_acme(write: WriteManifest) -> None:
    spec = (
        "fields:\n  $amount: 120000\n  $stage: Proposal\n  products: [Support, Platform]\n"
        "  $closeDate: 2027-03-31\nrelationships:\n  $contact: [{email: alex@acme.com}]"
    )
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, spec))
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $amount: 75000"))


def test_clean_exits_zero_with_a_read_only_key(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    manage_acme(write)
    result = lfr(["drift", str(manifest_dir)], server, key=READ_KEY)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout == "No drift: the CRM matches the manifests.\nDrift: 0 drifted, 2 in sync.\n"
    )


def test_out_of_band_edits_are_reported_with_history(
    server: str,
    sdk: lightfield.Lightfield,
    write: WriteManifest,
    manifest_dir: Path,
    tmp_path: Path,
) -> None:
    manage_acme(write)
    sdk.opportunity.update(
        ACME_RENEWAL,
        fields={"$amount": 99000, "$stage": "Discovery"},
        relationships={"$contact": {"add": [NINA]}},
    )
    result = lfr(["drift", str(manifest_dir)], server, key=READ_KEY)
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"~ acme ({ACME_RENEWAL})  manifests/acme.yaml:1"
    assert lines[1].startswith("    $amount: manifest 120,000, live 99,000  (changed 20")
    assert lines[1].endswith("; before that $120,000.00)")
    assert lines[2].startswith("    $stage: manifest Proposal, live Discovery  (changed ")
    assert lines[2].endswith("; before that Proposal)")
    assert (
        lines[3] == f"    $contact: missing none; unexpected Nina Kowalski <nina@acme.com> ({NINA})"
    )
    assert result.stdout.rstrip().endswith("Drift: 1 drifted, 1 in sync.")
    # JSON and markdown say the same.
    drift_json = lfr(["drift", str(manifest_dir), "-f", "json"], server, key=READ_KEY)
    report = json.loads(drift_json.stdout)
    assert report["drifted"] is True
    notes = {h["key"]: h for h in report["history"]}
    assert (notes["$stage"]["now"], notes["$stage"]["before"]) == ("Discovery", "Proposal")
    out = tmp_path / "drift.md"
    args = ["drift", str(manifest_dir), "-f", "markdown", "--report", str(out)]
    markdown = lfr(args, server, key=READ_KEY)
    assert markdown.exit_code == 2
    assert out.read_text() == markdown.stdout
    assert "| `$stage` | Proposal | Discovery | 20" in markdown.stdout


def test_invalid_manifests_are_an_error_not_drift(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    write("bad.yaml", opportunity("bad", ACME_RENEWAL, "fields:\n  $amount: lots"))
    result = lfr(["drift", str(manifest_dir)], server, key=READ_KEY)
    assert result.exit_code == 1
    assert "manifests/bad.yaml:8:" in result.stderr


def test_no_false_drift_on_repeated_runs_right_after_apply_with_a_lagging_index(
    emu: Emulator, server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    # Many records so drift uses the list scan; the index lags an hour behind the apply.
    emu.seed_bulk(opportunities=60)
    records = [r.id for r in emu.records.store.records("org_demo", "opportunity")][:30]
    for index, record_id in enumerate(records):
        spec = (
            f"fields:\n  priority: {index}\n  $closeDate: '2027-01-0{1 + index % 9}T09:30:00+02:00'"
        )
        write(f"m{index}.yaml", opportunity(f"m{index}", record_id, spec))
    emu.faults.configure(FaultConfig(list_lag_seconds=3600))
    applied = lfr(["apply", str(manifest_dir), "--auto-approve", "--force"], server, key=FULL_KEY)
    assert applied.exit_code == 0, applied.output
    for _ in range(20):
        result = lfr(["drift", str(manifest_dir)], server, key=READ_KEY)
        assert result.exit_code == 0, result.stdout
