"""The scenario bench of the reliability tests: a fixed manifest set, the checks every fault
scenario ends with, and small test-side tools (an interleaving transport, a loopback collector).

Every scenario runs a real apply against the emulator and then proves three things from the
emulator itself, not from lfr's own report:

- the mutation log holds no change twice (``duplicate_changes``) and exactly one create per
  create manifest;
- the live records hold every desired value (``desired_mismatches``, an independent table of wire
  values) and every value no manifest manages is as it was (``unmanaged_changes``);
- a second plan is empty and a second apply sends nothing.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.adapters.client import LightfieldClient
from reconciler.core.org import OrgSchema
from reconciler.core.plan import Plan
from reconciler.core.reports import ApplyReport
from reconciler.emulator import Emulator
from reconciler.runs.apply import apply_plan
from reconciler.runs.plan import run_plan
from tests.support.demo import (
    ACME_RENEWAL,
    ALEX,
    INITECH,
    INITECH_ACCOUNT,
    NINA,
    PRIYA,
    SAM,
    opportunity,
)

GLOBEX_RENEWAL = "opp_cm6gx0b03ek8pgt"
UMBRELLA = "opp_cmnie28asz3fcnh"
HOOLI = "opp_cmsl97mdznoozqw"
NEW_DEAL = "Reliability new deal"
NEW = "new"  # EXPECTED's name for the record the create manifest makes

# Six manifests: five updates (fields of several types, HAS_ONE, exact and partial HAS_MANY)
# and one create. Each changes something the demo seed does not already hold.
MANIFESTS: dict[str, str] = {
    "acme.yaml": opportunity(
        "acme",
        ACME_RENEWAL,
        "fields:\n  $amount: 135000\n  $nextSteps: Legal review\n"
        f"relationships:\n  $contact: [{ALEX}, {NINA}]",
    ),
    "initech.yaml": opportunity("initech", INITECH, "fields:\n  priority: 3\n  strategic: true"),
    "globex.yaml": opportunity(
        "globex",
        GLOBEX_RENEWAL,
        "fields:\n  $amount: 215000\nrelationships:\n  partners: {include: [{name: Initech}]}",
    ),
    "umbrella.yaml": opportunity(
        "umbrella",
        UMBRELLA,
        "fields:\n  $amount: 5000\n  $closeDate: 2027-01-15\n  products: [Platform, Support]",
    ),
    "hooli.yaml": opportunity(
        "hooli",
        HOOLI,
        f"fields:\n  $nextSteps: Security questionnaire\nrelationships:\n  $owner: {PRIYA}",
    ),
    "new.yaml": (
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new\n"
        f"  match: {{$name: {NEW_DEAL}, $account: {{name: Initech}}}}\n"
        # $stage: the strict-0.20 contract requires it on create (docs/api-contract.md §4).
        "spec:\n  fields: {$amount: 10, $stage: Prospecting}\n"
        f"  relationships: {{$contact: [{SAM}]}}\n"
    ),
}
RECORDS = len(MANIFESTS)

# What the live records must hold afterwards, as the API returns it (select values by label).
EXPECTED: dict[str, dict[str, Any]] = {
    ACME_RENEWAL: {"$amount": 135000, "$nextSteps": "Legal review", "$contact": [ALEX, NINA]},
    INITECH: {"priority": 3, "strategic": True},
    GLOBEX_RENEWAL: {"$amount": 215000, "partners": [INITECH_ACCOUNT]},
    UMBRELLA: {
        "$amount": 5000,
        "$closeDate": "2027-01-15T00:00:00.000Z",
        "products": ["Platform", "Support"],
    },
    HOOLI: {"$nextSteps": "Security questionnaire", "$owner": [PRIYA]},
    NEW: {"$name": NEW_DEAL, "$amount": 10, "$account": [INITECH_ACCOUNT], "$contact": [SAM]},
}

Snapshot = dict[str, dict[str, Any]]


def write_manifests(directory: Path, manifests: dict[str, str] | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (manifests or MANIFESTS).items():
        (directory / name).write_text(text, encoding="utf-8")


# --- running plan and apply ----------------------------------------------------------------


async def plan_of(client: LightfieldClient, directory: Path, target: str = "bench") -> Plan:
    outcome = await run_plan(client, directory, target=target)
    assert outcome.plan is not None, outcome.problems
    return outcome.plan


async def apply_dir(
    client: LightfieldClient, directory: Path, target: str = "bench"
) -> tuple[Plan, ApplyReport]:
    plan = await plan_of(client, directory, target)
    schema = OrgSchema(await client.definitions("opportunities"))
    return plan, await apply_plan(client, plan, schema)


# --- what the emulator says happened ---------------------------------------------------------


def applied_changes(emu: Emulator, since: int = 0) -> list[tuple[str, str, str]]:
    """(record, key, new value) of every change logged after mutation ``since``: the windowed
    form of ``tests.apply.conftest.changes_applied``."""
    applied = []
    for m in emu.mutations(since):
        for key, change in m["changes"].get("fields", {}).items():
            applied.append((m["record_id"], key, repr(change["after"])))
        for key, change in m["changes"].get("relationships", {}).items():
            applied += [(m["record_id"], key, f"+{added}") for added in change.get("added", [])]
            applied += [(m["record_id"], key, f"-{gone}") for gone in change.get("removed", [])]
    return applied


def duplicate_changes(emu: Emulator, since: int = 0) -> list[tuple[str, str, str]]:
    """Changes the mutation log holds more than once (after mutation ``since``)."""
    counts = Counter(applied_changes(emu, since))
    return sorted(change for change, count in counts.items() if count > 1)


def creates(emu: Emulator, since: int = 0) -> list[dict[str, Any]]:
    return [m for m in emu.mutations(since) if m["operation"] == "create"]


def last_seq(emu: Emulator) -> int:
    mutations = emu.mutations()
    return mutations[-1]["seq"] if mutations else 0


def writes(emu: Emulator, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in emu.requests(since) if r["method"] == "POST"]


def last_request(emu: Emulator) -> int:
    requests = emu.requests()
    return requests[-1]["seq"] if requests else 0


# --- live state ------------------------------------------------------------------------------


async def snapshot(client: LightfieldClient, ids: Sequence[str] = ()) -> Snapshot:
    """Fields and relationships (ids sorted) by record id: of ``ids``, or of every
    opportunity."""
    if not ids:
        ids = [record.id for record in await client.list_all("opportunities")]
    full = await asyncio.gather(*(client.retrieve("opportunities", i) for i in ids))
    return {
        record.id: {
            **{key: entry.value for key, entry in record.fields.items()},
            **{key: sorted(record.related_ids(key)) for key in record.relationships},
        }
        for record in full
    }


def unmanaged_changes(
    before: Snapshot, after: Snapshot, managed: dict[str, set[str]] | None = None
) -> list[str]:
    """Every value no manifest manages that is not what it was (records present before).
    ``managed``: record id → managed keys; by default the keys EXPECTED names."""
    if managed is None:
        managed = {record: set(values) for record, values in EXPECTED.items()}
    moved = []
    for record_id, values in before.items():
        now = after.get(record_id)
        if now is None:
            moved.append(f"{record_id} disappeared")
            continue
        for key, value in values.items():
            if key in managed.get(record_id, set()):
                continue
            if now.get(key) != value:
                moved.append(f"{record_id} {key}: {value!r} → {now.get(key)!r}")
    return moved


async def desired_mismatches(
    client: LightfieldClient, expected: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """Every EXPECTED value the live records do not hold, by the API's own wire values."""
    expected = EXPECTED if expected is None else expected
    definitions = await client.definitions("opportunities")
    labels = {
        option.id: option.label
        for definition in definitions.field_definitions.values()
        for option in definition.type_configuration.options
    }
    records = await client.list_all("opportunities")
    made = [r for r in records if r.value("$name") == NEW_DEAL]
    problems = []
    if NEW in expected and len(made) != 1:
        problems.append(f"{len(made)} records named {NEW_DEAL!r}, expected exactly 1")
    for record_id, values in expected.items():
        if record_id == NEW:
            if len(made) != 1:
                continue
            record_id = made[0].id
        record = await client.retrieve("opportunities", record_id)
        for key, want in values.items():
            if key in record.relationships:
                have: Any = sorted(record.related_ids(key))
                want = sorted(want)
            else:
                have = record.value(key)
                if isinstance(have, list):
                    have = sorted(labels.get(v, v) for v in have)
                elif isinstance(have, str):
                    have = labels.get(have, have)
            if have != want:
                problems.append(f"{record_id} {key}: live {have!r}, desired {want!r}")
    return problems


async def assert_converged(
    client: LightfieldClient,
    emu: Emulator,
    directory: Path,
    before: Snapshot,
    *,
    since: int,
    expected: dict[str, dict[str, Any]] | None = None,
) -> None:
    """The end of every scenario: no change twice, one create, desired state, unmanaged values
    untouched, and a second plan that is empty and applies nothing."""
    assert duplicate_changes(emu, since) == []
    if NEW in (EXPECTED if expected is None else expected):
        assert len(creates(emu, since)) == 1, creates(emu, since)
    assert await desired_mismatches(client, expected) == []
    assert unmanaged_changes(before, await snapshot(client)) == []
    mark = last_request(emu)
    plan, report = await apply_dir(client, directory)
    assert [r.name for r in plan.records if r.action != "noop"] == []
    assert report.results == [] and writes(emu, mark) == []


# --- test-side tools -------------------------------------------------------------------------


class InterleavingTransport(httpx.AsyncBaseTransport):
    """Forwards to ``inner``; before the first write to a path containing ``record_id`` it
    awaits ``hook`` (someone editing the CRM while apply runs)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        record_id: str,
        hook: Callable[[], Awaitable[None]],
    ) -> None:
        self.inner = inner
        self.record_id = record_id
        self.hook: Callable[[], Awaitable[None]] | None = hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.record_id in request.url.path and self.hook:
            hook, self.hook = self.hook, None
            await hook()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Collector(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def _record(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": self.rfile.read(length) if length else b"",
            }
        )
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "opp_stolen", "fields": {}, "relationships": {}}')

    do_GET = do_POST = do_PUT = do_DELETE = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


@contextmanager
def collector() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A second loopback HTTP server ("another host") that records every request it gets."""
    seen: list[dict[str, Any]] = []
    handler = type("Collector", (_Collector,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
