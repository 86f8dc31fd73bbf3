"""Bulk seeding: thousands of plain records, fast, for benchmarks.

Owns ``seed_bulk``: accounts, contacts and opportunities written straight to the store (no
per-record validation), with ids derived from (org, a running number), values drawn from seeded
random generators (so a run is repeatable) and both sides of every link kept in step. Called by
emulator.py (``Emulator.seed_bulk``).
"""

from __future__ import annotations

import random
from typing import Any

from .definitions import cuid_like, stage_outcome
from .operations import Records
from .stored import Record

DAY = 24 * 3600.0


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
