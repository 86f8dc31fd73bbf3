"""`lfr export` against the demo emulator: what it writes, and that `lfr plan` right after is
empty (the promise the whole command exists for)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.loader import load_tree
from reconciler.core.org import OrgSchema
from reconciler.core.plan import Plan as PlanData
from reconciler.core.records import Definitions
from reconciler.core.spelling import field_value, option_note
from reconciler.emulator import Emulator
from reconciler.runs.existing_manifests import ExportError, ExportProblems
from reconciler.runs.export import export_opportunities
from tests.export.conftest import Export, Plan
from tests.support.definitions import FROZEN
from tests.support.demo import ACME_COM, ACME_RENEWAL, INITECH_ACCOUNT, NINA, READ_KEY

pytestmark = pytest.mark.anyio

DEMO_OPPORTUNITIES = 17  # 18 seeded, one of them in the trash
HOOLI_RENEWAL = "opp_cmsl97mdznoozqw"  # stage "Negotiation" of the Renewals pipeline


def summary(plan: PlanData | None) -> dict[str, int]:
    assert plan is not None
    counts = {"create": 0, "update": 0, "noop": 0}
    for record in plan.records:
        counts[record.action] += 1
    return counts


def documents(directory: Path) -> dict[str, dict[str, Any]]:
    """Every exported document by record id, read by lfr's own loader."""
    loaded = load_tree(directory)
    assert loaded.problems == []
    return {d.data["metadata"]["id"]: d.data for d in loaded.documents}


async def test_plan_is_empty_after_exporting_every_demo_record(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    result = await export()
    assert [f.status for f in result.files] == ["created"] * DEMO_OPPORTUNITIES
    assert result.notes == []
    outcome = await plan()
    assert outcome.problems == []
    assert summary(outcome.plan) == {"create": 0, "update": 0, "noop": DEMO_OPPORTUNITIES}
    # One file per record, named after it, and every metadata.name distinct.
    names = [d["metadata"]["name"] for d in documents(manifest_dir).values()]
    assert len(set(names)) == DEMO_OPPORTUNITIES
    assert (manifest_dir / "acme-renewal-2027.yaml").is_file()
    assert (manifest_dir / "umbrella-security-review.yaml").is_file()
    # A second export finds every record already managed and changes nothing.
    again = await export()
    assert [f.status for f in again.files] == ["unchanged"] * DEMO_OPPORTUNITIES


async def test_a_record_is_written_with_labels_references_and_plain_dates(
    export: Export, manifest_dir: Path
) -> None:
    await export(ids=[ACME_RENEWAL], schema_ref="../schema/manifest.schema.json")
    assert (manifest_dir / "acme-renewal-2027.yaml").read_text() == (
        "# yaml-language-server: $schema=../schema/manifest.schema.json\n"
        "apiVersion: lfr/v1\n"
        "kind: Opportunity\n"
        "metadata:\n"
        "  name: acme-renewal-2027\n"
        f"  id: {ACME_RENEWAL}\n"
        "spec:\n"
        "  fields:\n"
        "    $name: Acme renewal 2027\n"
        "    $stage: Proposal\n"
        "    $amount: 120000\n"
        "    $closeDate: 2027-03-31\n"
        "    $nextSteps: Send revised quote\n"
        "    priority: 1\n"
        "    strategic: true\n"
        "    products: [Platform, Support]\n"
        "    region: North America\n"
        "  relationships:\n"
        # Two accounts are called "Acme Corp": the name would be refused, the domain is unique.
        "    $account: {domain: acme.com}\n"
        "    $owner: {email: jane@acme-sales.example}\n"
        "    $champion: {email: alex@acme.com}\n"
        "    $contact: [{email: alex@acme.com}]\n"
    )


async def test_a_stage_label_two_pipelines_share_is_written_with_its_pipeline(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    await export(ids=[HOOLI_RENEWAL])
    text = (manifest_dir / "hooli-renewal.yaml").read_text()
    # "Negotiation" is a stage of both pipelines; validation refuses the bare label.
    assert "    $stage: Renewals / Negotiation\n" in text
    assert "opt_" not in text and "#" not in text.split("spec:")[1]
    assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}


async def test_read_only_derived_and_provenance_keys_are_left_out(
    export: Export, manifest_dir: Path
) -> None:
    await export()
    for document in documents(manifest_dir).values():
        spec = document["spec"]
        assert not {"$opportunityStatus", "$aiSummary", "$pipeline"} & set(spec["fields"])
        assert not {"$createdBy", "$task", "$note", "$meeting"} & set(spec["relationships"])
        # Empty values are left out, not written as null.
        assert None not in spec["fields"].values()
        assert [] not in spec["relationships"].values()


async def test_every_value_type_round_trips(
    export: Export, plan: Plan, manifest_dir: Path, client: LightfieldClient
) -> None:
    fields = {
        "$name": "Every type: 2027 #1",
        "$stage": "Discovery",
        "$amount": 1234.56,
        "$closeDate": "2027-03-31T14:30:00+02:00",  # not midnight UTC: written in full
        "$nextSteps": "Line one\nline two: with a colon\n",
        "priority": 0,
        "strategic": False,
        "billingEmails": ["AP@Example.com", "billing@example.com"],
        "legalEmail": "legal@example.com",
        "phone": "(202) 555-1234 x100",
        "supportPhones": ["+44 20 7946 0958"],
        "docsUrl": "https://docs.example/a?b=c#d",
        "competitorUrls": ["https://one.example:8443/x", "http://two.example"],
        "shippingAddress": {"street": "1 Main St", "city": "Oslo", "country": "NO"},
        "signatory": {"firstName": "Ada", "lastName": "Lovelace"},
        "twitter": "https://x.com/lfr_dev",
        "products": ["Training", "Analytics"],
        "region": "APAC",
        "competitor": "null",  # text that YAML would read as null unless quoted
    }
    body = {"fields": fields, "relationships": {"$account": INITECH_ACCOUNT}}
    created = await client.create("opportunities", body, idempotency_key=None)
    result = await export(ids=[created.id])
    assert result.notes == []
    text = result.files[0].path.read_text()
    assert "    $closeDate: 2027-03-31T12:30:00Z\n" in text
    assert "    $nextSteps: |\n      Line one\n      line two: with a colon\n" in text
    assert "    competitor: 'null'\n" in text
    assert "    competitorUrls: ['http://two.example', 'https://one.example:8443/x']\n" in text
    assert "    $account: {name: Initech}\n" in text
    outcome = await plan()
    assert outcome.problems == []
    assert summary(outcome.plan) == {"create": 0, "update": 0, "noop": 1}
    # Every field that has a value is managed, so the empty plan is a real check.
    (document,) = documents(manifest_dir).values()
    assert set(document["spec"]["fields"]) == set(fields)


async def test_references_fall_back_to_the_domain_then_to_the_id(
    export: Export, plan: Plan, manifest_dir: Path, client: LightfieldClient
) -> None:
    # A second "Initech" without a website: neither its name nor the original's is unique now.
    twin = await client.create("accounts", {"fields": {"$name": "Initech"}}, idempotency_key=None)
    # A second contact with Nina's email: that email no longer names one contact.
    await client.create(
        "contacts",
        {"fields": {"$name": {"firstName": "N", "lastName": "K"}, "$email": ["nina@acme.com"]}},
        idempotency_key=None,
    )
    body = {
        "relationships": {"partners": {"add": [twin.id, ACME_COM]}, "$contact": {"add": [NINA]}}
    }
    await client.update("opportunities", ACME_RENEWAL, body, idempotency_key=None)
    await export(ids=[ACME_RENEWAL])
    relationships = documents(manifest_dir)[ACME_RENEWAL]["spec"]["relationships"]
    assert sorted(map(str, relationships["partners"])) == sorted(
        [twin.id, str({"domain": "acme.com"})]
    )
    assert {"email": "alex@acme.com"} in relationships["$contact"]
    assert NINA in relationships["$contact"]
    assert summary((await plan()).plan) == {"create": 0, "update": 0, "noop": 1}


async def test_unknown_ids_are_refused_and_nothing_is_written(
    export: Export, manifest_dir: Path
) -> None:
    with pytest.raises(ExportError, match=r"no such opportunity .*: opp_nope"):
        await export(ids=[ACME_RENEWAL, "opp_nope"])
    assert not any(manifest_dir.iterdir())  # noqa: ASYNC240 - a test's own tmp directory


async def test_unreadable_existing_manifests_stop_the_export(
    export: Export, manifest_dir: Path
) -> None:
    (manifest_dir / "broken.yaml").write_text("apiVersion: lfr/v1\nkind: [\n")
    with pytest.raises(ExportProblems) as raised:
        await export(ids=[ACME_RENEWAL])
    assert [p.file for p in raised.value.problems] == [f"{manifest_dir}/broken.yaml"]
    assert sorted(p.name for p in manifest_dir.iterdir()) == ["broken.yaml"]  # noqa: ASYNC240


async def test_a_taken_name_gets_the_record_id(
    export: Export, plan: Plan, manifest_dir: Path
) -> None:
    # Another record's manifest already uses the name (and file name) export would pick.
    (manifest_dir / "acme-renewal-2027.yaml").write_text(
        "apiVersion: lfr/v1\nkind: Opportunity\n"
        "metadata: {name: acme-renewal-2027, id: opp_cm2imngqfhyz8fv}\n"
    )
    result = await export(ids=[ACME_RENEWAL])
    (created,) = result.files
    expected = f"acme-renewal-2027-{ACME_RENEWAL}"
    assert created.records == ((expected, ACME_RENEWAL),)
    assert created.path == manifest_dir / f"{expected}.yaml"
    outcome = await plan()
    assert outcome.problems == []
    assert summary(outcome.plan) == {"create": 0, "update": 0, "noop": 2}


async def test_export_needs_only_read_access(emu: Emulator, manifest_dir: Path) -> None:
    async with LightfieldClient.for_asgi_app(
        emu.app, READ_KEY, base_url="http://emulator", rates=None
    ) as reader:
        result = await export_opportunities(reader, manifest_dir, ids=None)
    assert len(result.files) == DEMO_OPPORTUNITIES
    assert {r["method"] for r in emu.requests()} == {"GET"}


def test_a_stage_whose_pipeline_name_is_shared_too_is_written_as_its_id() -> None:
    """Two pipelines both called "Sales": `Sales / Negotiation` would name two options, so the
    option id is written, with the comment that says which."""
    definitions = json.loads(FROZEN.read_text(encoding="utf-8"))
    for pipeline in definitions["fieldDefinitions"]["$pipeline"]["typeConfiguration"]["options"]:
        pipeline["label"] = "Sales"
    schema = OrgSchema(Definitions.model_validate(definitions))
    stage = schema.field("$stage")
    assert stage is not None
    options = [o for o in stage.type_configuration.options if o.label == "Negotiation"]
    assert len(options) == 2
    for option in options:
        assert field_value(schema, "$stage", stage, option.id) == option.id
        assert option_note(schema, "$stage", option.id) == "Negotiation (Sales pipeline)"
    discovery = next(o for o in stage.type_configuration.options if o.label == "Discovery")
    assert field_value(schema, "$stage", stage, discovery.id) == "Discovery"
