"""Differential: lfr's plan-time validation against the emulator's write validation (the API's
rules, docs/emulator.md), over a corpus of hostile values for every writable field of the demo
org and hostile raw ids for every writable relationship.

For each case: if lfr's plan is green, every request it would send must be accepted, and a plan
made after it must be a no-op (what lfr sends reads back as what it wants: no endless diff).
If lfr refuses, the same value sent as it is must be refused by the API too (lfr is not stricter
than the API, except for the YAML-only values listed in ``_yaml_only``). Both counts must be 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.core.desired import build_desired
from reconciler.core.diff import diff_record
from reconciler.core.errors import ApiError
from reconciler.core.model import parse_manifests
from reconciler.core.org import OrgSchema
from reconciler.core.plan import MAX_BODY_BYTES, DiffOptions
from reconciler.core.vocabulary import Document
from reconciler.emulator import Emulator
from reconciler.emulator.body import MAX_BODY_BYTES as API_MAX_BODY_BYTES
from reconciler.runs.plan import run_plan
from tests.support.demo import (
    ACME_COM,
    ACME_RENEWAL,
    ALEX,
    INITECH_ACCOUNT,
    PRIYA,
    WriteManifest,
    opportunity,
)

OPTIONS = DiffOptions(revision="r", target="t")

# Values any field may be handed: wrong types, empties, non-finite and huge numbers, control,
# bidi and format characters, very long text, YAML dates.
COMMON: list[Any] = [
    None, "", " ", "\t", True, False, 0, 1, -1, 1.5, 0.001, float("inf"), float("nan"),
    2**53, 10**400, [], [""], [None], ["x", 1], {}, {"a": 1}, "\x00", "a\x00b", "\x1b[31m",
    "\u202e", "\u200b", "a\nb", "x" * 5000, "::error::x", "@channel", "<script>x</script>",
    date(2027, 3, 31), datetime(2027, 3, 31, 12, tzinfo=UTC),
]  # fmt: skip
# Valid values of each type: each is tried as it is and with hostile changes (see _variants).
GOOD: dict[str, list[Any]] = {
    "TEXT": ["Acme renewal", "Ünïcödé ✓"],
    "NUMBER": [0, 120000, 120000.5, 0.01, -7, 2**53 - 1, 1e15],
    "CHECKBOX": [True, False],
    "DATETIME": ["2027-03-31", "2027-03-31T12:00:00Z", "2027-03-31T12:00:00+02:00",
                 "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2027-03-31T12:00:00.123Z"],
    "EMAIL": ["ada@acme.com", "Ada.Lovelace+crm@sub.acme.co.uk", "ünï@exämple.de",
              # Casefolding changes these: longer than 254, a dotted i in the domain, ss.
              "ß" * 130 + "@acme.com", "jane@İstanbul.com", "Straße@acme.com"],
    "TELEPHONE": ["+12025551234", "(202) 555-1234 x100", "5551234", "+44 20 7946 0958"],
    "URL": ["https://acme.com", "acme.com", "http://acme.com:8080/a?b=c#d", "HTTPS://ACME.COM",
            "https://192.168.1.10/x", "https://xn--nicode-2ya.com", "https://ünicode.com/p"],
    "SOCIAL_HANDLE": ["https://x.com/jack", "https://mobile.twitter.com/jack?s=20"],
    "SINGLE_SELECT": ["North America", "north  AMERICA"],
    "MULTI_SELECT": [["Platform"], "Platform", ["Platform", "platform", "Support"]],
    "ADDRESS": [{"city": "Oslo", "country": "no"}, {"latitude": 59.9, "longitude": -10.75}],
    "FULL_NAME": [{"firstName": "Ada", "lastName": "Lovelace"}, {"firstName": None}],
}  # fmt: skip
GOOD["CURRENCY"] = GOOD["NUMBER"]
# Known-bad values a variant would not reach.
BAD: dict[str, list[Any]] = {
    "NUMBER": ["12k", "12000", 1.005, 0.1 + 0.2, -(2**53), 1e16],
    "CHECKBOX": ["yes", "no", "true", "on", 0],
    "DATETIME": ["2027-02-30", "2027-03-31T12:00:00", "0001-01-01T00:00:00+01:00", "20270331",
                 "9999-12-31T23:59:59-01:00", "2027-03-31T24:00:00Z", "2027-W13-3",
                 "2027-03-31T12:00:00+25:00", datetime(2027, 3, 31, 12),
                 datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))],
    "EMAIL": ["a@b", "a b@c.co", "@b.co", "a@@b.co", "<a@b.co>", "a@b.co,c@d.co", "a@-b.co",
              "a" * 250 + "@b.co", "javascript:a@b.co", "a@b.c0", ["a@b.co", "bad"]],
    "TELEPHONE": ["123", "+0123456789", "+1234567890123456", "call me", "٢٠٢٥٥٥١٢٣٤", "#100",
                  2025551234, ["+12025551234", "nope"]],
    "URL": ["http://", "https://", "javascript:alert(document.cookie)", "javascript:alert(1)",
            "JAVASCRIPT:x.y", "vbscript:x.y", "data:text/html,<script>x.y</script>",
            "ftp://acme.com", "mailto:a@b.co", "http://exa mple.com", "//acme.com",
            "https://user:pw@acme.com", "https://acme.com@evil.com", "https://acme.com:99999",
            "https://acme.com:0", "https://localhost", "https://[::1]", "https://acme",
            "https://-acme.com", "https:acme.com", "https:/acme.com", "http:\\\\acme.com",
            "https://acme..com", "https://.com", "acme", "https://acme.com/" + "a" * 2100,
            "http://acme.com.", "https://999.1.1.1", ["https://a.com", "javascript:x.y"]],
    "SOCIAL_HANDLE": ["x.com/jack", "@jack", "https://evil.com/x.com/jack", "javascript:x.com/j",
                      "https://x.com/" + "a" * 16, "https://facebook.com/jack"],
    "SINGLE_SELECT": ["Mars", ["North America"], 1],
    "MULTI_SELECT": [["Nope"], [1], ["Platform", "Nope"], {"a": "Platform"}],
    "ADDRESS": [{"country": "Norway"}, {"country": "ÅÅ"}, {"latitude": "1"},
                {"latitude": True}, {"latitude": float("inf")}, {"latitude": 10**400},
                {"citty": "x"}, {"street": 1}, "Oslo"],
    "FULL_NAME": [{"firstName": 1}, {"middle": "x"}, "Ada Lovelace"],
}  # fmt: skip
BAD["CURRENCY"] = BAD["NUMBER"]
STAGES = ["Proposal", "Negotiation", "Renewed", "closed won", None]


def _variants(value: Any) -> list[Any]:
    """``value`` and hostile changes of it: padded, control and bidi characters inside,
    doubled, in a list, in a list with an empty item."""
    found: list[Any] = [value]
    if isinstance(value, str):
        found += [f" {value} ", f"{value}\x00", f"\u202e{value}", f"{value}\n", value + value]
        found += [value.upper(), value[: len(value) // 2], f"{value}\u200b", [value], [value, ""]]
    return found


@dataclass
class Tally:
    cases: int = 0
    green: int = 0
    sent: int = 0
    green_but_refused: list[str] = field(default_factory=list)
    no_convergence: list[str] = field(default_factory=list)
    stricter: list[str] = field(default_factory=list)

    def report(self, what: str) -> str:
        return (
            f"{what}: {self.cases} cases, {self.green} green ({self.sent} writes sent), "
            f"{len(self.green_but_refused)} green-but-refused, {len(self.no_convergence)} "
            f"not converged, {len(self.stricter)} refused by lfr but accepted by the API"
        )


def _document(fields: dict[str, Any]) -> Document:
    data = {
        "apiVersion": "lfr/v1",
        "kind": "Opportunity",
        "metadata": {"name": "case", "id": ACME_RENEWAL},
        "spec": {"fields": fields},
    }
    return Document("case.yaml", 0, 1, data, {})


def _yaml_only(value: Any) -> bool:
    """Values JSON cannot carry as they are (YAML dates, non-finite floats): lfr reads them
    (a date is midnight UTC) or asks for quotes; there is no raw form to send."""
    if isinstance(value, date | datetime):
        return True
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_yaml_only(v) for v in value)
    if isinstance(value, dict):
        return any(_yaml_only(v) for v in value.values())
    return False


async def _accepted(
    client: LightfieldClient, body: dict[str, Any], record_id: str = ACME_RENEWAL
) -> str | None:
    """None when the API takes ``body`` as an update of the case record, else its error."""
    try:
        await client.update("opportunities", record_id, body, idempotency_key=None)
    except ApiError as exc:
        return f"{exc.status} {exc.code}"
    return None


async def _field_case(
    client: LightfieldClient, schema: OrgSchema, key: str, value: Any, tally: Tally
) -> None:
    tally.cases += 1
    shown = f"{key}={value!r}"[:160]
    manifests, shape = parse_manifests([_document({key: value})])
    assert not shape, shape
    desired, problems = build_desired(manifests, schema)
    if problems:
        if not _yaml_only(value) and await _accepted(client, {"fields": {key: value}}) is None:
            tally.stricter.append(f"{shown}: {problems[0].message}")
        return
    tally.green += 1
    live = await client.retrieve("opportunities", ACME_RENEWAL)
    for request in diff_record(desired[0], live, schema, OPTIONS).requests:
        tally.sent += 1
        refused = await _accepted(client, request.body)
        if refused is not None:
            tally.green_but_refused.append(f"{shown}: sent {request.body!r:.120} → {refused}")
            return
    again = diff_record(
        desired[0], await client.retrieve("opportunities", ACME_RENEWAL), schema, OPTIONS
    )
    if again.action != "noop":
        tally.no_convergence.append(f"{shown}: {again.fields!r:.200}")


@pytest.mark.anyio
async def test_a_green_plan_is_an_accepted_write_for_every_hostile_value(
    client: LightfieldClient, schema: OrgSchema
) -> None:
    tally = Tally()
    types: set[str] = set()
    for key, definition in schema.definitions.field_definitions.items():
        if schema.field_read_only(key):
            continue
        kind = definition.value_type
        types.add(kind)
        values = COMMON + [v for good in GOOD.get(kind, []) for v in _variants(good)]
        values += BAD.get(kind, []) + (STAGES if key == "$stage" else [])
        for value in values:
            await _field_case(client, schema, key, value, tally)
    # $pipeline is a hint that needs its $stage (lightfield-api.md §2.6).
    for pipeline, stage in [("Sales", None), ("Renewals", "Renewed"), ("Sales", "Renewed")]:
        fields = {"$pipeline": pipeline, **({"$stage": stage} if stage else {})}
        tally.cases += 1
        manifests, _ = parse_manifests([_document(fields)])
        _, problems = build_desired(manifests, schema)
        refused = await _accepted(client, {"fields": fields})
        assert bool(problems) == (refused is not None), (fields, problems, refused)
    print(tally.report("field values"))
    assert types >= set(GOOD), "the demo org has a writable field of every value type"
    assert tally.cases >= 1300 and tally.sent >= 200
    assert tally.green_but_refused == []
    assert tally.no_convergence == []
    assert tally.stricter == []


@pytest.mark.anyio
async def test_a_green_plan_links_only_ids_the_api_accepts(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient, emu: Emulator
) -> None:
    gone = {"$name": "Gone"}
    trashed = {
        "account": (await client.create("accounts", {"fields": gone}, idempotency_key=None)).id,
        "contact": (await client.create("contacts", {"fields": {}}, idempotency_key=None)).id,
    }
    await client.delete("accounts", trashed["account"])
    await client.delete("contacts", trashed["contact"])
    emu.add_org("org_other")
    emu.add_key("org_other", "sk_lf_other")
    async with LightfieldClient.for_asgi_app(emu.app, "sk_lf_other", rates=None) as other:
        elsewhere = (
            await other.create("accounts", {"fields": {"$name": "Other"}}, idempotency_key=None)
        ).id
    existing = {"account": INITECH_ACCOUNT, "contact": ALEX, "member": PRIYA}
    prefixes = {"account": "acc_", "contact": "con_", "member": "mem_"}
    schema = OrgSchema(await client.definitions("opportunities"))
    tally = Tally()
    for key, definition in schema.definitions.relationship_definitions.items():
        if schema.relationship_read_only(key):
            continue
        target = definition.object_type
        prefix = prefixes[target]
        ids = [
            existing[target], prefix + "cmzzzzzzzzzzzzz", prefix, prefix.upper() + "cm1",
            *(v for t, v in existing.items() if t != target), trashed.get(target), elsewhere,
            "", " ", f" {existing[target]} ", f"{prefix}x\n", f"{prefix}x/../y", "../accounts",
            f"{prefix}x?y=1", f"{prefix}%2e%2e", f"{prefix}ünï", prefix + "a" * 300,
            f"{prefix}\u202e1", "opp_cmzzzzzzzzzzzzz",
        ]  # fmt: skip
        for raw in [i for i in ids if i is not None]:
            tally.cases += 1
            # A fresh record per case (linked to nothing but its account), so that every
            # green case sends its link.
            fields = {"$name": "case", "$stage": "Prospecting"}
            body = {"fields": fields, "relationships": {"$account": ACME_COM}}
            case = (await client.create("opportunities", body, idempotency_key=None)).id
            value = [existing[target], raw] if definition.many else raw
            # JSON is YAML: its escapes carry every hostile character into the manifest.
            spec = f"relationships:\n  {key}: {json.dumps(value)}"
            write("case.yaml", opportunity("case", case, spec))
            outcome = await run_plan(client, manifest_dir, target="t")
            op = {"add": [raw]} if definition.many else {"replace": raw}
            if outcome.plan is None:
                if await _accepted(client, {"relationships": {key: op}}, case) is None:
                    tally.stricter.append(f"{key}={raw!r}: {outcome.problems[0].message}")
                continue
            tally.green += 1
            for change in outcome.plan.records:
                for request in change.requests:
                    tally.sent += 1
                    refused = await _accepted(client, request.body, case)
                    if refused is not None:
                        tally.green_but_refused.append(f"{key}={raw!r}: {refused}")
    print(tally.report("relationship ids"))
    assert tally.cases >= 120 and tally.sent >= 6
    assert tally.green_but_refused == []
    assert tally.stricter == []


@pytest.mark.anyio
async def test_a_green_plan_never_sends_a_body_over_the_apis_size_limit(
    write: WriteManifest, manifest_dir: Path, client: LightfieldClient
) -> None:
    """A manifest under the 1 MiB file cap can make a larger body: JSON doubles every ``\\``
    and ``"``. Around the limit, by each of them, plan is green exactly when the API
    takes the body as sent; a refusal names the key's line."""
    assert MAX_BODY_BYTES == API_MAX_BODY_BYTES
    tally = Tally()
    envelope = len('{"fields":{"$nextSteps":""}}')
    # (Plain text cannot reach the limit from a file under the cap: only escapes can.)
    for char, cost in [("\\", 2), ('"', 2)]:
        for excess in (-cost, 0, 1, cost, 700_000 * cost - MAX_BODY_BYTES):
            tally.cases += 1
            count = (MAX_BODY_BYTES - envelope + excess) // cost
            value = char * count
            quoted = "'" + value.replace("'", "''") + "'"
            write(
                "case.yaml", opportunity("case", ACME_RENEWAL, f"fields:\n  $nextSteps: {quoted}")
            )
            outcome = await run_plan(client, manifest_dir, target="t")
            refused = await _accepted(client, {"fields": {"$nextSteps": value}})
            if outcome.plan is None:
                assert [(p.file, p.line) for p in outcome.problems] == [("manifests/case.yaml", 8)]
                assert "bytes" in outcome.problems[0].message
                if refused is None:
                    tally.stricter.append(f"{count} × {char!r}")
                continue
            tally.green += 1
            for change in outcome.plan.records:
                for request in change.requests:
                    tally.sent += 1
                    refused = await _accepted(client, request.body)
                    if refused is not None:
                        tally.green_but_refused.append(f"{count} × {char!r}: {refused}")
    print(tally.report("bodies around the size limit"))
    assert tally.cases == 10 and tally.green >= 4
    assert tally.green_but_refused == []
    assert tally.stricter == []
