"""The emulator over real loopback HTTP (uvicorn in a thread), and a file-backed database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.server import running_server

from .conftest import headers, opp


def test_running_server_speaks_http_and_breaks_connections_for_real() -> None:
    emu = Emulator()
    with (
        running_server(emu) as base_url,
        httpx.Client(base_url=base_url, headers=headers()) as http,
    ):
        assert base_url.startswith("http://127.0.0.1:")
        response = http.get(f"/v1/opportunities/{opp('hooli-renewal')}")
        assert response.status_code == 200
        assert response.json()["fields"]["$name"]["value"] == "Hooli renewal"
        assert response.headers["X-RateLimit-Limit"] == "25"
        emu.faults.configure(
            FaultConfig(rules=[FaultRule(action="commit_then_drop", method="POST")])
        )
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"/v1/opportunities/{opp('hooli-renewal')}", json={"fields": {"priority": 3}})
        # committed despite the broken connection, and the server still serves
        again = http.get(f"/v1/opportunities/{opp('hooli-renewal')}")
        assert again.json()["fields"]["priority"]["value"] == 3
        mutations = http.get("/_emulator/mutations").json()
        assert [m["operation"] for m in mutations] == ["update"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/v1/auth/validate", headers=headers())


def test_file_database_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite")
    first = Emulator(db=db)
    first.records.update(
        None, "org_demo", "opportunity", opp("hooli-renewal"), {"fields": {"priority": 8}}
    )
    first.seed_bulk(opportunities=5)
    first.close()
    second = Emulator(db=db)  # not re-seeded: the data is the file's
    record = second.records.retrieve("org_demo", "opportunity", opp("hooli-renewal"))
    assert record["fields"]["priority"]["value"] == 8
    assert second.records.list_records("org_demo", "opportunity", [])["totalCount"] == 22
    assert second.store.grant_for("sk_lf_demo_full") is not None
    raw = Path(db).read_bytes()
    assert b"sk_lf_demo_full" not in raw  # only key hashes are stored


def test_empty_seed_has_keys_and_definitions_but_no_records() -> None:
    emu = Emulator(seed="empty")
    assert emu.store.grant_for("sk_lf_demo_read") is not None
    assert emu.records.list_records("org_demo", "opportunity", [])["totalCount"] == 0
    assert emu.records.list_records("org_demo", "member", [])["totalCount"] == 0
    assert "$stage" in emu.records.definitions("org_demo", "opportunity")["fieldDefinitions"]


def test_demo_ids_are_deterministic() -> None:
    first = Emulator().records.list_records("org_demo", "opportunity", [])
    second = Emulator().records.list_records("org_demo", "opportunity", [])
    assert [r["id"] for r in first["data"]] == [r["id"] for r in second["data"]]
    assert first["data"][-1]["id"] == opp("acme-renewal-2027")


def test_seed_bulk_is_linked() -> None:
    emu = Emulator()
    emu.seed_bulk(opportunities=2000, accounts=100, contacts=300)
    listed = emu.records.list_records("org_demo", "opportunity", [("$name[startsWith]", "Bulk")])
    assert listed["totalCount"] == 2000
    sample = listed["data"][0]
    account_id = sample["relationships"]["$account"]["values"][0]
    account = emu.records.retrieve("org_demo", "account", account_id)
    assert sample["id"] in account["relationships"]["$opportunity"]["values"]
