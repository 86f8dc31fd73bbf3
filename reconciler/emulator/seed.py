"""Seed data of the emulator: the demo org, its keys, and deterministic demo records.

Owns ``seed_org`` ("demo" = org_demo with records, "empty" = the same org, keys and definitions
but no records) and ``seed_bulk`` (thousands of extra records, fast, for benchmarks). Demo record
ids are derived from (org, kind, name), so docs and example manifests can cite them; the demo is
written through ``Records.create`` / ``update`` with back-dated times, so it obeys the same rules
as API writes and leaves real field history. Called by emulator.py.
"""

from __future__ import annotations

import random
from typing import Any

from .definitions import cuid_like, stage_outcome
from .operations import Records
from .store import OrgSettings, Record

DEMO_ORG = "org_demo"
FULL_KEY = "sk_lf_demo_full"
READ_KEY = "sk_lf_demo_read"
READ_SCOPES = ("opportunities:read", "accounts:read", "contacts:read", "members:read")
SEED_START = 1_756_684_800.0  # 2025-09-01T00:00:00Z: demo history predates any ManualClock start
HOUR = 3600.0
DAY = 24 * HOUR

MEMBERS = (
    ("Jane", "Doe", "jane@acme-sales.example", "admin"),
    ("Omar", "Haddad", "omar@acme-sales.example", "member"),
    ("Mei", "Chen", "mei@acme-sales.example", "member"),
    ("Lucas", "Moreau", "lucas@acme-sales.example", "member"),
    ("Priya", "Nair", "priya@acme-sales.example", "member"),
)

# (key, name, websites, industry, headcount, city, country, tier)
ACCOUNTS = (
    (
        "acme",
        "Acme Corp",
        ["https://acme.com"],
        ["Manufacturing"],
        "1000+",
        "Springfield",
        "US",
        "Enterprise",
    ),
    (
        "acme-uk",
        "Acme Corp",
        ["https://acme.co.uk"],
        ["Manufacturing"],
        "201-1000",
        "Leeds",
        "GB",
        "Mid-market",
    ),
    (
        "globex",
        "Globex",
        ["https://globex.example"],
        ["Software"],
        "1000+",
        "Cypress Creek",
        "US",
        "Enterprise",
    ),
    (
        "initech",
        "Initech",
        ["https://initech.example"],
        ["Software", "Finance"],
        "51-200",
        "Austin",
        "US",
        "Mid-market",
    ),
    (
        "umbrella",
        "Umbrella Health",
        ["https://umbrella.example"],
        ["Healthcare"],
        "201-1000",
        "Raccoon City",
        "US",
        "Enterprise",
    ),
    (
        "hooli",
        "Hooli",
        ["https://hooli.example", "https://hooli.xyz"],
        ["Software"],
        "1000+",
        "Palo Alto",
        "US",
        "Enterprise",
    ),
)

# (first, last, email, title, account key)
CONTACTS = (
    ("Alex", "Rivera", "alex@acme.com", "VP Operations", "acme"),
    ("Sam", "Taylor", "sam@acme.com", "Procurement Lead", "acme"),
    ("Nina", "Kowalski", "nina@acme.com", "CFO", "acme"),
    ("Oliver", "Brown", "oliver@acme.co.uk", "Head of IT", "acme-uk"),
    ("Grace", "Hopper", "grace@globex.example", "CTO", "globex"),
    ("Hank", "Scorpio", "hank@globex.example", "CEO", "globex"),
    ("Peter", "Gibbons", "peter@initech.example", "Engineer", "initech"),
    ("Joanna", "Lumbergh", "joanna@initech.example", "Chief of Staff", "initech"),
    ("Bill", "Lumbergh", "bill@initech.example", "VP Engineering", "initech"),
    ("Alice", "Abernathy", "alice@umbrella.example", "Director of Research", "umbrella"),
    ("Carlos", "Oliveira", "carlos@umbrella.example", "Security Lead", "umbrella"),
    ("Gavin", "Belson", "gavin@hooli.example", "CEO", "hooli"),
    ("Monica", "Hall", "monica@hooli.example", "Partner", "hooli"),
    ("Jared", "Dunn", "jared@hooli.example", "Head of Business Development", "hooli"),
    ("Dinesh", "Chugtai", "dinesh@hooli.example", "Engineer", None),
)

# (key, name, account, owner index, stage history, amount, close date, extras, contacts)
OPPORTUNITIES: tuple[tuple[Any, ...], ...] = (
    (
        "acme-renewal-2027",
        "Acme renewal 2027",
        "acme",
        0,
        ["Prospecting", "Discovery", "Discovery", "Proposal"],
        120000,
        "2027-03-31T00:00:00Z",
        {
            "priority": 1,
            "strategic": True,
            "products": ["Platform", "Support"],
            "region": "North America",
            "$nextSteps": "Send revised quote",
        },
        ["alex@acme.com"],
    ),
    (
        "acme-expansion",
        "Acme platform expansion",
        "acme",
        1,
        ["Prospecting", "Discovery"],
        45000.5,
        "2026-06-30T00:00:00Z",
        {"priority": 2, "billingEmails": ["ap@acme.com"]},
        ["sam@acme.com", "nina@acme.com"],
    ),
    (
        "acme-uk-pilot",
        "Acme UK pilot",
        "acme-uk",
        2,
        ["Prospecting"],
        15000,
        "2026-04-15T00:00:00Z",
        {"region": "EMEA", "phone": "+44 20 7946 0958"},
        ["oliver@acme.co.uk"],
    ),
    (
        "globex-analytics",
        "Globex analytics",
        "globex",
        0,
        ["Prospecting", "Discovery", "Proposal", "Negotiation", "Closed Won"],
        250000,
        "2025-12-15T00:00:00Z",
        {"products": ["Analytics"], "strategic": True},
        ["grace@globex.example"],
    ),
    (
        "globex-training",
        "Globex training",
        "globex",
        3,
        ["Discovery", "Closed Lost"],
        8000,
        "2025-11-30T00:00:00Z",
        {"competitor": "Initrode"},
        [],
    ),
    (
        "initech-platform",
        "Initech platform",
        "initech",
        1,
        ["Prospecting", "Discovery", "Proposal"],
        60000,
        "2026-05-01T00:00:00Z",
        {"legalEmail": "legal@initech.example", "docsUrl": "https://initech.example/docs"},
        ["peter@initech.example", "bill@initech.example"],
    ),
    (
        "initech-support",
        "Initech support plan",
        "initech",
        4,
        ["Prospecting"],
        12000,
        "2026-08-01T00:00:00Z",
        {"products": ["Support"]},
        [],
    ),
    (
        "umbrella-research",
        "Umbrella research suite",
        "umbrella",
        2,
        ["Prospecting", "Discovery", "Negotiation"],
        340000,
        "2026-02-28T00:00:00Z",
        {
            "shippingAddress": {
                "street": "1 Hive Way",
                "city": "Raccoon City",
                "state": "MO",
                "postalCode": "65801",
                "country": "US",
            },
            "signatory": {"firstName": "Alice", "lastName": "Abernathy"},
        },
        ["alice@umbrella.example"],
    ),
    (
        "umbrella-security",
        "Umbrella security review",
        "umbrella",
        3,
        ["Discovery"],
        27500.25,
        "2026-03-20T00:00:00Z",
        {"supportPhones": ["(202) 555-0143", "202-555-0188 x12"]},
        ["carlos@umbrella.example"],
    ),
    (
        "hooli-enterprise",
        "Hooli enterprise",
        "hooli",
        0,
        ["Prospecting", "Discovery", "Proposal", "Negotiation"],
        900000,
        "2026-09-30T00:00:00Z",
        {
            "twitter": "https://x.com/hooli",
            "strategic": True,
            "priority": 1,
            "competitorUrls": ["https://endframe.example"],
        },
        ["gavin@hooli.example", "monica@hooli.example"],
    ),
    (
        "hooli-renewal",
        "Hooli renewal",
        "hooli",
        1,
        [("Renewals", "Renewal Review"), ("Renewals", "Negotiation")],
        400000,
        "2026-01-31T00:00:00Z",
        {},
        ["jared@hooli.example"],
    ),
    (
        "hooli-churn-risk",
        "Hooli legacy renewal",
        "hooli",
        4,
        [("Renewals", "Renewal Review"), ("Renewals", "Churned")],
        50000,
        "2025-10-31T00:00:00Z",
        {},
        [],
    ),
    (
        "globex-renewal",
        "Globex renewal",
        "globex",
        2,
        [("Renewals", "Renewal Review"), ("Renewals", "Renewed")],
        210000,
        "2025-12-01T00:00:00Z",
        {},
        [],
    ),
    (
        "acme-services",
        "Acme services",
        "acme",
        3,
        ["Proposal"],
        30000,
        "2026-07-15T00:00:00Z",
        {"products": ["Training", "Support"]},
        [],
    ),
    (
        "initech-analytics",
        "Initech analytics",
        "initech",
        0,
        ["Discovery", "Proposal"],
        75000,
        "2026-10-01T00:00:00Z",
        {"region": "North America"},
        ["joanna@initech.example"],
    ),
    (
        "umbrella-expansion",
        "Umbrella expansion",
        "umbrella",
        1,
        ["Prospecting"],
        None,
        None,
        {},
        [],
    ),
    (
        "acme-uk-renewal",
        "Acme UK renewal",
        "acme-uk",
        4,
        [("Renewals", "Renewal Review")],
        20000,
        "2026-11-30T00:00:00Z",
        {"region": "EMEA"},
        [],
    ),
    (
        "globex-poc",
        "Globex proof of concept",
        "globex",
        3,
        ["Prospecting", "Closed Lost"],
        5000,
        "2025-10-15T00:00:00Z",
        {"$nextSteps": "Revisit next year"},
        [],
    ),
)


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
        _seed_demo(records, org)


def _seed_demo(records: Records, org: str) -> None:
    store = records.store
    with store.transaction():
        member_ids = []
        for i, (first, last, email, role) in enumerate(MEMBERS):
            member_id = demo_id(org, "mem", email)
            at = SEED_START + i * 60
            store.insert(
                Record(
                    id=member_id,
                    org=org,
                    object_type="member",
                    seq=store.next_seq(),
                    created_at=at,
                    updated_at=at,
                    fields={
                        "$email": email,
                        "$name": {"firstName": first, "lastName": last},
                        "$role": role,
                        **(
                            {"$profileImage": f"https://avatars.example/{first.lower()}.png"}
                            if i % 2 == 0
                            else {}
                        ),
                    },
                    relationships={"$user": [cuid_like("usr", org, email)]},
                ),
                at,
            )
            member_ids.append(member_id)
        account_ids: dict[str, str] = {}
        for i, (key, name, websites, industry, headcount, city, country, tier) in enumerate(
            ACCOUNTS
        ):
            account_ids[key] = demo_id(org, "acc", key)
            records.create(
                None,
                org,
                "account",
                {
                    "fields": {
                        "$name": name,
                        "$website": websites,
                        "$industry": industry,
                        "$headcount": headcount,
                        "tier": tier,
                        "$primaryAddress": {"city": city, "country": country},
                        "$linkedIn": f"https://linkedin.com/company/{key}",
                    },
                    "relationships": {"$owner": member_ids[i % len(member_ids)]},
                },
                at=SEED_START + HOUR + i * 60,
                record_id=account_ids[key],
            )
        contact_ids: dict[str, str] = {}
        for i, (first, last, email, title, account) in enumerate(CONTACTS):
            contact_ids[email] = demo_id(org, "con", email)
            contact_rels = {"$account": account_ids[account]} if account else {}
            records.create(
                None,
                org,
                "contact",
                {
                    "fields": {
                        "$name": {"firstName": first, "lastName": last},
                        "$email": [email],
                        "$title": title,
                        "doNotContact": i % 5 == 4,
                    },
                    "relationships": contact_rels,
                },
                at=SEED_START + 2 * HOUR + i * 60,
                record_id=contact_ids[email],
            )
        for i, spec in enumerate(OPPORTUNITIES):
            key, name, account, owner, stages, amount, close, extras, contacts = spec
            created = SEED_START + DAY + i * 3 * HOUR
            fields: dict[str, Any] = {"$name": name, **extras}
            fields.update(_stage_fields(stages[0]))
            if amount is not None:
                fields["$amount"] = amount
            if close is not None:
                fields["$closeDate"] = close
            rels: dict[str, Any] = {
                "$account": account_ids[account],
                "$owner": member_ids[owner],
                "$createdBy": member_ids[0],
            }
            if contacts:
                rels["$contact"] = [contact_ids[c] for c in contacts]
                rels["$champion"] = contact_ids[contacts[0]]
            if len(contacts) > 1:
                rels["$evaluator"] = contact_ids[contacts[1]]
            opp_id = demo_id(org, "opp", key)
            records.create(
                None,
                org,
                "opportunity",
                {"fields": fields, "relationships": rels},
                at=created,
                record_id=opp_id,
            )
            _add_ai_summary(
                records, opp_id, f"{name}: a deal with {ACCOUNT_NAMES[account]}.", created + HOUR
            )
            for step, stage in enumerate(stages[1:], start=1):
                update: dict[str, Any] = _stage_fields(stage)
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
        # A trashed demo record, for status=trashed and restore.
        trashed_id = demo_id(org, "opp", "globex-poc")
        record = store.get(trashed_id)
        if record is not None:
            snapshot = record.snapshot()
            snapshot.trashed = True
            snapshot.updated_at = SEED_START + 60 * DAY
            store.save(snapshot, snapshot.updated_at)


ACCOUNT_NAMES = {spec[0]: spec[1] for spec in ACCOUNTS}


def _add_ai_summary(records: Records, record_id: str, text: str, at: float) -> None:
    """The product writes the read-only AI summary shortly after create; so does the seed."""
    record = records.store.get(record_id)
    if record is None:
        return
    snapshot = record.snapshot()
    snapshot.fields["$aiSummary"] = text
    records.store.save(snapshot, at)
    records.store.add_history(record_id, "$aiSummary", at, text)


def _stage_fields(stage: Any) -> dict[str, Any]:
    if isinstance(stage, tuple):
        pipeline, label = stage
        return {"$pipeline": pipeline, "$stage": label}
    return {"$pipeline": "Sales", "$stage": stage}


def seed_bulk(
    records: Records,
    org: str,
    *,
    opportunities: int = 0,
    accounts: int = 0,
    contacts: int = 0,
    now: float,
) -> None:
    """Add many plain records fast (no per-record validation): for benchmarks.

    Records are back-dated to the day before ``now`` (so a lagging list index shows them) and
    link opportunities and contacts to existing or new accounts, keeping both sides in step.
    Opportunities also carry a checkbox, a single and a multi-select and one or two
    ``$contact`` links, so benchmark manifests can manage values of several types and both
    relationship kinds.
    """
    store = records.store
    rng = random.Random(f"{org}:{store.count(org, 'opportunity')}:{opportunities}")
    defs = records.defs(org, "opportunity")
    stage_ids = [
        o.id
        for o in defs.fields["$stage"].options
        if o.parent_id == defs.fields["$pipeline"].options[0].id
    ]
    status = {o.label: o.id for o in defs.fields["$opportunityStatus"].options}
    start = now - DAY
    base = (
        store.count(org, "account") + store.count(org, "contact") + store.count(org, "opportunity")
    )
    members = [m.id for m in store.records(org, "member")]
    new: list[Record] = []

    def make(
        kind: str, object_type: str, n: int, fields: dict[str, Any], rels: dict[str, list[str]]
    ) -> Record:
        at = start + (len(new) + 1) * 0.001
        record = Record(
            id=cuid_like(kind, org, "bulk", str(base + n)),
            org=org,
            object_type=object_type,
            seq=store.next_seq(),
            created_at=at,
            updated_at=at,
            fields=fields,
            relationships={k: v for k, v in rels.items() if v},
        )
        new.append(record)
        return record

    account_records = [
        make(
            "acc",
            "account",
            i,
            {
                "$name": f"Bulk account {base + i:06d}",
                "$website": [f"https://bulk{base + i}.example"],
            },
            {"$owner": members[:1]},
        )
        for i in range(accounts)
    ]
    existing_accounts = [a for a in store.records(org, "account") if not a.trashed]
    pool = account_records + existing_accounts
    if (contacts or opportunities) and not pool:
        raise ValueError("seed_bulk needs at least one account to link to")
    by_id = {a.id: a for a in account_records}
    touched: dict[str, Record] = {}

    def account_for(target: Record) -> Record:
        if target.id in by_id:
            return by_id[target.id]
        if target.id not in touched:
            touched[target.id] = target.snapshot()
        return touched[target.id]

    for i in range(contacts):
        account = account_for(rng.choice(pool))
        contact = make(
            "con",
            "contact",
            accounts + i,
            {
                "$name": {"firstName": "Bulk", "lastName": f"Contact {base + i:06d}"},
                "$email": [f"contact{base + accounts + i}@bulk.example"],
            },
            {"$account": [account.id]},
        )
        account.relationships.setdefault("$contact", []).append(contact.id)
    # A second generator for the values added later, so the first one's draws (and so the
    # stages, amounts and links of existing benchmarks and tests) stay as they were.
    extra = random.Random(f"{org}:extra:{store.count(org, 'opportunity')}:{opportunities}")
    regions = [o.id for o in defs.fields["region"].options]
    products = [o.id for o in defs.fields["products"].options]
    contact_pool = [c.id for c in store.records(org, "contact") if not c.trashed]
    contact_pool += [r.id for r in new if r.object_type == "contact"]
    for i in range(opportunities):
        account = account_for(rng.choice(pool))
        stage = rng.choice(stage_ids)
        label = stage_outcome(defs, stage)
        opp = make(
            "opp",
            "opportunity",
            accounts + contacts + i,
            {
                "$name": f"Bulk opportunity {base + i:06d}",
                "$stage": stage,
                "$pipeline": defs.fields["$pipeline"].options[0].id,
                "$opportunityStatus": status[label],
                "$amount": rng.randrange(1, 500) * 1000,
                "priority": rng.randint(1, 5),
                "strategic": extra.random() < 0.3,
                "region": extra.choice(regions),
                "products": sorted(extra.sample(products, extra.randint(1, 3))),
            },
            {
                "$account": [account.id],
                "$owner": [rng.choice(members)] if members else [],
                "$contact": extra.sample(contact_pool, min(len(contact_pool), extra.randint(1, 2))),
            },
        )
        account.relationships.setdefault("$opportunity", []).append(opp.id)
    with store.transaction():
        store.insert_many(new)
        for record in touched.values():
            store.save(record, now)
