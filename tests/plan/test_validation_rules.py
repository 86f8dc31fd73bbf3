"""Each validation rule: one bad manifest, the exact message at file:line, and no write sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.runs.plan import Planning, run_plan
from tests.support.demo import ACME_RENEWAL, ALEX, INITECH, NINA, SAM, WriteManifest, opportunity

# (spec under `spec:`, line of the problem, text the message must contain). Spec lines start
# at line 7 of the file, so `fields:` is line 7 and its first key line 8.
CASES = [
    ("fields:\n  $amout: 5", 8, "unknown field '$amout' (did you mean '$amount'"),
    ("relationships:\n  $ownr: null", 8, "unknown relationship '$ownr' (did you mean '$owner'"),
    ("fields:\n  $opportunityStatus: Won", 8, "field '$opportunityStatus' is read-only"),
    ("fields:\n  $aiSummary: hi", 8, "field '$aiSummary' is read-only"),
    ("relationships:\n  $task: []", 8, "relationship '$task' is read-only"),
    ("fields:\n  $amount: 12k", 8, "$amount: expected a number, got text '12k'"),
    ("fields:\n  $amount: 1.234", 8, "at most 2 decimal places"),
    ("fields:\n  strategic: no", 8, "expected true or false, got text 'no' (YAML 1.2"),
    ("fields:\n  $closeDate: 2024-13-01", 8, "'2024-13-01' is not a valid date"),
    ("fields:\n  $closeDate: '2027-01-01T10:00:00'", 8, "has no time zone"),
    ("fields:\n  $name: 2027", 8, "$name: expected text, got a number (2027); quote it"),
    ("fields:\n  region: Mars", 8, "'Mars' is not an option of region; options: 'North America'"),
    ("fields:\n  $stage: Negotiation", 8, "$stage label 'Negotiation' is ambiguous"),
    ("fields:\n  products: [Platform, Nope]", 8, "'Nope' is not an option of products"),
    (
        "fields:\n  $stage: negociation",
        8,
        "'negociation' is not an option of $stage (did you mean 'Negotiation'?); options:",
    ),
    ("fields:\n  region: Antarctica", 8, "'Antarctica' is not an option of region; options:"),
    ("fields:\n  legalEmail: not-an-email", 8, "'not-an-email' is not an email address"),
    ("fields:\n  legalEmail: [a@x.io, b@x.io]", 8, "this field holds one value, got 2"),
    ("fields:\n  phone: call me", 8, "'call me' is not a telephone number"),
    ("fields:\n  shippingAddress: {city: Oslo, country: Norway}", 8, "country must be a 2-letter"),
    ("fields:\n  shippingAddress: {citty: Oslo}", 8, "unknown part 'citty' (did you mean 'city'"),
    ("relationships:\n  $owner: [mem_a, mem_b]", 8, "'$owner' is HAS_ONE: give one id"),
    ("relationships:\n  $contact: con_a", 8, "'$contact' is HAS_MANY: give a list"),
    ("relationships:\n  $owner: {name: Jane}", 8, "links members: use {email: ...}"),
    (
        "relationships:\n  $owner: con_cm0bffyv0gam2nv",
        8,
        "links members, but 'con_cm0bffyv0gam2nv'",
    ),
    ("relationships:\n  $contact: {include: [a], exclude: [a]}", 8, "both included and excluded"),
    ("relationships:\n  $contact: 7", 8, "relationship '$contact': expected an id"),
    ("relationships:\n  $owner: {email: nobody@x.io}", 8, "no member with email 'nobody@x.io'"),
    ("relationships:\n  partners: [{name: Acme Corp}]", 8, "2 accounts have name 'Acme Corp'"),
    ("feilds: {}", 7, "unknown key 'spec.feilds' (did you mean 'fields'?)"),
    ("relationships:\n  $account: null", 8, "'$account' cannot be cleared: Lightfield requires"),
    (
        "relationships:\n  partners: {include: [acc_cm1x15pik34mdzo], exclude: [{name: Initech}]}",
        8,
        "partners: acc_cm1x15pik34mdzo is both included and excluded",
    ),
    # The API's value rules (docs/emulator.md, "Values"): refused at plan, not at apply.
    ("fields:\n  docsUrl: 'javascript:alert(document.cookie)'", 8, "only http:// and https://"),
    ("fields:\n  docsUrl: 'http://'", 8, "docsUrl: 'http://' is not a URL: has no host"),
    ("fields:\n  docsUrl: 'https://acme.com/a b'", 8, "contains whitespace or control"),
    ("fields:\n  docsUrl: 'https://me:pw@acme.com'", 8, "a user name or password"),
    ("fields:\n  twitter: '@ada'", 8, "'@ada' is not a TWITTER profile URL (https://x.com/"),
    ("fields:\n  $name: '  '", 8, "$name cannot be empty: Lightfield requires it"),
    ("fields:\n  $stage: null", 8, "$stage cannot be empty"),
    ("fields:\n  $pipeline: Sales", 8, "$pipeline is only a hint for $stage"),
    ("fields:\n  $closeDate: '9999-12-31T23:59:59-01:00'", 8, "outside the years 0001-9999"),
    ("fields:\n  shippingAddress: {longitude: 181}", 8, "longitude must be a number from -180"),
    ("fields:\n  legalEmail: 'a@x.io, b@x.io'", 8, "is not an email address"),
    ("relationships:\n  $owner: jane", 8, "$owner' links members: 'jane' is not an id (mem_...)"),
    (
        "relationships:\n  $champion: con_cmzzzzzzzzzzzzz",
        8,
        "$champion: no active contact with id 'con_cmzzzzzzzzzzzzz' (it does not exist, is in "
        "the trash, or is not in this org)",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("spec", "line", "message"), CASES, ids=[c[2][:40] for c in CASES])
async def test_rule(
    spec: str,
    line: int,
    message: str,
    write: WriteManifest,
    manifest_dir: Path,
    client: LightfieldClient,
    emu: Emulator,
) -> None:
    write("bad.yaml", opportunity("bad", ACME_RENEWAL, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.plan is None
    found = [(p.file, p.line, p.message) for p in outcome.problems]
    assert any(
        (file, at) == ("manifests/bad.yaml", line) and message in text for file, at, text in found
    ), found
    assert [r for r in emu.requests() if r["method"] != "GET"] == []


@pytest.mark.anyio
async def test_every_problem_of_every_file_is_reported_in_one_run(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amout: 5\n  region: Mars"))
    write("team/b.yaml", opportunity("b", "opp_other", "fields:\n  strategic: maybe"))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [(p.file, p.line) for p in outcome.problems] == [
        ("manifests/a.yaml", 8),
        ("manifests/a.yaml", 9),
        ("manifests/team/b.yaml", 8),
    ]
    assert [r for r in emu.requests() if r["method"] != "GET"] == []


@pytest.mark.anyio
async def test_same_record_twice_names_both_places(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write("one.yaml", opportunity("first", ACME_RENEWAL, "fields:\n  priority: 1"))
    write("two.yaml", opportunity("second", ACME_RENEWAL, "fields:\n  priority: 2"))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [str(p) for p in outcome.problems] == [
        f"manifests/two.yaml:5: record {ACME_RENEWAL} is managed twice: here and at "
        "manifests/one.yaml:5"
    ]


@pytest.mark.anyio
async def test_a_create_needs_name_and_account(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write(
        "new.yaml",
        """
        apiVersion: lfr/v1
        kind: Opportunity
        metadata:
          name: new-deal
          match: {$name: Brand new}
        spec:
          fields: {$amount: 5, $stage: Prospecting}
        """,
    )
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [str(p) for p in outcome.problems] == [
        "manifests/new.yaml:5: a manifest that may create its record (match, onMissing: create) "
        "must set $account in spec or match; or set onMissing: error"
    ]


@pytest.mark.anyio
async def test_an_empty_name_does_not_count_for_a_create(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        "  match: {$name: '', $account: acc_cm1x15pik34mdzo}\n"
        "spec:\n  fields: {$stage: Prospecting}\n",
    )
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [p.message for p in outcome.problems] == [
        "a manifest that may create its record (match, onMissing: create) must set $name in "
        "spec or match; or set onMissing: error"
    ]


@pytest.mark.anyio
async def test_an_id_that_does_not_exist_is_a_problem_not_a_create(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    write("gone.yaml", opportunity("gone", "opp_doesnotexist1", "fields:\n  priority: 1"))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [str(p) for p in outcome.problems] == [
        "manifests/gone.yaml:5: opportunity opp_doesnotexist1 (gone) does not exist or is in "
        "the trash"
    ]


@pytest.mark.anyio
async def test_each_bad_item_of_a_list_is_reported_at_its_own_line(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    spec = """
        fields:
          billingEmails:
            - ap@acme.com
            - not-an-email
            - ar@acme.com
            - 'x@y.io, z@y.io'
        relationships:
          partners:
            - acc_cm1x15pik34mdzo
            - acc_cmzzzzzzzzzzzzz
            - {name: No Such Account}
          $contact: {include: [con_cmyyyyyyyyyyyyy], exclude: [{email: nobody@x.io}]}
        """
    write("list.yaml", opportunity("list", ACME_RENEWAL, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    found = [(p.line, p.message) for p in outcome.problems]
    assert found == [
        (10, "billingEmails: 'not-an-email' is not an email address"),
        (12, "billingEmails: 'x@y.io, z@y.io' is not an email address"),
    ]
    # With the values fixed, the references: each at its own line too.
    spec = spec.replace("not-an-email", "a@b.io").replace("'x@y.io, z@y.io'", "x@y.io")
    write("list.yaml", opportunity("list", ACME_RENEWAL, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [(p.line, p.message) for p in outcome.problems] == [
        (17, "partners: no account with name 'No Such Account'"),
        (18, "$contact: no contact with email 'nobody@x.io'"),
    ]
    # With those resolved, the ids a write would link that no active record has.
    spec = spec.replace("No Such Account", "Initech").replace("nobody@x.io", "nina@acme.com")
    write("list.yaml", opportunity("list", ACME_RENEWAL, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    missing = "(it does not exist, is in the trash, or is not in this org)"
    assert [(p.line, p.message) for p in outcome.problems] == [
        (16, f"partners: no active account with id 'acc_cmzzzzzzzzzzzzz' {missing}"),
        (18, f"$contact: no active contact with id 'con_cmyyyyyyyyyyyyy' {missing}"),
    ]
    assert [r for r in emu.requests() if r["method"] != "GET"] == []


@pytest.mark.anyio
async def test_a_thousand_problems_of_one_kind_are_twenty_lines_and_a_count(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    names = "\n".join(f"    - {{name: No Such Account {i}}}" for i in range(1000))
    write("many.yaml", opportunity("many", ACME_RENEWAL, f"relationships:\n  partners:\n{names}"))
    write("one.yaml", opportunity("one", INITECH, "relationships:\n  partners: [{name: Nope}]"))
    outcome = await run_plan(client, manifest_dir, target="t")
    many = [p for p in outcome.problems if p.file == "manifests/many.yaml"]
    assert [p.line for p in many] == list(range(9, 30)) and len({p.line for p in many}) == 21
    assert [p.message for p in many[:2]] == [
        "partners: no account with name 'No Such Account 0'",
        "partners: no account with name 'No Such Account 1'",
    ]
    assert many[-1].message == (
        "and 980 more like this in this file, from this line on: partners: no account with name …"
    )
    # Another file's problems are its own (and under the cap, all listed).
    assert [str(p) for p in outcome.problems if p.file == "manifests/one.yaml"] == [
        "manifests/one.yaml:8: partners: no account with name 'Nope'"
    ]


@pytest.mark.anyio
async def test_a_trashed_record_is_refused_at_plan_and_nothing_is_sent(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    await client.delete("contacts", NINA)
    write("t.yaml", opportunity("t", ACME_RENEWAL, f"relationships:\n  $champion: {NINA}"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [str(p) for p in outcome.problems] == [
        f"manifests/t.yaml:8: $champion: no active contact with id '{NINA}' (it does not exist, "
        "is in the trash, or is not in this org)"
    ]
    assert [r for r in emu.requests() if r["method"] != "GET"] == []


@pytest.mark.anyio
async def test_only_the_ids_a_write_would_newly_link_are_read_one_get_each(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    missing = "con_cmzzzzzzzzzzzzz"
    acme = await client.retrieve("opportunities", ACME_RENEWAL)
    assert ALEX in acme.related_ids("$contact") and SAM not in acme.related_ids("$champion")
    emu.seed_bulk(contacts=200)  # 9 pages of contacts: no scan of them is cheaper than 2 reads
    spec = f"relationships:\n  $champion: {SAM}\n  $contact: {{include: [{ALEX}]}}"
    write("a.yaml", opportunity("a", ACME_RENEWAL, spec))
    write("b.yaml", opportunity("b", INITECH, f"relationships:\n  $evaluator: {missing}"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    # SAM and the missing id would be linked: one GET each (Read bucket), no page of the
    # contact list (Search bucket); ALEX is linked already and costs nothing.
    contacts = [
        (r["method"], r["path"]) for r in emu.requests() if r["path"].startswith("/v1/contacts")
    ]
    assert sorted(contacts) == [("GET", f"/v1/contacts/{SAM}"), ("GET", f"/v1/contacts/{missing}")]
    assert [str(p) for p in outcome.problems] == [
        f"manifests/b.yaml:8: $evaluator: no active contact with id '{missing}' (it does not "
        "exist, is in the trash, or is not in this org)"
    ]
    assert [r for r in emu.requests() if r["method"] != "GET"] == []


@pytest.mark.anyio
async def test_ids_already_linked_cost_no_request_even_when_missing(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    await client.delete("contacts", ALEX)  # linked to Acme, then trashed: kept, never re-sent
    write("a.yaml", opportunity("a", ACME_RENEWAL, f"relationships:\n  $contact: [{ALEX}]"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    assert [r["path"] for r in emu.requests() if r["path"].startswith("/v1/contacts")] == []


@pytest.mark.anyio
async def test_past_a_second_of_reads_one_scan_of_the_list_confirms_the_rest(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    emu.seed_bulk(contacts=200)  # 215 contacts, 9 pages
    acme = await client.retrieve("opportunities", ACME_RENEWAL)
    linked = set(acme.related_ids("$contact"))
    new = [c.id for c in await client.list_all("contacts") if c.id not in linked][:40]
    items = "\n".join(f"    - {record_id}" for record_id in new)
    spec = f"relationships:\n  $contact:\n    include:\n{items}"
    write("many.yaml", opportunity("many", ACME_RENEWAL, spec.replace("\n    - ", "\n      - ")))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    contacts = [r["path"] for r in emu.requests() if r["path"].startswith("/v1/contacts")]
    # 25 reads (a second of the Read bucket), then the list's 9 pages answer the other 15.
    assert len([p for p in contacts if p.startswith("/v1/contacts/")]) == 25
    assert contacts.count("/v1/contacts") == 9 and len(contacts) == 34


@pytest.mark.anyio
async def test_a_trashed_record_already_linked_may_stay_in_the_manifest(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    # Trashing does not unlink (an export writes the link as a raw id); keeping it sends
    # nothing, which the API allows: only a new link to it is refused.
    await client.delete("contacts", ALEX)
    spec = f"relationships:\n  $champion: {ALEX}\n  $contact: [{ALEX}]"
    write("kept.yaml", opportunity("kept", ACME_RENEWAL, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert outcome.problems == [] and outcome.plan is not None
    assert [change.action for change in outcome.plan.records] == ["noop"]
    write("kept.yaml", opportunity("kept", INITECH, spec))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [p.line for p in outcome.problems] == [8, 9]


@pytest.mark.anyio
async def test_a_change_linking_a_missing_id_is_never_handed_to_a_streaming_apply(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    missing = "con_cmzzzzzzzzzzzzz"
    write("good.yaml", opportunity("good", INITECH, "fields:\n  priority: 3"))
    write("bad.yaml", opportunity("bad", ACME_RENEWAL, f"relationships:\n  $champion: {missing}"))
    planning = Planning(client, manifest_dir, target="t")
    handed = [change.name async for change in planning.changes()]
    outcome = planning.outcome
    assert handed == ["good"]
    assert [str(p) for p in outcome.problems] == [
        f"manifests/bad.yaml:8: $champion: no active contact with id '{missing}' (it does not "
        "exist, is in the trash, or is not in this org)"
    ]


@pytest.mark.anyio
async def test_past_a_hundred_unseen_ids_the_rest_are_reported_without_a_read_each(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    ids = [f"con_cmmissing{i:04d}x" for i in range(105)]
    items = "\n".join(f"    - {record_id}" for record_id in ids)
    write("many.yaml", opportunity("many", ACME_RENEWAL, f"relationships:\n  $contact:\n{items}"))
    emu.reset_logs()
    outcome = await run_plan(client, manifest_dir, target="t")
    reads = [r["path"] for r in emu.requests() if r["path"].startswith("/v1/contacts")]
    assert reads.count("/v1/contacts") == 1 and len(reads) == 1 + 100
    messages = [p.message for p in outcome.problems]
    assert (
        "and 80 more like this in this file, from this line on: $contact: no active contact "
        "with id … (it does not exist, is in the trash, or is not in this org)"
    ) in messages
    assert (
        messages.count(
            f"$contact: no active contact with id '{ids[-1]}' (not in the list of them; too many "
            "such ids to read each)"
        )
        == 1
    )


@pytest.mark.anyio
async def test_a_missing_id_after_a_duplicate_reference_keeps_its_own_line(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    # Initech's raw id and {name: Initech} are one link: the missing id is still the third item.
    items = "\n    - acc_cm1x15pik34mdzo\n    - {name: Initech}\n    - acc_cmzzzzzzzzzzzzz"
    write("dup.yaml", opportunity("dup", ACME_RENEWAL, f"relationships:\n  partners:{items}"))
    outcome = await run_plan(client, manifest_dir, target="t")
    assert [(p.line, p.message[:50]) for p in outcome.problems] == [
        (11, "partners: no active account with id 'acc_cmzzzzzzz")
    ]
