"""``lfr doctor`` through the CLI against each emulator contract profile: what it finds, what it
says it tolerates, that it only reads, and that it fails on what lfr cannot work with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.seed import DEMO_ORG
from reconciler.emulator.server import running_server
from tests.support.cli import lfr
from tests.support.demo import FULL_KEY, READ_KEY


@contextmanager
def served(profile: str, **options: object) -> Iterator[tuple[Emulator, str]]:
    emu = Emulator(db=":memory:", seed="demo", profile=profile, **options)  # type: ignore[arg-type]
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        yield emu, base_url


@pytest.fixture(params=["default", "strict-0.20", "normalising"])
def profiled(request: pytest.FixtureRequest) -> Iterator[tuple[str, Emulator, str]]:
    with served(request.param) as (emu, base_url):
        yield request.param, emu, base_url


def test_doctor_passes_every_profile_and_names_what_it_found(
    profiled: tuple[str, Emulator, str],
) -> None:
    profile, emu, base_url = profiled
    result = lfr(["doctor"], base_url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "ok    key          active; scopes: full access" in out
    assert "ok    paging       limit/offset pages; totalCount 17" in out
    assert "ok    filters      answered: $name[equal], $account (relationship)" in out
    assert "ok    rate limits  X-RateLimit-Limit/-Remaining/-Reset sent (limit 25)" in out
    shape = (
        "un-enveloped {type, message, code, param}"
        if profile == "strict-0.20"
        else "enveloped {error: {type, message, ...}}"
    )
    assert f"ok    errors       404 body {shape}; read as type 'not_found'" in out
    assert f"  - error bodies {shape}" in out
    required = "definitions mark $name, $stage required on create"
    assert (required in out) == (profile == "strict-0.20")
    assert "Client tolerances in use:" in out and "--array-replace" in out
    assert out.endswith("lfr can work with this API.\n")
    # Read-only: no write reached the API, and the key was never printed.
    assert emu.mutations() == []
    assert {r["method"] for r in emu.requests()} == {"GET"}
    assert FULL_KEY not in result.output


def test_a_key_without_the_reads_plan_needs_fails() -> None:
    with served("default") as (emu, base_url):
        emu.add_key(DEMO_ORG, "sk_lf_narrow_scope_key_1", ["opportunities:read"])
        result = lfr(["doctor"], base_url, key="sk_lf_narrow_scope_key_1")
        assert result.exit_code == 1
        assert "fail  key          plan needs accounts:read, contacts:read, members:read" in (
            result.stdout
        )
        assert "1 problem(s) lfr cannot work with" in result.stderr
        assert "sk_lf_narrow_scope_key_1" not in result.output


def test_a_read_key_is_enough_to_plan_and_said_to_be() -> None:
    with served("strict-0.20") as (_, base_url):
        result = lfr(["doctor"], base_url, key=READ_KEY)
        assert result.exit_code == 0, result.output
        assert (
            "note  key          read-only for lfr: plan and drift work; apply needs "
            "opportunities:create, opportunities:update"
        ) in result.stdout


def test_a_refused_filter_and_a_wrong_key_fail() -> None:
    rules = [FaultRule(method="GET", path=r"/v1/opportunities", action="status", status=400)]
    limits = RateLimitConfig(enabled=False)
    with served("default", rate_limits=limits) as (emu, base_url):
        emu.faults.configure(FaultConfig(rules=rules))
        result = lfr(["doctor"], base_url)
        assert result.exit_code == 1
        assert "fail  paging       GET /v1/opportunities: 400 bad_request" in result.stdout
        wrong = lfr(["doctor"], base_url, key="sk_lf_not_a_key")
        assert wrong.exit_code == 1
        assert "fail  key          GET /v1/auth/validate answered 401 unauthorized" in (
            wrong.stdout
        )
        assert "sk_lf_not_a_key" not in wrong.output
