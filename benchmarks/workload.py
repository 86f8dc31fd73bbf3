"""What the benchmark manages: live opportunities, and manifests that match or differ from them.

Owns the benchmark's data: a seeded emulator database (demo org + T bulk opportunities) and the
values of its opportunities; N id-addressed manifests of which D differ from live, managing
fields of several value types ($amount CURRENCY, $stage dependent select, priority NUMBER,
strategic CHECKBOX, region SINGLE_SELECT, products MULTI_SELECT) and both relationship kinds
($owner HAS_ONE by email reference or by id, $contact HAS_MANY by id); and, for the in-process
core benchmark, synthetic opportunities with their wire form. Called by suite.py and
the measurements.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.emulator import Emulator
from reconciler.emulator.definitions import ObjectDefs, build_definitions, cuid_like
from reconciler.emulator.seed import DEMO_ORG, MEMBERS, demo_id

BULK_PREFIX = "Bulk opportunity"
FILES_PER_FOLDER = 100


@dataclass(frozen=True)
class Opportunity:
    """The managed values of one opportunity, as the API stores them (option and record ids)."""

    id: str
    name: str
    amount: int
    stage: str
    priority: int
    strategic: bool
    region: str
    products: tuple[str, ...]
    owner: str
    contacts: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """How a manifest spells the org's ids."""

    stages: dict[str, str]  # stage option id → its label, or the id when the label is ambiguous
    regions: dict[str, str]  # option id → label
    products: dict[str, str]  # option id → label
    members: dict[str, str]  # member id → email
    contacts: tuple[str, ...]  # contact ids a changed record may link to


@dataclass(frozen=True)
class Seeded:
    """A seeded database file and what it holds."""

    path: Path
    vocabulary: Vocabulary
    opportunities: list[Opportunity]  # the bulk ones, newest first (list order)
    listed: int  # active opportunities in the list, demo ones included


def vocabulary(defs: ObjectDefs, members: dict[str, str], contacts: Iterable[str]) -> Vocabulary:
    stage_options = defs.fields["$stage"].options
    counts = Counter(o.label.casefold() for o in stage_options)
    return Vocabulary(
        stages={o.id: o.label if counts[o.label.casefold()] == 1 else o.id for o in stage_options},
        regions={o.id: o.label for o in defs.fields["region"].options},
        products={o.id: o.label for o in defs.fields["products"].options},
        members=members,
        contacts=tuple(sorted(contacts)),
    )


def seed_database(path: Path, opportunities: int, contacts: int) -> Seeded:
    """Create ``path`` holding the demo org plus the bulk records; read back what it holds."""
    emu = Emulator(db=str(path), seed="demo")
    try:
        emu.seed_bulk(opportunities=opportunities, contacts=contacts)
        store = emu.store
        members = {
            m.id: str(m.fields["$email"])
            for m in store.records(DEMO_ORG, "member")
            if not m.trashed
        }
        contact_ids = [c.id for c in store.records(DEMO_ORG, "contact") if not c.trashed]
        records = [r for r in store.records(DEMO_ORG, "opportunity") if not r.trashed]
        vocab = vocabulary(emu.records.defs(DEMO_ORG, "opportunity"), members, contact_ids)
        bulk = [
            _from_stored(r.id, r.fields, r.relationships)
            for r in records
            if str(r.fields.get("$name", "")).startswith(BULK_PREFIX)
        ]
        return Seeded(path, vocab, bulk, len(records))
    finally:
        emu.close()


def _from_stored(
    record_id: str, fields: dict[str, Any], relationships: dict[str, list[str]]
) -> Opportunity:
    owner = relationships.get("$owner") or []
    return Opportunity(
        id=record_id,
        name=str(fields["$name"]),
        amount=int(fields["$amount"]),
        stage=str(fields["$stage"]),
        priority=int(fields["priority"]),
        strategic=bool(fields["strategic"]),
        region=str(fields["region"]),
        products=tuple(fields["products"]),
        owner=owner[0],
        contacts=tuple(relationships.get("$contact") or ()),
    )


def changed(opp: Opportunity, k: int, vocab: Vocabulary) -> Opportunity:
    """``opp`` with a different $amount and one more difference, of a kind chosen by ``k``."""
    opp = replace(opp, amount=opp.amount + 1000)
    kind = k % 4
    if kind == 0:
        missing = [p for p in sorted(vocab.products) if p not in opp.products]
        products = (*opp.products, missing[0]) if missing else opp.products[1:]
        return replace(opp, products=tuple(sorted(products)))
    if kind == 1:
        members = sorted(vocab.members)
        return replace(opp, owner=members[(members.index(opp.owner) + 1) % len(members)])
    if kind == 2:
        extra = [c for c in vocab.contacts if c not in opp.contacts]
        return replace(opp, contacts=(*opp.contacts, extra[k % len(extra)]))
    regions = sorted(vocab.regions)
    return replace(
        opp,
        strategic=not opp.strategic,
        region=regions[(regions.index(opp.region) + 1) % len(regions)],
    )


def linking(differing: set[int]) -> int:
    """Raw contact ids the changes ``changed`` makes at ``differing`` newly link (kind 2)."""
    return sum(1 for index in differing if index % 4 == 2)


def one_more_contact(opp: Opportunity, k: int, vocab: Vocabulary) -> Opportunity:
    """``opp`` linking one more contact (a HAS_MANY edit and nothing else), chosen by ``k``."""
    extra = [c for c in vocab.contacts if c not in opp.contacts]
    return replace(opp, contacts=(*opp.contacts, extra[(k * 7) % len(extra)]))


def spread(count: int, picked: int) -> set[int]:
    """``picked`` indices spread evenly over ``range(count)``."""
    picked = min(picked, count)
    return {i * count // picked for i in range(picked)} if picked else set()


def manifest(name: str, opp: Opportunity, vocab: Vocabulary, *, owner_by_email: bool) -> str:
    """One manifest document for ``opp`` (YAML; strings double-quoted, which YAML reads as JSON)."""
    owner = (
        f"{{email: {json.dumps(vocab.members[opp.owner])}}}"
        if owner_by_email
        else json.dumps(opp.owner)
    )
    return "\n".join(
        [
            "apiVersion: lfr/v1",
            "kind: Opportunity",
            "metadata:",
            f"  name: {name}",
            f"  id: {opp.id}",
            "spec:",
            "  fields:",
            f"    $amount: {opp.amount}",
            f"    $stage: {json.dumps(vocab.stages[opp.stage])}",
            f"    priority: {opp.priority}",
            f"    strategic: {'true' if opp.strategic else 'false'}",
            f"    region: {json.dumps(vocab.regions[opp.region])}",
            f"    products: [{', '.join(json.dumps(vocab.products[p]) for p in opp.products)}]",
            "  relationships:",
            f"    $owner: {owner}",
            f"    $contact: [{', '.join(opp.contacts)}]",
            "",
        ]
    )


def write_manifests(
    directory: Path,
    opportunities: Sequence[Opportunity],
    vocab: Vocabulary,
    differing: set[int],
    *,
    owner_by_email: bool = True,
    edit: Callable[[Opportunity, int, Vocabulary], Opportunity] = changed,
) -> None:
    """One file per record, a hundred per folder (like a repository grouped by team); the
    ``differing`` ones changed by ``edit``."""
    for index, opp in enumerate(opportunities):
        wanted = edit(opp, index, vocab) if index in differing else opp
        folder = directory / f"team-{index // FILES_PER_FOLDER:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"opp-{index:05d}"
        text = manifest(name, wanted, vocab, owner_by_email=owner_by_email)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


# --- the core benchmark's synthetic org ---------------------------------------------------------


def synthetic(count: int, seed: int = 6) -> tuple[Vocabulary, ObjectDefs, list[Opportunity]]:
    """``count`` opportunities of the demo org's definitions, without any emulator."""
    defs = build_definitions(DEMO_ORG)["opportunity"]
    members = {demo_id(DEMO_ORG, "mem", email): email for _, _, email, _ in MEMBERS}
    contacts = [cuid_like("con", DEMO_ORG, "core", str(i)) for i in range(500)]
    vocab = vocabulary(defs, members, contacts)
    sales = defs.fields["$pipeline"].options[0].id
    stages = [o.id for o in defs.fields["$stage"].options if o.parent_id == sales]
    rng = random.Random(seed)
    member_ids = sorted(members)
    opportunities = [
        Opportunity(
            id=cuid_like("opp", DEMO_ORG, "core", str(i)),
            name=f"Core opportunity {i:06d}",
            amount=rng.randrange(1, 500) * 1000,
            stage=rng.choice(stages),
            priority=rng.randint(1, 5),
            strategic=rng.random() < 0.3,
            region=rng.choice(sorted(vocab.regions)),
            products=tuple(sorted(rng.sample(sorted(vocab.products), rng.randint(1, 3)))),
            owner=rng.choice(member_ids),
            contacts=tuple(rng.sample(contacts, rng.randint(1, 2))),
        )
        for i in range(count)
    ]
    return vocab, defs, opportunities


def wire_record(opp: Opportunity, defs: ObjectDefs) -> dict[str, Any]:
    """``opp`` as ``GET /v1/opportunities/{id}`` returns it (every defined key present)."""
    values: dict[str, Any] = {
        "$name": opp.name,
        "$pipeline": defs.fields["$pipeline"].options[0].id,
        "$stage": opp.stage,
        "$amount": opp.amount,
        "priority": opp.priority,
        "strategic": opp.strategic,
        "region": opp.region,
        "products": list(opp.products),
    }
    links: dict[str, list[str]] = {"$owner": [opp.owner], "$contact": list(opp.contacts)}
    return {
        "id": opp.id,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "httpLink": f"https://lightfield.emulator.invalid/{DEMO_ORG}/opportunities/{opp.id}",
        "fields": {
            key: {"value": values.get(key), "valueType": f.value_type}
            for key, f in defs.fields.items()
        },
        "relationships": {
            key: {
                "cardinality": r.cardinality,
                "objectType": r.object_type,
                "values": links.get(key, []),
            }
            for key, r in defs.relationships.items()
        },
    }
