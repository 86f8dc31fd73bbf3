"""Idempotency-Key answers outlive the process on a ``--db`` file (the contract's 24 hours): an
emulator restarted on the same file replays them, over real HTTP, until they expire."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.idempotency import DEFAULT_TTL_SECONDS
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server

from .conftest import OPP, api_headers, new_opportunity

START = 1_767_225_600.0


def _emulator(db: Path, now: float, **options: Any) -> Emulator:
    return Emulator(
        db=str(db),
        clock=ManualClock(now),
        rate_limits=RateLimitConfig(enabled=False),
        **options,
    )


def _post(emu: Emulator, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    with (
        running_server(emu) as base_url,
        httpx.Client(base_url=base_url, headers=api_headers()) as http,
    ):
        return http.post(path, json=body, headers={"Idempotency-Key": key})


def _stored_keys(db: Path) -> int:
    with sqlite3.connect(db) as con:
        count: int = con.execute("SELECT count(*) FROM idempotency").fetchone()[0]
    return count


def test_a_restart_on_the_same_file_replays_a_create(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    first = _emulator(db, START)
    created = _post(first, "/v1/opportunities", new_opportunity("Once"), "plan-1:create")
    assert created.status_code == 200
    first.close()

    second = _emulator(db, START + 3600)
    replayed = _post(second, "/v1/opportunities", new_opportunity("Once"), "plan-1:create")
    assert replayed.status_code == 200
    assert replayed.content == created.content  # the stored answer, byte for byte
    names = [
        r["fields"]["$name"]["value"]
        for r in second.records.list_records("org_demo", "opportunity", [("$name", "Once")])["data"]
    ]
    assert names == ["Once"]  # created once, not twice
    assert [m["operation"] for m in second.mutations()] == ["create"]
    second.close()


def test_updates_replay_after_a_restart_and_failures_are_not_kept(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    first = _emulator(db, START)
    updated = _post(first, f"/v1/opportunities/{OPP}", {"fields": {"priority": 1}}, "k-update")
    refused = _post(first, f"/v1/opportunities/{OPP}", {"fields": {"priority": "x"}}, "k-bad")
    assert (updated.status_code, refused.status_code) == (200, 400)
    first.close()
    assert _stored_keys(db) == 1

    second = _emulator(db, START + 60)
    again = _post(second, f"/v1/opportunities/{OPP}", {"fields": {"priority": 2}}, "k-update")
    assert again.json()["fields"]["priority"]["value"] == 1  # replayed, not run
    retried = _post(second, f"/v1/opportunities/{OPP}", {"fields": {"priority": 3}}, "k-bad")
    assert retried.json()["fields"]["priority"]["value"] == 3  # the failure was not kept
    second.close()


def test_strict_mode_still_knows_the_first_body_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    first = _emulator(db, START, strict_idempotency=True)
    assert _post(first, "/v1/opportunities", new_opportunity("A"), "k").status_code == 200
    first.close()
    second = _emulator(db, START + 60, strict_idempotency=True)
    mismatch = _post(second, "/v1/opportunities", new_opportunity("B"), "k")
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "idempotency_key_reused"
    second.close()


def test_keys_older_than_24_hours_are_gone_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    first = _emulator(db, START)
    created = _post(first, "/v1/opportunities", new_opportunity("Day one"), "k-day")
    first.close()
    assert _stored_keys(db) == 1

    later = _emulator(db, START + DEFAULT_TTL_SECONDS)
    assert _stored_keys(db) == 0  # expired rows are deleted when the file is opened
    rerun = _post(later, "/v1/opportunities", new_opportunity("Day one"), "k-day")
    assert rerun.status_code == 200
    assert rerun.json()["id"] != created.json()["id"]  # a new key again: the create ran
    later.close()
    assert _stored_keys(db) == 1
