"""The Idempotency-Key store (lightfield-api.md §7): replay, in flight, TTL, failures, scope, strict
mode."""

from __future__ import annotations

import pytest

from reconciler.emulator.clock import ManualClock
from reconciler.emulator.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Proceed,
    Replay,
    key_too_long,
)

CREATE = "POST /v1/opportunities"
UPDATE_1 = "POST /v1/opportunities/opp_1"
BODY = b'{"id":"opp_1"}'


def _run(store: IdempotencyStore, key: str = "k1", status: int = 200, org: str = "org_a") -> None:
    assert store.begin(org, CREATE, key, "fp1") == Proceed()
    store.finish(org, CREATE, key, status, BODY, {"content-type": "application/json"})


def test_a_finished_2xx_is_replayed_with_its_exact_response(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    _run(store)

    replay = store.begin("org_a", CREATE, "k1", "fp1")

    assert replay == Replay(status=200, body=BODY, headers={"content-type": "application/json"})
    # replays are stable: asking again gives the same stored response
    assert store.begin("org_a", CREATE, "k1", "fp1") == replay


def test_stored_headers_are_a_copy(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    headers = {"content-type": "application/json"}
    store.begin("org_a", CREATE, "k1", "fp1")
    store.finish("org_a", CREATE, "k1", 200, BODY, headers)
    headers["x-later"] = "mutated"
    replay = store.begin("org_a", CREATE, "k1", "fp1")
    assert isinstance(replay, Replay)
    assert "x-later" not in replay.headers


def test_same_key_while_running_is_in_flight(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()
    assert store.begin("org_a", CREATE, "k1", "fp1") == InFlight()
    store.finish("org_a", CREATE, "k1", 200, BODY, {})
    assert store.begin("org_a", CREATE, "k1", "fp1") == Replay(200, BODY, {})


@pytest.mark.parametrize("status", [400, 404, 409, 422, 429, 500, 503])
def test_failures_are_not_cached(clock: ManualClock, status: int) -> None:
    store = IdempotencyStore(clock)
    _run(store, status=status)
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()
    assert len(store) == 1  # the new attempt is in flight


def test_abandon_lets_a_retry_run(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    store.begin("org_a", CREATE, "k1", "fp1")
    store.abandon("org_a", CREATE, "k1")
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()


def test_keys_expire_after_24_hours(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    _run(store)
    clock.advance(24 * 3600 - 1)
    assert isinstance(store.begin("org_a", CREATE, "k1", "fp1"), Replay)
    clock.advance(1)
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()


def test_ttl_counts_from_the_first_request_not_the_last_replay(clock: ManualClock) -> None:
    store = IdempotencyStore(clock, ttl_seconds=10)
    _run(store)
    for _ in range(3):
        clock.advance(3)
        assert isinstance(store.begin("org_a", CREATE, "k1", "fp1"), Replay)
    clock.advance(1)
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()


def test_a_stuck_in_flight_key_expires_too(clock: ManualClock) -> None:
    store = IdempotencyStore(clock, ttl_seconds=60)
    store.begin("org_a", CREATE, "k1", "fp1")
    clock.advance(60)
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()


def test_expired_entries_are_purged(clock: ManualClock) -> None:
    store = IdempotencyStore(clock, ttl_seconds=60)
    for i in range(100):
        _run(store, key=f"k{i}")
    clock.advance(30)
    _run(store, key="fresh")
    assert len(store) == 101
    clock.advance(30)
    assert len(store) == 1  # only "fresh" (30 s old) is left


def test_keys_are_scoped_per_org(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    _run(store, org="org_a")
    assert store.begin("org_b", CREATE, "k1", "fp1") == Proceed()


def test_keys_are_scoped_per_operation_and_record(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    _run(store)
    assert store.begin("org_a", UPDATE_1, "k1", "fp1") == Proceed()
    assert store.begin("org_a", "POST /v1/opportunities/opp_2", "k1", "fp1") == Proceed()
    assert store.begin("org_a", "POST /v1/accounts", "k1", "fp1") == Proceed()


def test_another_body_replays_by_default_like_the_real_api(clock: ManualClock) -> None:
    store = IdempotencyStore(clock)
    _run(store)
    replay = Replay(200, BODY, {"content-type": "application/json"})
    assert store.begin("org_a", CREATE, "k1", "other-body") == replay  # the first answer


def test_strict_mode_reports_a_body_mismatch(clock: ManualClock) -> None:
    store = IdempotencyStore(clock, strict=True)
    assert store.begin("org_a", CREATE, "k1", "fp1") == Proceed()
    assert store.begin("org_a", CREATE, "k1", "fp2") == Mismatch()  # even while in flight
    store.finish("org_a", CREATE, "k1", 200, BODY, {})
    assert store.begin("org_a", CREATE, "k1", "fp2") == Mismatch()
    assert isinstance(store.begin("org_a", CREATE, "k1", "fp1"), Replay)


def test_finish_after_purge_still_stores_the_response(clock: ManualClock) -> None:
    store = IdempotencyStore(clock, ttl_seconds=5, strict=True)
    store.begin("org_a", CREATE, "k1", "fp1")
    clock.advance(6)
    len(store)  # purges the in-flight entry
    store.finish("org_a", CREATE, "k1", 200, BODY, {})
    assert isinstance(store.begin("org_a", CREATE, "k1", "fp-unknown"), Replay)


def test_key_length_limit() -> None:
    assert not key_too_long("k" * MAX_KEY_LENGTH)
    assert key_too_long("k" * (MAX_KEY_LENGTH + 1))


def test_ttl_must_be_positive(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        IdempotencyStore(clock, ttl_seconds=0)
