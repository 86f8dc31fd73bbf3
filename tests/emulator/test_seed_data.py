"""The demo org the API serves is the one ``data/demo.json`` describes, under stable ids.

The demo's records are data shipped inside the package (read with importlib.resources, as the
seed reads them); ids derive from each record's key, so the README's sample ids stay valid.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import httpx
import pytest

from reconciler.emulator.seed import DEMO_ORG, demo_id

DEMO: dict[str, Any] = json.loads(
    resources.files("reconciler.emulator").joinpath("data", "demo.json").read_text("utf-8")
)


def test_the_readme_sample_ids_derive_from_the_data_keys() -> None:
    opportunities = {o["key"] for o in DEMO["opportunities"]}
    accounts = {a["key"] for a in DEMO["accounts"]}
    contacts = {c["email"] for c in DEMO["contacts"]}
    members = {m["email"] for m in DEMO["members"]}
    assert {"acme-renewal-2027", "globex-renewal"} <= opportunities
    assert {"initech", "hooli"} <= accounts
    assert {"nina@acme.com", "monica@hooli.example", "jared@hooli.example"} <= contacts
    assert "omar@acme-sales.example" in members
    assert demo_id(DEMO_ORG, "opp", "acme-renewal-2027") == "opp_cmr3idcbxmiev5v"
    assert demo_id(DEMO_ORG, "opp", "globex-renewal") == "opp_cm6gx0b03ek8pgt"
    assert demo_id(DEMO_ORG, "acc", "initech") == "acc_cm1x15pik34mdzo"
    assert demo_id(DEMO_ORG, "acc", "hooli") == "acc_cm77puc4peiezar"
    assert demo_id(DEMO_ORG, "con", "nina@acme.com") == "con_cmsel1g7rwmrfyv"
    assert demo_id(DEMO_ORG, "mem", "omar@acme-sales.example") == "mem_cmoeodzf0wbayu1"


async def _all(api: httpx.AsyncClient, plural: str, **params: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        page = await api.get(f"/v1/{plural}", params={**params, "offset": str(len(records))})
        assert page.status_code == 200, page.text
        records += page.json()["data"]
        if len(records) >= page.json()["totalCount"]:
            return records


@pytest.mark.anyio
async def test_every_demo_record_is_served_as_the_data_gives_it(api: httpx.AsyncClient) -> None:
    members = {r["id"]: r for r in await _all(api, "members")}
    assert set(members) == {demo_id(DEMO_ORG, "mem", m["email"]) for m in DEMO["members"]}
    accounts = {r["id"]: r for r in await _all(api, "accounts")}
    for account in DEMO["accounts"]:
        fields = accounts[demo_id(DEMO_ORG, "acc", account["key"])]["fields"]
        assert fields["$name"]["value"] == account["name"]
        assert fields["$website"]["value"] == account["websites"]
        assert fields["$primaryAddress"]["value"]["city"] == account["city"]
    assert len(accounts) == len(DEMO["accounts"])
    contacts = {r["id"]: r for r in await _all(api, "contacts")}
    for contact in DEMO["contacts"]:
        record = contacts[demo_id(DEMO_ORG, "con", contact["email"])]
        assert record["fields"]["$title"]["value"] == contact["title"]
        linked = record["relationships"]["$account"]["values"]
        account = contact["account"]
        assert linked == ([demo_id(DEMO_ORG, "acc", account)] if account else [])
    assert len(contacts) == len(DEMO["contacts"])

    definitions = (await api.get("/v1/opportunities/definitions")).json()["fieldDefinitions"]
    options = definitions["$stage"]["typeConfiguration"]["options"]
    stage_label = {o["id"]: o["label"] for o in options}
    active = {r["id"]: r for r in await _all(api, "opportunities")}
    trashed = {r["id"]: r for r in await _all(api, "opportunities", status="trashed")}
    for opportunity in DEMO["opportunities"]:
        opp_id = demo_id(DEMO_ORG, "opp", opportunity["key"])
        record = (trashed if opportunity.get("trashed") else active)[opp_id]
        fields = {key: entry["value"] for key, entry in record["fields"].items()}
        assert fields["$name"] == opportunity["name"]
        assert fields["$amount"] == opportunity["amount"]
        assert fields["$closeDate"] == (
            opportunity["closeDate"].replace("Z", ".000Z") if opportunity["closeDate"] else None
        )
        assert stage_label[fields["$stage"]] == opportunity["stages"][-1]
        for key, value in opportunity["fields"].items():
            # Selects are stored as option ids, phones in E.164; the rest as the data gives them.
            if definitions[key]["valueType"] not in ("SINGLE_SELECT", "MULTI_SELECT", "TELEPHONE"):
                assert fields[key] == value, key
        rels = {key: entry["values"] for key, entry in record["relationships"].items()}
        assert rels["$account"] == [demo_id(DEMO_ORG, "acc", opportunity["account"])]
        assert rels["$owner"] == [demo_id(DEMO_ORG, "mem", opportunity["owner"])]
        assert rels["$contact"] == [demo_id(DEMO_ORG, "con", c) for c in opportunity["contacts"]]
    assert len(active) + len(trashed) == len(DEMO["opportunities"])
    assert len(trashed) == sum(1 for o in DEMO["opportunities"] if o.get("trashed")) == 1
