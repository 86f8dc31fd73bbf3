"""Exporting over manifests that already manage the records: comments, key order and the
spelling of values that still hold survive; only what changed in the CRM changes."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from tests.export.conftest import Export, Plan
from tests.export.test_export import summary
from tests.support.demo import ACME_RENEWAL, ALEX, INITECH, INITECH_ACCOUNT, NINA, SAM

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
UMBRELLA_ACCOUNT = "acc_cmec7wkfwc7u14s"
GLOBEX_ACCOUNT = "acc_cmg5ahz3aeo8czy"

# Every value below still holds in the demo except $nextSteps, region and $champion; several
# are spelled differently from what export would write (lower-case label, 120000.0, a full
# instant, another order, a raw id), and that spelling must stay.
COMMENTED = f"""\
# yaml-language-server: $schema=../schema/manifest.schema.json
# Owned by RevOps. Do not edit by hand between quarter ends.
apiVersion: lfr/v1
kind: Opportunity
metadata:
  name: acme-renewal   # our name, not the CRM's
  id: {ACME_RENEWAL}
spec:
  fields:
    # Stage and money first.
    $stage: proposal
    $amount: 120000.0    # list price
    $nextSteps: Call back  # set by the AE
    $closeDate: 2027-03-31T00:00:00Z
    products: [Support, Platform]
    region: EMEA
  relationships:
    $champion: {{email: nina@acme.com}}   # the CFO, for now
    $contact:
      - {ALEX}  # Alex, by id
"""

EXPECTED = f"""\
# yaml-language-server: $schema=../schema/manifest.schema.json
# Owned by RevOps. Do not edit by hand between quarter ends.
apiVersion: lfr/v1
kind: Opportunity
metadata:
  name: acme-renewal   # our name, not the CRM's
  id: {ACME_RENEWAL}
spec:
  fields:
    # Stage and money first.
    $stage: proposal
    $amount: 120000.0    # list price
    $nextSteps: Send revised quote # set by the AE
    $closeDate: 2027-03-31T00:00:00Z
    products: [Support, Platform]
    region: North America
    $name: Acme renewal 2027
    priority: 1
    strategic: true
  relationships:
    $champion: {{email: alex@acme.com}}   # the CFO, for now
    $contact:
      - {ALEX}  # Alex, by id
    $account: {{domain: acme.com}}
    $owner: {{email: jane@acme-sales.example}}
"""


async def test_reexport_keeps_comments_order_and_spelling_and_changes_only_values(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    path = manifest_dir / "acme.yaml"
    path.write_text(COMMENTED)
    result = await export(ids=[ACME_RENEWAL])
    assert [(f.path, f.status) for f in result.files] == [(path, "updated")]
    assert path.read_text() == EXPECTED
    assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}
    # Nothing changed since: the file is left exactly as it is.
    again = await export(ids=[ACME_RENEWAL])
    assert [f.status for f in again.files] == ["unchanged"]
    assert path.read_text() == EXPECTED


async def test_cleared_values_become_null_and_new_values_are_appended(
    export: Export, plan: Plan, manifest_dir: Path, client: LightfieldClient
) -> None:
    await export(ids=[ACME_RENEWAL])
    path = manifest_dir / "acme-renewal-2027.yaml"
    before = path.read_text()
    body = {
        "fields": {"$nextSteps": None, "competitor": "Initrode", "products": ["Platform"]},
        "relationships": {"$contact": {"add": [SAM]}, "$champion": {"replace": None}},
    }
    await client.update("opportunities", ACME_RENEWAL, body, idempotency_key=None)
    result = await export(ids=[ACME_RENEWAL])
    assert [f.status for f in result.files] == ["updated"]
    expected = (
        before.replace("$nextSteps: Send revised quote", "$nextSteps: null")
        .replace("products: [Platform, Support]", "products: [Platform]")
        .replace(
            "    region: North America\n", "    region: North America\n    competitor: Initrode\n"
        )
        .replace("$champion: {email: alex@acme.com}", "$champion: null")
        .replace("[{email: alex@acme.com}]", "[{email: alex@acme.com}, {email: sam@acme.com}]")
    )
    assert path.read_text() == expected
    assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}


async def test_a_stage_moving_between_pipelines_is_rewritten_and_a_users_comment_kept(
    export: Export, plan: Plan, manifest_dir: Path, client: LightfieldClient
) -> None:
    await export(ids=[ACME_RENEWAL])
    path = manifest_dir / "acme-renewal-2027.yaml"
    path.write_text(path.read_text().replace("$stage: Proposal", "$stage: Proposal  # ours"))
    definitions = await client.definitions("opportunities")
    stages = definitions.field_definitions["$stage"].type_configuration.options
    negotiation = {o.id for o in stages if o.label == "Negotiation"}
    shown = set()
    for stage in negotiation:
        await client.update(
            "opportunities", ACME_RENEWAL, {"fields": {"$stage": stage}}, idempotency_key=None
        )
        await export(ids=[ACME_RENEWAL])
        (line,) = [x for x in path.read_text().splitlines() if "$stage:" in x]
        shown.add(" ".join(line.split()))  # ruamel keeps the comment's column, not its gap
        assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}
    assert shown == {"$stage: Sales / Negotiation # ours", "$stage: Renewals / Negotiation # ours"}
    await client.update(
        "opportunities", ACME_RENEWAL, {"fields": {"$stage": "Discovery"}}, idempotency_key=None
    )
    await export(ids=[ACME_RENEWAL])
    (line,) = [x for x in path.read_text().splitlines() if "$stage:" in x]
    assert " ".join(line.split()) == "$stage: Discovery # ours"
    assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}


async def test_partial_ownership_is_kept_while_it_holds_then_narrowed(
    export: Export, plan: Plan, manifest_dir: Path, client: LightfieldClient
) -> None:
    partners = {"partners": {"add": [INITECH_ACCOUNT, UMBRELLA_ACCOUNT]}}
    await client.update(
        "opportunities", ACME_RENEWAL, {"relationships": partners}, idempotency_key=None
    )
    path = manifest_dir / "acme.yaml"
    path.write_text(
        "apiVersion: lfr/v1\nkind: Opportunity\n"
        f"metadata: {{name: acme, id: {ACME_RENEWAL}}}\n"
        "spec:\n"
        "  relationships:\n"
        "    partners: {include: [{name: Initech}], exclude: [{name: Globex}]}  # ours\n"
    )
    await export(ids=[ACME_RENEWAL])
    assert "    partners: {include: [{name: Initech}], exclude: [{name: Globex}]}  # ours\n" in (
        path.read_text()
    )
    # Initech is no longer a partner: it leaves `include`; the exclusion still holds.
    drop = {"partners": {"remove": [INITECH_ACCOUNT]}}
    await client.update(
        "opportunities", ACME_RENEWAL, {"relationships": drop}, idempotency_key=None
    )
    await export(ids=[ACME_RENEWAL])
    assert re.search(
        r"\n    partners: \{exclude: \[\{name: Globex\}\]\} +# ours\n", path.read_text()
    )
    # Globex becomes a partner: nothing is left to own partially; the exact list holds.
    add = {"partners": {"add": [GLOBEX_ACCOUNT]}}
    await client.update("opportunities", ACME_RENEWAL, {"relationships": add}, idempotency_key=None)
    await export(ids=[ACME_RENEWAL])
    exact = r"\n    partners: \[\{name: Umbrella Health\}, \{name: Globex\}\] +# ours\n"
    assert re.search(exact, path.read_text())
    assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}


async def test_a_match_manifest_is_updated_in_place_not_duplicated(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    path = manifest_dir / "deals" / "acme.yaml"
    path.parent.mkdir()
    path.write_text(
        "# Found by name and account, not by id.\n"
        "apiVersion: lfr/v1\nkind: Opportunity\n"
        "metadata:\n  name: acme-deal\n"
        "  match: {$name: Acme renewal 2027, $account: {domain: acme.com}}\n"
        "spec:\n  fields:\n    $amount: 1\n"
    )
    result = await export()
    by_path = {f.path: f for f in result.files}
    assert by_path[path].status == "updated"
    assert by_path[path].records == (("acme-deal", ACME_RENEWAL),)
    assert not (manifest_dir / "acme-renewal-2027.yaml").exists()
    text = path.read_text()
    assert text.startswith("# Found by name and account, not by id.\n")
    assert "    $amount: 120000\n" in text
    assert "id:" not in text
    outcome = await plan()
    assert outcome.problems == []
    assert summary(outcome.plan) == {"create": 0, "update": 0, "noop": 17}


async def test_multi_document_files_keep_their_indentation_and_other_documents(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    path = manifest_dir / "two.yaml"
    untouched = textwrap.dedent(
        f"""\
        # first: not exported in this run
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
            name: acme
            id: {ACME_RENEWAL}
        spec:
            fields:
                $amount: 1    # wrong on purpose
        """
    )
    second = textwrap.dedent(
        f"""\
        ---
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
            name: initech
            id: {INITECH}
        spec:
            fields:
                $amount: 5   # to be refreshed
            relationships:
                $contact:
                    - {{email: joanna@initech.example}}
        """
    )
    path.write_text(untouched + second)
    result = await export(ids=[INITECH])
    assert [f.status for f in result.files] == ["updated"]
    text = path.read_text()
    assert text.startswith(untouched + "---\n")
    assert "\n        $amount: 75000 # to be refreshed\n" in text
    assert "\n            - {email: joanna@initech.example}\n" in text
    assert "\n        $name: Initech analytics\n" in text
    outcome = await plan()
    assert outcome.plan is not None
    assert [(r.name, r.action) for r in outcome.plan.records] == [
        ("acme", "update"),
        ("initech", "noop"),
    ]


async def test_the_example_manifests_plan_empty_after_an_export(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    """The repository's commented examples: merged, not duplicated; only the create of the
    deal that does not exist yet is left in the plan."""
    shutil.rmtree(manifest_dir)
    shutil.copytree(REPO / "manifests", manifest_dir)
    originals = {p: p.read_text() for p in sorted(manifest_dir.rglob("*.yaml"))}  # noqa: ASYNC240
    result = await export()
    statuses = {f.path.relative_to(manifest_dir).as_posix(): f.status for f in result.files}
    assert statuses["acme/acme-renewal-2027.yaml"] == "updated"
    assert statuses["globex/globex-renewal.yaml"] == "updated"
    assert "pipeline/hooli-expansion.yaml" not in statuses  # matches nothing yet
    assert sum(s == "created" for s in statuses.values()) == 14
    for path, original in originals.items():
        comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
        text = path.read_text()
        assert all(comment in text for comment in comments), path
    outcome = await plan()
    assert outcome.problems == []
    assert summary(outcome.plan) == {"create": 1, "update": 0, "noop": 17}
    assert NINA not in (manifest_dir / "acme" / "acme-renewal-2027.yaml").read_text()


async def test_values_added_inside_flow_collections_stay_loadable(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    """URLs (a ':' inside [...] or {...}) appended to flow collections are quoted: the
    manifest loader's parser refuses them plain."""
    hooli = "opp_cmmes0z6v9duzb5"  # competitorUrls [https://endframe.example], a twitter URL
    path = manifest_dir / "hooli.yaml"
    path.write_text(
        "apiVersion: lfr/v1\nkind: Opportunity\n"
        f"metadata: {{name: hooli, id: {hooli}}}\n"
        "spec: {fields: {competitorUrls: ['https://old.example'], priority: 1}}\n"
    )
    await export(ids=[hooli])
    text = path.read_text()
    assert "competitorUrls: ['https://endframe.example']" in text
    assert "twitter: 'https://x.com/hooli'" in text
    outcome = await plan()
    assert outcome.problems == []
    assert summary(outcome.plan) == {"create": 0, "update": 0, "noop": 1}
