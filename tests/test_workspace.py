"""Target selection rules of architecture.md §7: key → remote, no key → local workspace, CI
guard."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.adapters.client import DEFAULT_BASE_URL
from reconciler.core.errors import ApiError
from reconciler.workspace import LOCAL_DB_NAME, TargetError, choose_target, open_client


def test_no_key_targets_the_local_workspace(tmp_path: Path) -> None:
    target = choose_target({}, workspace_dir=tmp_path)
    assert target.is_local
    assert target.local_db == tmp_path / LOCAL_DB_NAME
    assert "local workspace" in target.describe()


def test_key_from_environment_targets_the_real_api_by_default() -> None:
    target = choose_target({"LIGHTFIELD_API_KEY": "sk_lf_secret_1"})
    assert not target.is_local
    assert target.base_url == DEFAULT_BASE_URL


def test_flags_win_over_environment() -> None:
    target = choose_target(
        {"LIGHTFIELD_API_KEY": "sk_lf_env", "LIGHTFIELD_BASE_URL": "https://env.example"},
        api_key="sk_lf_flag",
        base_url="http://127.0.0.1:8787",
    )
    assert target.api_key == "sk_lf_flag"
    assert target.base_url == "http://127.0.0.1:8787"


def test_ci_without_key_is_refused_unless_local_is_explicit(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="CI=true"):
        choose_target({"CI": "true"}, workspace_dir=tmp_path)
    assert choose_target({"CI": "true"}, local=True, workspace_dir=tmp_path).is_local


def test_base_url_without_key_is_an_error_not_a_silent_local_run() -> None:
    with pytest.raises(TargetError, match="no API key"):
        choose_target({"LIGHTFIELD_BASE_URL": "http://127.0.0.1:8787"})


def test_the_key_never_shows_in_repr_or_description() -> None:
    target = choose_target({"LIGHTFIELD_API_KEY": "sk_lf_canary_do_not_print"})
    assert "canary" not in repr(target)
    assert "canary" not in target.describe()


@pytest.mark.anyio
async def test_the_local_workspace_is_not_paced_at_the_real_apis_rate(tmp_path: Path) -> None:
    """The local workspace is the user's own SQLite file: 90 reads at once (over three times
    the API's 25/s burst) neither wait for a client-side token nor meet a 429."""
    async with open_client(choose_target({}, workspace_dir=tmp_path)) as client:
        page = await client.list_page("opportunities", limit=1)
        opp_id = page.data[0].id
        records = await asyncio.gather(
            *(client.retrieve("opportunities", opp_id) for _ in range(90))
        )
        stats = client.stats
    assert {record.id for record in records} == {opp_id}
    assert (stats.requests["read"], stats.requests["search"]) == (90, 1)
    assert stats.throttled_seconds == 0
    assert (stats.rate_limited, stats.retries) == (0, 0)


@pytest.mark.anyio
async def test_the_local_workspace_still_enforces_the_apis_request_rules(tmp_path: Path) -> None:
    """Unpaced, not lawless: a write that references 26 ids (the API's cap is 25) is refused,
    as the real API refuses it, and changes nothing."""
    async with open_client(choose_target({}, workspace_dir=tmp_path)) as client:
        opp = (await client.list_page("opportunities", limit=1)).data[0]
        contacts = [record.id for record in (await client.list_all("contacts"))][:1] * 26
        with pytest.raises(ApiError) as caught:
            await client.update(
                "opportunities",
                opp.id,
                {"relationships": {"$contact": {"add": contacts}}},
                idempotency_key=None,
            )
        after = await client.retrieve("opportunities", opp.id)
    assert (caught.value.status, caught.value.code) == (422, "relationship_write_limit_exceeded")
    assert after.relationships == opp.relationships
