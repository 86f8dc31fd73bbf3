"""plan → apply → plan converges, over random manifests × random live states (hypothesis), and
a killed apply converges on re-run without applying anything twice (a real subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.adapters.client import LightfieldClient
from reconciler.core.org import OrgSchema
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.runs.apply import apply_plan
from reconciler.runs.plan import run_plan
from tests.support.demo import ACME_RENEWAL, FULL_KEY, INITECH, opportunity
from tests.support.emulator import demo_emulator

from .conftest import changes_applied

RECORDS = [ACME_RENEWAL, INITECH, "opp_cm6gx0b03ek8pgt"]
CONTACTS = [
    "con_cm0bffyv0gam2nv",
    "con_cmsel1g7rwmrfyv",
    "con_cm2ubefpt7wdfxt",
    "con_cmq34opx84udowr",
]
MEMBERS = ["mem_cmc1u2x5v2x4ljb", "mem_cmbc9vx9tsac0mp", None]
REGIONS = ["North America", "EMEA", "APAC", None]
PRODUCTS = ["Platform", "Analytics", "Support", "Training"]

values = st.fixed_dictionaries(
    {},
    optional={
        "$amount": st.one_of(
            st.none(), st.integers(0, 10**7), st.decimals(0, 10**6, places=2).map(float)
        ),
        "priority": st.one_of(st.none(), st.integers(-5, 5)),
        "strategic": st.one_of(st.none(), st.booleans()),
        "region": st.sampled_from(REGIONS),
        "products": st.lists(st.sampled_from(PRODUCTS), unique=True, max_size=4),
        "$nextSteps": st.one_of(
            st.none(),
            # Without the categories of characters the loader refuses (controls, format and
            # bidi characters, line separators, noncharacters): those never reach a plan.
            st.text(
                st.characters(
                    codec="utf-8", exclude_categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Cn"]
                ),
                max_size=30,
            ),
        ),
        "$owner": st.sampled_from(MEMBERS),
        "$contact": st.lists(st.sampled_from(CONTACTS), unique=True, max_size=4),
    },
)


def as_yaml(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)  # JSON is YAML 1.2


def manifest(name: str, record_id: str, wanted: dict[str, Any]) -> str:
    fields = {k: v for k, v in wanted.items() if not k.startswith("$owner") and k != "$contact"}
    links = {k: v for k, v in wanted.items() if k in ("$owner", "$contact")}
    spec = f"fields: {as_yaml(fields)}\nrelationships: {as_yaml(links)}"
    return opportunity(name, record_id, spec)


CLEAR_CONTACTS: dict[str, Any] = {"relationships": {"$contact": {"replace": None}}}


def live_body(state: dict[str, Any]) -> dict[str, Any]:
    """An out-of-band write putting a record in ``state`` (labels are accepted on writes), once
    its contacts are cleared (``CLEAR_CONTACTS``): ``add``, which every contract profile takes."""
    fields = {k: v for k, v in state.items() if k not in ("$owner", "$contact")}
    relationships: dict[str, Any] = {}
    if "$owner" in state:
        relationships["$owner"] = {"replace": state["$owner"]}
    if "$contact" in state:
        relationships["$contact"] = {"add": state["$contact"]} if state["$contact"] else {}
    return {"fields": fields, "relationships": {k: v for k, v in relationships.items() if v}}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    desired=st.lists(values, min_size=1, max_size=3),
    live=st.lists(values, min_size=3, max_size=3),
)
@pytest.mark.anyio
async def test_plan_apply_plan_converges(
    desired: list[dict[str, Any]], live: list[dict[str, Any]], tmp_path: Path
) -> None:
    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
    directory = tmp_path / f"m{time.monotonic_ns()}"
    directory.mkdir()
    transport = httpx.ASGITransport(app=emu.app)
    async with LightfieldClient(
        FULL_KEY, base_url="http://e", transport=transport, rates=None
    ) as client:
        for record_id, state in zip(RECORDS, live, strict=True):
            if "$contact" in state:
                await client.update(
                    "opportunities", record_id, CLEAR_CONTACTS, idempotency_key=None
                )
            await client.update("opportunities", record_id, live_body(state), idempotency_key=None)
        for index, wanted in enumerate(desired):
            (directory / f"m{index}.yaml").write_text(manifest(f"m{index}", RECORDS[index], wanted))
        first = await run_plan(client, directory, target="t")
        assert first.plan is not None, first.problems
        schema = OrgSchema(await client.definitions("opportunities"))
        report = await apply_plan(client, first.plan, schema)
        assert report.ok, report
        second = await run_plan(client, directory, target="t")
        assert second.plan is not None
        assert [r.name for r in second.plan.records if r.action != "noop"] == []


def test_a_killed_apply_converges_on_rerun_without_duplicates(tmp_path: Path) -> None:
    """Kill `lfr apply` mid-run (SIGKILL, after a few writes landed), re-run: every change is
    applied exactly once and the final plan is empty."""
    from reconciler.emulator.server import running_server

    emu = demo_emulator(rate_limits=RateLimitConfig(enabled=False))
    # Slow writes so the kill lands in the middle of the run.
    emu.faults.configure(FaultConfig(latency_ms=150))
    directory = tmp_path / "manifests"
    directory.mkdir()
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        ids = [
            r["id"]
            for r in httpx.get(
                f"{base_url}/v1/opportunities?limit=20",
                headers={"Authorization": f"Bearer {FULL_KEY}", "Lightfield-Version": "2026-03-01"},
            ).json()["data"]
        ]
        for index, record_id in enumerate(ids):
            (directory / f"m{index}.yaml").write_text(
                opportunity(f"m{index}", record_id, f"fields:\n  priority: {index + 100}")
            )
        env = {**os.environ, "LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": base_url}
        env.pop("CI", None)
        command = [
            sys.executable,
            "-m",
            "reconciler.cli",
            "apply",
            str(directory),
            "--auto-approve",
            "--force",
            "--rate",
            "5",
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(emu.mutations()) < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        landed = len(emu.mutations())
        assert 4 <= landed < len(ids), "the kill must land mid-run for this test to mean anything"
        emu.faults.configure(FaultConfig())
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        final = subprocess.run(
            [sys.executable, "-m", "reconciler.cli", "plan", str(directory), "--detailed-exitcode"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert final.returncode == 0, final.stdout + final.stderr
    applied = Counter(changes_applied(emu))
    assert len(applied) == len(ids) == 17  # every demo opportunity
    assert set(applied.values()) == {1}
