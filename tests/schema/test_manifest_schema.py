"""The JSON Schema of manifests (`lfr schema`), checked with a real draft 2020-12 validator
against the example manifests, exported manifests, and the same bad manifests lfr refuses."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.loader import load_bytes, load_tree
from reconciler.cli import app
from reconciler.core.desired import build_desired
from reconciler.core.json_schema import org_schema, render_schema, static_schema
from reconciler.core.model import parse_manifests, parse_sets
from reconciler.core.org import OrgSchema
from reconciler.core.sets import build_sets
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.runs.export import export_opportunities
from tests.support.definitions import demo_schema
from tests.support.demo import ACME_RENEWAL, FULL_KEY, opportunity

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schema" / "manifest.schema.json"
DEMO = demo_schema()  # the demo org's definitions, frozen: the tables below need no emulator


@pytest.fixture
async def org() -> AsyncIterator[tuple[OrgSchema, LightfieldClient]]:
    emu = Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))
    async with LightfieldClient.for_asgi_app(
        emu.app, FULL_KEY, base_url="http://emulator", rates=None
    ) as client:
        yield OrgSchema(await client.definitions("opportunities")), client


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def data(text: str) -> Any:
    """A manifest document as lfr reads it (timestamps stay text, YAML 1.2)."""
    loaded = load_bytes(textwrap.dedent(text).encode(), "m.yaml")
    assert loaded.problems == []
    (document,) = loaded.documents
    return document.data


def lfr_problems(text: str, schema: OrgSchema) -> list[str]:
    """What `lfr validate` says about one document, short of reference lookups."""
    loaded = load_bytes(textwrap.dedent(text).encode(), "m.yaml")
    manifests, problems = parse_manifests(loaded.documents)
    _, more = build_desired(manifests, schema)
    return [p.message for p in [*loaded.problems, *problems, *more]]


def test_the_committed_schema_is_the_generator_output() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render_schema(static_schema())


def test_both_schemas_are_valid_draft_2020_12() -> None:
    for schema in (static_schema(), org_schema(DEMO)):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        validator(schema)


def test_the_example_manifests_are_valid_under_both_schemas() -> None:
    loaded = load_tree(REPO / "manifests")
    assert len(loaded.documents) == 4
    for schema in (static_schema(), org_schema(DEMO)):
        check = validator(schema)
        for document in loaded.documents:
            errors = [e.message for e in check.iter_errors(document.data)]
            assert errors == [], document.file
    # Each example points editors at the committed schema.
    for path in sorted((REPO / "manifests").rglob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schema/manifest.schema.json"
        assert (path.parent / first.split("=", 1)[1]).resolve() == COMMITTED


@pytest.mark.anyio
async def test_every_exported_demo_record_is_valid_under_the_org_schema(
    org: tuple[OrgSchema, LightfieldClient], tmp_path: Path
) -> None:
    schema, client = org
    await export_opportunities(client, tmp_path, ids=None)
    documents = load_tree(tmp_path).documents
    assert len(documents) == 17
    check = validator(org_schema(schema))
    for document in documents:
        assert [e.message for e in check.iter_errors(document.data)] == [], document.file


SHAPE_ERRORS = [
    "apiVersion: lfr/v2\nkind: Opportunity\nmetadata: {name: a, id: opp_1}\n",
    "apiVersion: lfr/v1\nkind: Account\nmetadata: {name: a, id: opp_1}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: Acme Deal, id: opp_1}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1, match: {$name: x}}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, match: {}}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1, owner: me}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1}\nspek: {}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1}\nspec: {feilds: {}}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1}\n"
    "spec: {relationships: {$owner: 7}}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1}\n"
    "spec: {relationships: {$owner: {mail: a@b.c}}}\n",
    "apiVersion: lfr/v1\nkind: Opportunity\nmetadata: {name: a, id: opp_1}\n"
    "spec: {relationships: {partners: {include: []}}}\n",
]


@pytest.mark.parametrize("text", SHAPE_ERRORS)
def test_the_static_schema_refuses_what_the_manifest_model_refuses(text: str) -> None:
    loaded = load_bytes(text.encode(), "m.yaml")
    _, problems = parse_manifests(loaded.documents)
    assert problems, "lfr itself must refuse this document"
    assert not validator(static_schema()).is_valid(loaded.documents[0].data)


SET = "apiVersion: lfr/v1\nkind: OpportunitySet\nmetadata: {name: s}\n"
SET_SHAPE_ERRORS = [
    SET + "spec: {selector: {all: true}}\n",  # manages nothing
    SET + "spec: {fields: {region: EMEA}}\n",  # no selector
    SET + "spec: {selector: {all: true}, fields: {region: EMEA}, feilds: {}}\n",
    "apiVersion: lfr/v1\nkind: OpportunitySet\nmetadata: {name: s, id: opp_1}\n"
    "spec: {selector: {all: true}, fields: {region: EMEA}}\n",
    SET + "spec: {selector: {all: true}, relationships: {$owner: 7}}\n",
]


@pytest.mark.parametrize("text", SET_SHAPE_ERRORS)
def test_the_static_schema_refuses_what_the_set_model_refuses(text: str) -> None:
    loaded = load_bytes(text.encode(), "s.yaml")
    _, problems = parse_sets(loaded.documents)
    assert problems, "lfr itself must refuse this document"
    assert not validator(static_schema()).is_valid(loaded.documents[0].data)


@pytest.mark.parametrize(
    "selector",
    ["{all: true}", "{$account: {name: Globex}, status: open}", "{region: [EMEA, APAC]}"],
)
def test_both_schemas_accept_a_valid_set_and_the_org_schema_its_keys(selector: str) -> None:
    text = SET + f"spec:\n  selector: {selector}\n  fields: {{region: APAC}}\n"
    loaded = load_bytes(text.encode(), "s.yaml")
    sets, problems = parse_sets(loaded.documents)
    assert problems == [] and build_sets(sets, DEMO)[1] == []
    for schema in (static_schema(), org_schema(DEMO)):
        assert [e.message for e in validator(schema).iter_errors(data(text))] == []
    misspelt = text.replace("selector: {", "selector: {regoin: x, ")
    assert not validator(org_schema(DEMO)).is_valid(data(misspelt))


# (spec under `spec:`) that lfr refuses for a value or a key, not for a failed lookup.
VALUE_ERRORS = [
    "fields:\n  $amout: 5",
    "relationships:\n  $ownr: null",
    "fields:\n  $opportunityStatus: Won",
    "fields:\n  $aiSummary: hi",
    "relationships:\n  $task: []",
    "fields:\n  $amount: 12k",
    "fields:\n  strategic: no",
    "fields:\n  $closeDate: 31/03/2027",
    "fields:\n  $closeDate: '2027-01-01T10:00:00'",
    "fields:\n  $name: 2027",
    "fields:\n  region: Mars",
    "fields:\n  $stage: Negotiation",
    "fields:\n  products: [Platform, Nope]",
    "fields:\n  legalEmail: not-an-email",
    "fields:\n  legalEmail: [a@x.io, b@x.io]",
    "fields:\n  docsUrl: 'javascript:alert(document.cookie)'",
    "fields:\n  docsUrl: 'http://'",
    "fields:\n  competitorUrls: [https://x.io, 'https://a b.io']",
    "fields:\n  twitter: '@x'",
    "fields:\n  twitter: https://evil.example/x.com/ada",
    "fields:\n  $name: null",
    "fields:\n  $stage: null",
    "fields:\n  shippingAddress: {city: Oslo, country: Norway}",
    "fields:\n  shippingAddress: {citty: Oslo}",
    "fields:\n  signatory: Ada Lovelace",
    "relationships:\n  $owner: [mem_a, mem_b]",
    "relationships:\n  $contact: con_a",
    "relationships:\n  $owner: {name: Jane}",
    "relationships:\n  $owner: con_cm0bffyv0gam2nv",
    "relationships:\n  $contact: 7",
    "relationships:\n  partners: {include: [{email: a@b.c}]}",
]

VALID = [
    "fields:\n  $stage: Proposal\n  $amount: 120000.5\n  $closeDate: 2027-03-31",
    "fields:\n  $closeDate: 2027-03-31T12:00:00+02:00\n  $nextSteps: null\n  priority: 0",
    "fields:\n  strategic: false\n  products: [Platform, Support]\n  region: null",
    "fields:\n  products: Platform\n  billingEmails: a@x.io\n  legalEmail: [b@x.io]",
    "fields:\n  phone: (202) 555-1234 x100\n  supportPhones: ['+44 20 7946 0958']",
    "fields:\n  docsUrl: https://x.io\n  competitorUrls: ['https://y.io', z.io/a]",
    "fields:\n  twitter: https://x.com/ada\n  $name: Acme",
    "fields:\n  shippingAddress: {city: Oslo, country: no, latitude: 59.9}",
    "fields:\n  signatory: {firstName: Ada, lastName: null}",
    "fields:\n  $stage: opt_01jx1bbjambva1ra6khsq0jnx",
    "relationships:\n  $owner: {email: jane@acme-sales.example}\n  $champion: null",
    "relationships:\n  $account: {domain: acme.com}\n  partners: [{name: Initech}]",
    "relationships:\n  $contact: {include: [con_a], exclude: [{email: x@y.z}]}",
    "relationships:\n  partners: null\n  $evaluator: con_cm0bffyv0gam2nv",
]


@pytest.mark.parametrize("spec", VALUE_ERRORS)
def test_the_org_schema_refuses_what_validation_refuses(spec: str) -> None:
    text = opportunity("a", ACME_RENEWAL, spec)
    assert lfr_problems(text, DEMO), "lfr itself must refuse this manifest"
    assert not validator(org_schema(DEMO)).is_valid(data(text))
    # The static schema leaves values to the org: it accepts what is well shaped.


@pytest.mark.parametrize("spec", VALID)
def test_the_org_schema_accepts_what_validation_accepts(spec: str) -> None:
    text = opportunity("a", ACME_RENEWAL, spec)
    assert lfr_problems(text, DEMO) == []
    for schema in (static_schema(), org_schema(DEMO)):
        errors = [e.message for e in validator(schema).iter_errors(data(text))]
        assert errors == []


def test_the_org_schema_lists_the_orgs_keys_and_options() -> None:
    schema = org_schema(DEMO)
    spec = schema["else"]["properties"]["spec"]["properties"]
    fields, links = spec["fields"], spec["relationships"]
    assert fields["additionalProperties"] is False
    assert links["additionalProperties"] is False
    assert {"$opportunityStatus", "$aiSummary"}.isdisjoint(fields["properties"])
    assert {"$task", "$note", "$meeting"}.isdisjoint(links["properties"])
    stage = fields["properties"]["$stage"]
    assert stage["title"] == "Stage"
    options = stage  # no null: $stage cannot be cleared
    # An ambiguous label is not offered; both of its option ids are.
    assert "Proposal" in options["enum"]
    assert "Negotiation" not in options["enum"]
    assert "opt_01jx1bbjambva1ra6khsq0jnx" in options["enum"]
    owner = links["properties"]["$owner"]["anyOf"]
    assert owner == [{"$ref": "#/$defs/reference_member"}, {"type": "null"}]
    assert schema["$defs"]["reference_member"]["anyOf"] == [
        {"type": "string", "minLength": 1, "pattern": "^mem_"},
        {"$ref": "#/$defs/by_email"},
    ]
    # A selector may name read-only keys (e.g. to find won deals).
    match = schema["$defs"]["metadata"]["properties"]["match"]
    assert "$opportunityStatus" in match["propertyNames"]["enum"]


def test_the_schema_command_prints_or_writes_the_static_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": None, "CI": "true"})
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0
    assert printed.stdout == COMMITTED.read_text()  # no target needed, even under CI
    written = runner.invoke(app, ["schema", "--out", "out/manifest.schema.json"])
    assert written.exit_code == 0
    assert (tmp_path / "out" / "manifest.schema.json").read_text() == COMMITTED.read_text()
    # --org needs a target: under CI without a key that is refused, like every org command.
    refused = runner.invoke(app, ["schema", "--org"])
    assert refused.exit_code == 1
    assert "No LIGHTFIELD_API_KEY under CI=true" in refused.stderr
    local = runner.invoke(app, ["schema", "--org", "--local", "--out", "org.json"])
    assert local.exit_code == 0, local.output
    assert '"$stage"' in (tmp_path / "org.json").read_text()
