"""Stages in several pipelines, through the CLI against a served emulator (the demo org has a
Sales and a Renewals pipeline, both with a `Negotiation` stage): a label with its pipeline
(`Renewals / Negotiation`, or `$pipeline` beside it) is accepted, a shared label is shown with
its pipeline, and the pipeline change a stage implies is a change of the plan (and applied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, INITECH, WriteManifest, opportunity

SALES_NEGOTIATION = "opt_01jx1bbjambva1ra6khsq0jnx"
RENEWALS_NEGOTIATION = "opt_01eg7eggaz2xjdsa8wvteskds"


def pipeline_of(server: str, record_id: str) -> tuple[str, str]:
    fields = api("GET", server, f"/v1/opportunities/{record_id}")["fields"]
    return fields["$stage"]["value"], fields["$pipeline"]["value"]


@pytest.mark.parametrize(
    "spec",
    [
        "fields:\n  $stage: renewals /  Negotiation",
        "fields:\n  $pipeline: Renewals\n  $stage: Negotiation",
    ],
    ids=["Pipeline / Label", "$pipeline beside the label"],
)
def test_a_shared_label_with_its_pipeline_moves_the_record_and_says_so(
    spec: str, write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, spec))
    planned = lfr(["plan", str(manifest_dir), "--no-color"], server)
    assert planned.exit_code == 0, planned.output
    lines = planned.stdout.splitlines()
    assert "    ~ $stage: Proposal → Renewals / Negotiation" in lines
    # The pipeline the stage implies is a change of its own, not hidden in the stage's.
    assert "    ~ $pipeline: Sales → Renewals" in lines
    applied = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    stage, pipeline = pipeline_of(server, ACME_RENEWAL)
    assert stage == RENEWALS_NEGOTIATION
    assert pipeline != pipeline_of(server, INITECH)[1]  # Initech's deal is still in Sales
    again = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert json.loads(again.stdout)["summary"] == {"create": 0, "update": 0, "noop": 1}


def test_a_stage_change_within_a_pipeline_sends_no_pipeline(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    write("initech.yaml", opportunity("initech", INITECH, "fields:\n  $stage: Sales / Negotiation"))
    planned = lfr(["plan", str(manifest_dir), "-f", "json"], server)
    assert planned.exit_code == 0, planned.output
    (record,) = json.loads(planned.stdout)["records"]
    assert [f["key"] for f in record["fields"]] == ["$stage"]
    assert record["requests"][0]["body"] == {"fields": {"$stage": SALES_NEGOTIATION}}


def test_a_shared_label_alone_is_refused_with_the_spellings_that_work(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $stage: Negotiation"))
    result = lfr(["validate", str(manifest_dir)], server)
    assert result.exit_code == 1
    assert (
        "manifests/acme.yaml:8: $stage: $stage label 'Negotiation' is ambiguous: it exists in "
        "several pipelines; write it with its pipeline ('Sales / Negotiation' or "
        "'Renewals / Negotiation'), or set $pipeline beside it"
    ) in result.stderr


def test_a_label_not_in_the_named_pipeline_lists_the_stages_by_pipeline(
    write: WriteManifest, manifest_dir: Path, server: str
) -> None:
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $stage: Sales / Renewed"))
    result = lfr(["validate", str(manifest_dir)], server)
    assert result.exit_code == 1
    assert (
        "manifests/acme.yaml:8: $stage: 'Sales / Renewed' is not an option of $stage: no "
        "'Renewed' in a pipeline called 'Sales'; options: 'Sales / Prospecting'"
    ) in result.stderr
