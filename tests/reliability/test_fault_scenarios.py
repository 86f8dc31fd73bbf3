"""Fault survival (issue 7): each scenario runs a real apply of the bench's six manifests
against the emulator under one fault, then proves from the emulator's logs and live records
that nothing was applied twice, everything desired holds, nothing unmanaged moved, and a second
plan is empty. A run the fault stopped is re-run once without it ("rerun is safe").

Scenarios taking ``seed`` run once per seed (2 by default, 10 with ``--slow``); the seed drives
the client's jitter and the emulator's fault draws.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from reconciler.adapters.buckets import RateConfig
from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.core.errors import LfrError
from reconciler.core.org import OrgSchema
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.seed import DEMO_ORG, READ_SCOPES, demo_id
from reconciler.render import text as text_render
from reconciler.runs.apply import apply_plan
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, READ_KEY, opportunity

from .conftest import ClientFactory
from .harness import (
    RECORDS,
    InterleavingTransport,
    apply_dir,
    assert_converged,
    collector,
    creates,
    duplicate_changes,
    last_request,
    last_seq,
    plan_of,
    snapshot,
    write_manifests,
    writes,
)

POST = "POST"
OLIVER = demo_id(DEMO_ORG, "con", "oliver@acme.co.uk")  # a contact no manifest here links


async def survive(
    client: LightfieldClient,
    emu: Emulator,
    directory: Path,
    faults: FaultConfig,
    *,
    apply_client: LightfieldClient | None = None,
) -> tuple[list[str], str]:
    """Apply under ``faults``; re-run once without them if anything failed; then every check.
    Returns the first run's record statuses and its rendered text report."""
    before = await snapshot(client)
    since = last_seq(emu)
    plan = await plan_of(client, directory)
    schema = OrgSchema(await client.definitions("opportunities"))
    emu.faults.configure(faults)
    report = await apply_plan(apply_client or client, plan, schema)
    emu.faults.configure(FaultConfig())
    if not report.ok:
        _, rerun = await apply_dir(client, directory)
        assert rerun.ok, text_render.render_report(rerun)
    await assert_converged(client, emu, directory, before, since=since)
    return [r.status for r in report.results], text_render.render_report(report)


def by_key(emu: Emulator, since: int = 0) -> dict[str, list[int]]:
    """Idempotency key → the statuses of every attempt that carried it."""
    attempts: dict[str, list[int]] = defaultdict(list)
    for request in writes(emu, since):
        attempts[request["idempotency_key"]].append(request["status"])
    return dict(attempts)


# --- 429 -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_429_with_retry_after_on_the_first_writes(
    seed: int, make_client: ClientFactory, emu: Emulator, bench_dir: Path
) -> None:
    waits: list[tuple[int, float]] = []
    client = make_client(
        retry=RetryPolicy(rng=random.Random(seed)),
        on_retry=lambda attempt, error, delay: waits.append((getattr(error, "status", 0), delay)),
    )
    rule = FaultRule(action="status", method=POST, status=429, retry_after=2, times=3)
    statuses, _ = await survive(client, emu, bench_dir, FaultConfig(rules=[rule], seed=seed))
    assert statuses == ["applied"] * RECORDS
    assert [delay for status, delay in waits if status == 429] == [2.0, 2.0, 2.0]
    # Each record's attempts all carried its one key: a 429 then a 200, or just a 200.
    assert sorted(map(tuple, by_key(emu).values())) == sorted(
        [(429, 200)] * 3 + [(200,)] * (RECORDS - 3)
    )


@pytest.mark.anyio
async def test_429_beyond_the_retry_budget_stops_cleanly_and_rerun_is_safe(
    seed: int, make_client: ClientFactory, emu: Emulator, bench_dir: Path
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=4, rng=random.Random(seed)))
    rule = FaultRule(action="status", method=POST, status=429, retry_after=1, skip=2, times=None)
    statuses, rendered = await survive(client, emu, bench_dir, FaultConfig(rules=[rule]))
    assert statuses.count("applied") == 2
    assert f"2 of {RECORDS} applied" in rendered
    assert "Re-running apply is safe" in rendered
    assert "gave up after 4 attempts" in rendered
    # The attempt cap held for every key that met the storm, and the re-run sent the very same
    # keys (same plan of the same world), which the API now accepted.
    assert {s.count(429) for s in by_key(emu).values() if 429 in s} == {4}
    assert all(s[-1] == 200 for s in by_key(emu).values())


@pytest.mark.anyio
async def test_a_429_storm_respects_attempt_caps_the_deadline_and_the_rate_limit(
    seed: int, make_client: ClientFactory, emu: Emulator, bench_dir: Path
) -> None:
    limit = 2.0  # writes per second, server side; the client is configured to match (--rate 2)
    emu.rate_limits.configure(
        RateLimitConfig(per_second={"read": 25.0, "search": 25.0, "write": limit})
    )
    policy = RetryPolicy(max_attempts=5, deadline=3.0, rng=random.Random(seed))
    waits: dict[str, list[float]] = defaultdict(list)
    client = make_client(
        rates=RateConfig(write=limit),
        retry=policy,
        on_retry=lambda attempt, error, delay: waits[getattr(error, "path", "")].append(delay),
    )
    storm = FaultRule(
        action="status", method=POST, status=429, retry_after=1, times=None, probability=0.5
    )
    first = FaultRule(action="status", method=POST, status=429, retry_after=1, times=1)
    mark = last_request(emu)
    await survive(client, emu, bench_dir, FaultConfig(rules=[first, storm], seed=seed))
    sent = writes(emu, mark)
    # Attempt cap and deadline: per call, never more than 5 attempts, and the waits it chose
    # never add up past the 3 s deadline.
    assert max(len(s) for s in by_key(emu, mark).values()) <= policy.max_attempts
    assert all(sum(delays) <= 3.0 for delays in waits.values()), waits
    # The client never went over the limit: the emulator's own limiter refused nothing (every
    # 429 was the injected storm), and no 1 s window holds more than a full bucket plus refill.
    assert [r for r in sent if r["status"] == 429 and r["fault"] is None] == []
    times = sorted(r["at"] for r in sent)
    assert all(sum(1 for t in times if start <= t < start + 1) <= 2 * limit for start in times)


# --- 5xx and damaged answers ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(action="status", method=POST, status=503, retry_after=1, times=4),
        FaultRule(action="status", method=POST, status=502, times=2),
        FaultRule(action="commit_then_status", method=POST, status=500, times=3),
        FaultRule(action="commit_then_drop", method=POST, times=3),
    ],
    ids=["503 burst", "502 burst", "500 after commit", "connection reset after commit"],
)
async def test_transient_failures_are_retried_with_the_same_key_and_land_once(
    rule: FaultRule, seed: int, client: LightfieldClient, emu: Emulator, bench_dir: Path
) -> None:
    statuses, _ = await survive(client, emu, bench_dir, FaultConfig(rules=[rule], seed=seed))
    assert statuses == ["applied"] * RECORDS
    assert len(by_key(emu)) == RECORDS  # one key per record, however many attempts
    if rule.action.startswith("commit"):
        # The committed-but-unanswered writes were replayed: one mutation per record.
        assert len([m for m in emu.mutations() if m["operation"] != "create"]) == RECORDS - 1


@pytest.mark.anyio
@pytest.mark.parametrize("action", ["malformed_body", "truncate_body"])
async def test_a_damaged_2xx_is_never_taken_as_success_but_verified(
    action: str, seed: int, client: LightfieldClient, emu: Emulator, bench_dir: Path
) -> None:
    # Every record's first write is answered 200 with a body that is not the record.
    rule = FaultRule(action=action, method=POST, times=RECORDS)  # type: ignore[arg-type]
    mark = last_request(emu)
    statuses, rendered = await survive(client, emu, bench_dir, FaultConfig(rules=[rule], seed=seed))
    assert statuses == ["applied"] * RECORDS
    assert "(0 requests)" not in rendered  # the damaged attempt counts as sent
    log = emu.requests(mark)
    for index, request in enumerate(log):
        if request["fault"] != action:
            continue
        after = log[index + 1 :]
        if request["path"] == "/v1/opportunities":
            # A create has no id to read back: the same request under the same key is replayed,
            # which returns the record the first attempt made.
            assert any(
                r["idempotency_key"] == request["idempotency_key"] and r["fault"] is None
                for r in after
            )
        else:
            assert any(r["method"] == "GET" and r["path"] == request["path"] for r in after)


@pytest.mark.anyio
async def test_a_read_timeout_is_retried_and_the_key_in_flight_waited_for(
    seed: int, live_emu: Emulator, server: str, manifest_dir: Path
) -> None:
    write_manifests(manifest_dir)
    async with LightfieldClient(
        FULL_KEY,
        base_url=server,
        rates=None,
        timeout=httpx.Timeout(0.15),
        retry=RetryPolicy(
            max_attempts=40, base_delay=0.02, max_delay=0.05, rng=random.Random(seed)
        ),
    ) as client:
        # Every write takes 0.4 s on the server (holding its key), well past the 0.15 s read
        # timeout: the first attempt times out, the next ones meet 409 idempotency_conflict
        # while it runs, and the first one after it finished is answered by a replay.
        statuses, _ = await survive(
            client, live_emu, manifest_dir, FaultConfig(latency_ms=400.0, seed=seed)
        )
    assert statuses == ["applied"] * RECORDS
    attempts = by_key(live_emu)
    assert len(attempts) == RECORDS
    assert all(s[-1] == 200 and 409 in s for s in attempts.values()), attempts


@pytest.mark.anyio
async def test_two_applies_of_one_plan_racing_meet_409_wait_and_land_once(
    emu: Emulator, bench_dir: Path, make_client: ClientFactory, seed: int
) -> None:
    # Real sleeps of a few milliseconds: the second apply must wait for the first in real time.
    def racer() -> LightfieldClient:
        return make_client(
            clock=None,
            retry=RetryPolicy(
                max_attempts=40, base_delay=0.01, max_delay=0.03, rng=random.Random(seed)
            ),
        )

    first, second = racer(), racer()
    before = await snapshot(first)
    plan = await plan_of(first, bench_dir)
    schema = OrgSchema(await first.definitions("opportunities"))
    emu.faults.configure(FaultConfig(latency_ms=80.0))
    reports = await asyncio.gather(
        apply_plan(first, plan, schema), apply_plan(second, plan, schema)
    )
    emu.faults.configure(FaultConfig())
    assert [r.ok for r in reports] == [True, True]
    attempts = by_key(emu)
    assert len(attempts) == RECORDS
    assert any(409 in s for s in attempts.values()), "the race must have met a key in flight"
    await assert_converged(first, emu, bench_dir, before, since=0)


# --- one record rejected, or the key refused ---------------------------------------------------


@pytest.mark.anyio
async def test_400_and_422_fail_their_record_only_naming_file_and_line(
    client: LightfieldClient, emu: Emulator, bench_dir: Path
) -> None:
    acme_services = "opp_cmwjenmp4fp2zc5"
    (bench_dir / "bad.yaml").write_text(
        opportunity(
            "bad",
            acme_services,
            f"fields:\n  $amount: 31000\nrelationships:\n  $champion: {OLIVER}",
        )
    )
    before = await snapshot(client)
    rule = FaultRule(
        action="status", method=POST, status=400, path=f"/v1/opportunities/{INITECH}", times=None
    )
    # The plan confirms the champion exists (it refuses a missing id itself); it is trashed
    # before the apply, which the API answers with a 422.
    plan = await plan_of(client, bench_dir)
    await client.delete("contacts", OLIVER)
    emu.faults.configure(FaultConfig(rules=[rule]))
    report = await apply_plan(client, plan, OrgSchema(await client.definitions("opportunities")))
    emu.faults.configure(FaultConfig())
    rendered = text_render.render_report(report)
    by_name = {r.name: r for r in report.results}
    assert {n for n, r in by_name.items() if r.status != "applied"} == {"bad", "initech"}
    assert report.stopped is None  # a rejected record is not a reason to stop the others
    assert "unprocessable_content (relationship_entity_inactive)" in rendered
    assert "at manifests/bad.yaml:10" in rendered  # the line of $champion
    assert "bad_request" in rendered and "at manifests/initech.yaml:1" in rendered
    # Never retried: one attempt each.
    assert len([w for w in writes(emu) if w["path"].endswith(acme_services)]) == 1
    assert len([w for w in writes(emu) if w["path"].endswith(INITECH)]) == 1
    # Once the manifest is fixed and the API accepts the other record, a re-run converges.
    (bench_dir / "bad.yaml").unlink()
    _, rerun = await apply_dir(client, bench_dir)
    assert [r.name for r in rerun.results] == ["initech"] and rerun.ok
    await assert_converged(client, emu, bench_dir, before, since=0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("sk_lf_revoked_key_0000", "401 unauthorized"),
        (READ_KEY, "lacks the 'opportunities:update' scope"),
    ],
    ids=["401", "403"],
)
async def test_401_and_403_stop_the_run_with_zero_writes(
    key: str,
    named: str,
    make_client: ClientFactory,
    client: LightfieldClient,
    emu: Emulator,
    bench_dir: Path,
) -> None:
    statuses, rendered = await survive(
        client, emu, bench_dir, FaultConfig(), apply_client=make_client(key)
    )
    assert "applied" not in statuses
    assert named in rendered
    assert f"0 of {RECORDS} applied" in rendered
    assert key not in rendered


def test_cli_a_key_without_the_create_scope_is_refused_before_any_write(
    live_emu: Emulator, server: str, manifest_dir: Path
) -> None:
    live_emu.add_key(DEMO_ORG, "sk_lf_update_only", [*READ_SCOPES, "opportunities:update"])
    write_manifests(manifest_dir)
    result = lfr(["apply", str(manifest_dir), "--auto-approve"], server, key="sk_lf_update_only")
    assert result.exit_code == 1
    assert "lacks the 'opportunities:create' scope" in result.stderr
    assert writes(live_emu) == []


def test_cli_retry_budget_exhausted_exits_1_saying_k_of_n_and_rerun_converges(
    live_emu: Emulator, server: str, manifest_dir: Path
) -> None:
    write_manifests(manifest_dir)
    live_emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(
                    action="status", method=POST, status=429, retry_after=0.01, skip=1, times=None
                )
            ]
        )
    )
    stopped = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert stopped.exit_code == 1
    assert f"1 of {RECORDS} applied" in stopped.stdout
    assert "Re-running apply is safe" in stopped.stdout
    live_emu.faults.configure(FaultConfig())
    rerun = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
    assert rerun.exit_code == 0, rerun.output
    assert lfr(["plan", str(manifest_dir), "--detailed-exitcode"], server).exit_code == 0
    assert len(creates(live_emu)) == 1
    assert duplicate_changes(live_emu) == []


# --- a redirect to another host ---------------------------------------------------------------


@pytest.mark.anyio
async def test_a_redirect_to_another_host_is_not_followed_and_the_key_never_reaches_it(
    live_emu: Emulator, server: str, manifest_dir: Path
) -> None:
    write_manifests(manifest_dir)
    with collector() as (elsewhere, seen):
        rules = [
            FaultRule(
                action="redirect",
                status=status,
                method=POST,
                path=f"/v1/opportunities/{ACME_RENEWAL}",
                location=f"{elsewhere}/v1/opportunities/{ACME_RENEWAL}",
                times=1,
            )
            for status in (307, 308)
        ]
        async with LightfieldClient(FULL_KEY, base_url=server, rates=None) as client:
            statuses, rendered = await survive(
                client, live_emu, manifest_dir, FaultConfig(rules=rules)
            )
            # Reads are not followed either.
            live_emu.faults.configure(
                FaultConfig(rules=[FaultRule(action="redirect", status=302, location=elsewhere)])
            )
            with pytest.raises(LfrError, match="not followed"):
                await client.retrieve("opportunities", INITECH)
        assert seen == [], "the other host must never receive a request"
    assert statuses.count("failed") == 1
    assert "redirect to host '127.0.0.1' not followed" in rendered


# --- the world moving -----------------------------------------------------------------------------


def edit(base_url: str, record_id: str, body: dict[str, object]) -> None:
    """Someone editing the CRM by hand."""
    response = httpx.post(
        f"{base_url}/v1/opportunities/{record_id}",
        json=body,
        headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
    )
    response.raise_for_status()


def test_a_managed_field_edited_between_runs_is_drift_and_apply_repairs_it_with_a_new_key(
    live_emu: Emulator, server: str, manifest_dir: Path
) -> None:
    write_manifests(manifest_dir)
    assert lfr(["apply", str(manifest_dir), "--auto-approve"], server).exit_code == 0
    keys = {m["idempotency_key"] for m in live_emu.mutations()}
    edit(server, ACME_RENEWAL, {"fields": {"$amount": 120000}})
    drift = lfr(["drift", str(manifest_dir)], server, key=READ_KEY)
    assert drift.exit_code == 2, drift.output
    assert "$amount: manifest 135,000, live 120,000" in drift.stdout
    # Three times: someone puts $amount back to the value the plan started from, so every
    # re-plan computes the same key, and apply must repair it every time with a key the API
    # has not seen (a replay of an earlier repair would report a success that is not there).
    for round_ in range(3):
        if round_:
            edit(server, ACME_RENEWAL, {"fields": {"$amount": 120000}})
        mark = last_seq(live_emu)
        repair = lfr(["apply", str(manifest_dir), "--auto-approve"], server)
        assert repair.exit_code == 0, repair.output
        (repaired,) = [m for m in live_emu.mutations(mark) if m["changes"]["fields"]]
        assert repaired["changes"]["fields"]["$amount"]["after"] == 135000, round_
        assert repaired["idempotency_key"] not in keys, "a new key, not a stale replay"
        keys.add(repaired["idempotency_key"])
    clean = lfr(["drift", str(manifest_dir)], server, key=READ_KEY)
    assert clean.exit_code == 0, clean.output
    # Someone sets it to a third value: a new planned-from value, so a new key outright.
    edit(server, ACME_RENEWAL, {"fields": {"$amount": 1}})
    mark = last_seq(live_emu)
    assert lfr(["apply", str(manifest_dir), "--auto-approve"], server).exit_code == 0
    (repaired,) = [m for m in live_emu.mutations(mark) if m["changes"]["fields"]]
    assert repaired["idempotency_key"] not in keys


@pytest.mark.anyio
async def test_an_unmanaged_field_edited_during_apply_is_preserved(
    emu: Emulator, make_client: ClientFactory, bench_dir: Path
) -> None:
    editor = make_client()
    before = await snapshot(editor)

    async def someone_edits() -> None:
        # After the plan, just before apply's write to this record: an unmanaged field and an
        # unmanaged link change by hand.
        await editor.update(
            "opportunities",
            ACME_RENEWAL,
            {"fields": {"competitor": "Initrode"}, "relationships": {"$owner": {"replace": None}}},
            idempotency_key=None,
        )

    transport = InterleavingTransport(httpx.ASGITransport(app=emu.app), ACME_RENEWAL, someone_edits)
    _, report = await apply_dir(make_client(transport=transport), bench_dir)
    assert report.ok, text_render.render_report(report)
    assert transport.hook is None, "the edit must have happened during the apply"
    before[ACME_RENEWAL] |= {"competitor": "Initrode", "$owner": []}
    await assert_converged(editor, emu, bench_dir, before, since=0)


def test_a_live_change_between_plan_and_apply_refuses_the_saved_plan(
    live_emu: Emulator, server: str, manifest_dir: Path, tmp_path: Path
) -> None:
    write_manifests(manifest_dir)
    saved = tmp_path / "plan.json"
    assert lfr(["plan", str(manifest_dir), "--out", str(saved)], server).exit_code == 0
    # An unmanaged value moving does not make the plan stale...
    edit(server, INITECH, {"fields": {"competitor": "Initrode"}})
    # ...a planned-from (managed) value does.
    edit(server, INITECH, {"fields": {"priority": 9}})
    mark = last_request(live_emu)
    refused = lfr(["apply", str(saved), "--auto-approve"], server)
    assert refused.exit_code == 1
    assert re.search(rf"initech \({INITECH}\) priority: planned from \S+, now 9", refused.stderr)
    assert writes(live_emu, mark) == []
    # Re-planned, it applies, and the unmanaged edit is still there.
    assert lfr(["plan", str(manifest_dir), "--out", str(saved)], server).exit_code == 0
    assert lfr(["apply", str(saved), "--auto-approve"], server).exit_code == 0
    live = httpx.get(
        f"{server}/v1/opportunities/{INITECH}",
        headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
    ).json()
    assert live["fields"]["competitor"]["value"] == "Initrode"
    assert live["fields"]["priority"]["value"] == 3


@pytest.mark.anyio
async def test_a_value_changed_back_within_the_same_millisecond_is_still_repaired(
    client: LightfieldClient, emu: Emulator, manifest_dir: Path
) -> None:
    # On the frozen simulated clock the apply and the hand edit share one updatedAt stamp, so
    # the next apply's replayed answer is not *older* than the record it planned from, only not
    # newer: still a replay of the first run's write, not this run's.
    (manifest_dir / "a.yaml").write_text(opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 7"))
    _, first = await apply_dir(client, manifest_dir)
    assert first.ok
    await client.update(
        "opportunities", ACME_RENEWAL, {"fields": {"$amount": 120000}}, idempotency_key=None
    )
    _, again = await apply_dir(client, manifest_dir)
    (result,) = again.results
    assert (result.status, result.resent) == ("applied", True)
    assert (await client.retrieve("opportunities", ACME_RENEWAL)).value("$amount") == 7
