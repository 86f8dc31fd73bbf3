"""``lfr export`` beside an ``OpportunitySet`` (issue 17): the set is never written, and a key it
manages is never written into the manifest of a record it matches (the two would conflict as
soon as the set changed); the records it does not match are exported whole."""

from __future__ import annotations

from pathlib import Path

from tests.plan.test_sets_cli import GLOBEX, GLOBEX_REGION
from tests.support.cli import lfr
from tests.support.demo import WriteManifest


def test_export_leaves_out_the_keys_a_set_manages(
    server: str, write: WriteManifest, manifest_dir: Path
) -> None:
    written = write("globex.yaml", GLOBEX_REGION)
    exported = lfr(["export", "--all", "--dir", str(manifest_dir)], server)
    assert exported.exit_code == 0, exported.output
    assert written.read_text(encoding="utf-8") == GLOBEX_REGION
    files = {p.name: p.read_text(encoding="utf-8") for p in manifest_dir.glob("*.yaml")}
    assert len(files) == 18  # the set and one manifest per opportunity
    globex = [text for text in files.values() if any(f"id: {i}" in text for i in GLOBEX)]
    assert len(globex) == 3
    for text in globex:
        assert "region:" not in text and "$owner:" not in text
        assert "$account:" in text  # what the set does not manage is exported as ever
    others = [t for n, t in files.items() if n != "globex.yaml" and t not in globex]
    assert all("$owner:" in text for text in others)
    assert f"{GLOBEX[0]}: region left out: set globex-region manages it" in exported.output
    # The plan right after: no conflict; what is left to do is the set's, shown on each
    # record's own manifest with the set's line.
    planned = lfr(["plan", str(manifest_dir)], server)
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.count("~ region: (empty) → APAC  (from manifests/globex.yaml:9)") == 3
    assert "Plan: 0 to create, 3 to update, 14 unchanged." in planned.stdout
