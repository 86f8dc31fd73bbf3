"""Seed data of the emulator: the demo org, its keys, and deterministic demo records.

Owns ``seed_org`` ("demo" = org_demo with records, "empty" = the same org, keys and definitions
but no records). The demo's records are data (``data/demo.json``: members, accounts, contacts,
opportunities with their stage history); this module owns what is derived from them. Record ids
come from (org, kind, key), so docs and example manifests can cite them; times are back-dated
from ``SEED_START`` in a fixed rhythm; the demo is written through ``Records.create`` /
``update``, so it obeys the same rules as API writes and leaves real field history. Bulk records
for benchmarks are bulk.py's. Called by emulator.py.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .definitions import cuid_like
from .operations import Records
from .stored import OrgSettings, Record

DEMO_ORG = "org_demo"
FULL_KEY = "sk_lf_demo_full"
READ_KEY = "sk_lf_demo_read"
READ_SCOPES = ("opportunities:read", "accounts:read", "contacts:read", "members:read")
SEED_START = 1_756_684_800.0  # 2025-09-01T00:00:00Z: demo history predates any ManualClock start
HOUR = 3600.0
DAY = 24 * HOUR

DEMO: dict[str, Any] = json.loads(
    resources.files(__package__).joinpath("data", "demo.json").read_text(encoding="utf-8")
)
# (first, last, email, role) of each demo member, in seeding order (the first is the admin).
MEMBERS = tuple((m["first"], m["last"], m["email"], m["role"]) for m in DEMO["members"])
ACCOUNT_NAMES = {a["key"]: a["name"] for a in DEMO["accounts"]}


def demo_id(org: str, kind: str, key: str) -> str:
    """The deterministic id of a demo record.

    Example: ``demo_id("org_demo", "opp", "acme-renewal-2027")``.
    """
    return cuid_like(kind, org, "demo", key)


def seed_org(records: Records, seed: str, org: str = DEMO_ORG) -> None:
    """Create ``org`` with the two demo keys; with ``seed="demo"`` also the demo records."""
    if seed not in ("demo", "empty"):
        raise ValueError(f"unknown seed {seed!r}; expected 'demo' or 'empty'")
    store = records.store
    store.add_org(OrgSettings(org))
    store.add_key(org, FULL_KEY, ())
    store.add_key(org, READ_KEY, READ_SCOPES)
    if seed == "demo":
        with store.transaction():
            member_ids = _members(records, org)
            account_ids = _accounts(records, org, member_ids)
            contact_ids = _contacts(records, org, account_ids)
            _opportunities(records, org, member_ids, account_ids, contact_ids)


def _members(records: Records, org: str) -> dict[str, str]:
    """Members are read-only in the API, so they go straight to the store."""
    store = records.store
    member_ids: dict[str, str] = {}
    for i, member in enumerate(DEMO["members"]):
        email = member["email"]
        member_ids[email] = demo_id(org, "mem", email)
        at = SEED_START + i * 60
        fields = {
            "$email": email,
            "$name": {"firstName": member["first"], "lastName": member["last"]},
            "$role": member["role"],
        }
        if i % 2 == 0:
            fields["$profileImage"] = f"https://avatars.example/{member['first'].lower()}.png"
        store.insert(
            Record(
                id=member_ids[email],
                org=org,
                object_type="member",
                seq=store.next_seq(),
                created_at=at,
                updated_at=at,
                fields=fields,
                relationships={"$user": [cuid_like("usr", org, email)]},
            ),
            at,
        )
    return member_ids


def _accounts(records: Records, org: str, member_ids: dict[str, str]) -> dict[str, str]:
    owners = list(member_ids.values())
    account_ids: dict[str, str] = {}
    for i, account in enumerate(DEMO["accounts"]):
        key = account["key"]
        account_ids[key] = demo_id(org, "acc", key)
        records.create(
            None,
            org,
            "account",
            {
                "fields": {
                    "$name": account["name"],
                    "$website": account["websites"],
                    "$industry": account["industry"],
                    "$headcount": account["headcount"],
                    "tier": account["tier"],
                    "$primaryAddress": {"city": account["city"], "country": account["country"]},
                    "$linkedIn": f"https://linkedin.com/company/{key}",
                },
                "relationships": {"$owner": owners[i % len(owners)]},
            },
            at=SEED_START + HOUR + i * 60,
            record_id=account_ids[key],
        )
    return account_ids


def _contacts(records: Records, org: str, account_ids: dict[str, str]) -> dict[str, str]:
    contact_ids: dict[str, str] = {}
    for i, contact in enumerate(DEMO["contacts"]):
        email = contact["email"]
        contact_ids[email] = demo_id(org, "con", email)
        account = contact["account"]
        records.create(
            None,
            org,
            "contact",
            {
                "fields": {
                    "$name": {"firstName": contact["first"], "lastName": contact["last"]},
                    "$email": [email],
                    "$title": contact["title"],
                    "doNotContact": i % 5 == 4,
                },
                "relationships": {"$account": account_ids[account]} if account else {},
            },
            at=SEED_START + 2 * HOUR + i * 60,
            record_id=contact_ids[email],
        )
    return contact_ids


def _opportunities(
    records: Records,
    org: str,
    member_ids: dict[str, str],
    account_ids: dict[str, str],
    contact_ids: dict[str, str],
) -> None:
    """Each opportunity is created at its first stage, then moved a week per later stage."""
    creator = next(iter(member_ids.values()))
    for i, opp in enumerate(DEMO["opportunities"]):
        name, amount, stages, contacts = opp["name"], opp["amount"], opp["stages"], opp["contacts"]
        created = SEED_START + DAY + i * 3 * HOUR
        fields: dict[str, Any] = {"$name": name, **opp["fields"]}
        fields.update({"$pipeline": opp["pipeline"], "$stage": stages[0]})
        if amount is not None:
            fields["$amount"] = amount
        if opp["closeDate"] is not None:
            fields["$closeDate"] = opp["closeDate"]
        rels: dict[str, Any] = {
            "$account": account_ids[opp["account"]],
            "$owner": member_ids[opp["owner"]],
            "$createdBy": creator,
        }
        if contacts:
            rels["$contact"] = [contact_ids[c] for c in contacts]
            rels["$champion"] = contact_ids[contacts[0]]
        if len(contacts) > 1:
            rels["$evaluator"] = contact_ids[contacts[1]]
        opp_id = demo_id(org, "opp", opp["key"])
        records.create(
            None,
            org,
            "opportunity",
            {"fields": fields, "relationships": rels},
            at=created,
            record_id=opp_id,
        )
        text = f"{name}: a deal with {ACCOUNT_NAMES[opp['account']]}."
        _add_ai_summary(records, opp_id, text, created + HOUR)
        for step, stage in enumerate(stages[1:], start=1):
            update: dict[str, Any] = {"$pipeline": opp["pipeline"], "$stage": stage}
            if step == 1 and amount is not None and len(stages) > 2:
                update["$amount"] = round(amount * 0.8, 2)  # an earlier estimate in history
            if step == len(stages) - 1 and amount is not None and len(stages) > 2:
                update["$amount"] = amount
            records.update(
                None,
                org,
                "opportunity",
                opp_id,
                {"fields": update},
                at=created + step * 7 * DAY,
            )
    # Trashed demo records (for status=trashed and restore), after every record is in place.
    for opp in DEMO["opportunities"]:
        if opp.get("trashed"):
            _trash(records, demo_id(org, "opp", opp["key"]), SEED_START + 60 * DAY)


def _trash(records: Records, record_id: str, at: float) -> None:
    record = records.store.get(record_id)
    if record is not None:
        snapshot = record.snapshot()
        snapshot.trashed = True
        snapshot.updated_at = at
        records.store.save(snapshot, at)


def _add_ai_summary(records: Records, record_id: str, text: str, at: float) -> None:
    """The product writes the read-only AI summary shortly after create; so does the seed."""
    record = records.store.get(record_id)
    if record is None:
        return
    snapshot = record.snapshot()
    snapshot.fields["$aiSummary"] = text
    records.store.save(snapshot, at)
    records.store.add_history(record_id, "$aiSummary", at, text)
