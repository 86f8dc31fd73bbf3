"""A saved plan is hostile input (issue 12): a plan made elsewhere (a fork's CI artifact, a
colleague's laptop) is applied only if every part of it is what ``lfr plan --out`` writes and
every record sends exactly what it shows.

One real plan of the demo org (updates of fields, a HAS_ONE and a HAS_MANY, a create with a
match and links) is mutated into a corpus: every key removed, every value given the wrong type,
then hand-written attacks (unknown keys, foreign paths and methods, bodies that differ from the
changes shown, forged idempotency keys, hostile names and ids, huge, non-UTF-8 and deeply nested
files). Each goes through ``lfr apply PLAN.json --auto-approve`` against the emulator on loopback:
exit 1, one ``Error:`` line naming the file and the JSON path, no traceback, and not one request
reaches the emulator. The unmutated plan then applies, so the refusals are the mutations' doing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli import app
from reconciler.core.diff import rebuilt
from reconciler.core.plan import DiffOptions, RecordChange, plan_from_dict, plan_to_dict
from reconciler.emulator import Emulator
from tests.support.demo import (
    ACME_RENEWAL,
    ALEX,
    FULL_KEY,
    INITECH,
    INITECH_ACCOUNT,
    NINA,
    PRIYA,
    SAM,
    WriteManifest,
    opportunity,
)

HUGE = 256 * 1024 * 1024 + 1
Mutate = Callable[[dict[str, Any]], Any]
# Where a value is free JSON (a CRM value, a request body): a wrong type there is not a type
# error but a change that no longer matches what the record shows, refused within the record.
_FREE = re.compile(
    r"^records\[\d+\]\.(fields\[\d+\]\.(before|after)|planned_from|match|requests\[\d+\]\.body)"
)
# Free values that must still be objects: a wrong type there is a type error at that path.
_OBJECTS = re.compile(r"\.(planned_from|match|body)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def lfr(args: list[str], server: str) -> Result:
    runner = CliRunner(env={"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": server})
    return runner.invoke(app, args)


def join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key)}]"


def walk(
    value: Any, where: str = "", trail: tuple[Any, ...] = ()
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every (JSON path, key trail) below the root."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        path, keys = join(where, key), (*trail, key)
        yield path, keys
        yield from walk(item, path, keys)


def at(data: Any, trail: tuple[Any, ...]) -> Any:
    for key in trail:
        data = data[key]
    return data


def wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 7
    if value is None:
        return 7
    if isinstance(value, list):
        return {"x": 1}
    return ["x"]


def edit(fn: Callable[[dict[str, Any]], None]) -> Mutate:
    def mutate(plan: dict[str, Any]) -> dict[str, Any]:
        fn(plan)
        return plan

    return mutate


def setter(trail: tuple[Any, ...], value: Any) -> Mutate:
    return edit(lambda plan: at(plan, trail[:-1]).__setitem__(trail[-1], value))


def deleter(trail: tuple[Any, ...]) -> Mutate:
    return edit(lambda plan: at(plan, trail[:-1]).pop(trail[-1]))


@pytest.fixture
def base_plan(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> dict[str, Any]:
    write(
        "a.yaml",
        opportunity(
            "a",
            ACME_RENEWAL,
            f"fields:\n  $amount: 5\nrelationships:\n  $owner: {PRIYA}\n"
            f"  $contact: [{ALEX}, {NINA}]",
        ),
    )
    write("b.yaml", opportunity("b", INITECH, "fields:\n  priority: 2"))
    write(
        "new.yaml",
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: new-deal\n"
        f"  match: {{$name: Saved deal, $account: {INITECH_ACCOUNT}}}\n"
        f"spec:\n  relationships:\n    $contact: [{SAM}]\n",
    )
    saved = tmp_path / "base.json"
    made = lfr(["plan", str(manifest_dir), "--out", str(saved)], server)
    assert made.exit_code == 0, made.output
    plan: dict[str, Any] = json.loads(saved.read_text())
    assert [r["action"] for r in plan["records"]] == ["update", "update", "create"]
    return plan


def structural(plan: dict[str, Any]) -> list[tuple[str, Mutate, str]]:
    """Every key removed and every value of the wrong type: (case, mutation, expected path)."""
    cases: list[tuple[str, Mutate, str]] = []
    for path, trail in walk(plan):
        free = _FREE.match(path)
        value = at(plan, trail)
        # Keys inside a free value (a CRM value, a body) or of labels are data, not the format.
        # The guardrails' review (policy, impact) is optional as a whole (a plan saved without
        # it is still a plan), strict in every part when present; so are the impact's flows
        # (the chart's edges) and uncounted_reasons, which a plan saved before them lacks.
        optional = path in ("policy", "impact", "impact.flows", "impact.uncounted_reasons")
        if (
            isinstance(trail[-1], str)
            and trail[0] != "labels"
            and (not free or path == free[0])
            and not optional
        ):
            cases.append((f"missing {path}", deleter(trail), f"{path}: "))
        expected = f"{path}: "
        if free and not (path == free[0] and _OBJECTS.search(path)):
            expected = re.sub(r"^(records\[\d+\]).*", r"\1.", path)  # refused within the record
        cases.append((f"wrong type {path}", setter(trail, wrong_type(value)), expected))
    return cases


def attacks(plan: dict[str, Any]) -> list[tuple[str, Mutate, str]]:
    """Hand-written hostile plans: (case, mutation, the JSON path the error names)."""
    deep = json.loads("[" * 100 + "]" * 100)  # a manifest value nests at most 64 deep
    return [(case, mutate, f"{path}: ") for case, mutate, path in _attacks(plan)] + [
        # Named where the nesting passes the limit, somewhere below the value.
        (
            "deep value",
            setter(("records", 1, "fields", 0, "after"), deep),
            "records[1].fields[0].after[0][0]",
        )
    ]


def _attacks(plan: dict[str, Any]) -> list[tuple[str, Mutate, str]]:
    update = plan["records"][0]
    other_key = plan["records"][1]["requests"][0]["idempotency_key"]
    opp = update["id"]

    def first_request(record: int, **changes: Any) -> Mutate:
        return edit(lambda p: p["records"][record]["requests"][0].update(changes))

    def body(record: int, fn: Callable[[dict[str, Any]], None]) -> Mutate:
        return edit(lambda p: fn(p["records"][record]["requests"][0]["body"]))

    return [
        # Unknown keys, at every level of the format.
        ("unknown top-level key", setter(("extra",), 1), "extra"),
        ("unknown record key", setter(("records", 0, "headers"), {}), "records[0].headers"),
        (
            "unknown field key",
            setter(("records", 0, "fields", 0, "x"), 1),
            "records[0].fields[0].x",
        ),
        (
            "unknown relationship key",
            setter(("records", 0, "relationships", 0, "x"), 1),
            "records[0].relationships[0].x",
        ),
        (
            "unknown request key",
            setter(("records", 0, "requests", 0, "headers"), {"X": "1"}),
            "records[0].requests[0].headers",
        ),
        ("unknown origin key", setter(("records", 0, "origin", "x"), 1), "records[0].origin.x"),
        ("unknown summary key", setter(("summary", "delete"), 0), "summary.delete"),
        # Paths and methods lfr never sends.
        *(
            (f"update path {path}", first_request(0, path=path), "records[0].requests[0].path")
            for path in (
                "/v1/accounts/acc_cmt2omrddfwb9ej",
                f"/v1/opportunities/{INITECH}",
                f"/v1/opportunities/{opp}/../../v1/accounts",
                f"/v1/opportunities/{opp}?x=1",
                f"https://evil.example/v1/opportunities/{opp}",
                "/v1/opportunities/merge",
                None,
            )
        ),
        *(
            (f"create path {path}", first_request(2, path=path), "records[2].requests[0].path")
            for path in (
                "/v1/opportunities/merge",
                f"/v1/opportunities/{opp}",
                "/v1/accounts",
                None,
            )
        ),
        *(
            (f"method {method}", first_request(0, method=method), "records[0].requests[0].method")
            for method in ("GET", "DELETE", "PATCH", "post")
        ),
        # What is shown is what is sent.
        (
            "body sends a change it does not show",
            body(0, lambda b: b["relationships"].__setitem__("$owner", {"replace": SAM})),
            "records[0].requests[0].body",
        ),
        (
            "body sends another value than shown",
            body(0, lambda b: b["fields"].__setitem__("$amount", 2)),
            "records[0].requests[0].body",
        ),
        (
            "body sends an unmanaged field",
            body(1, lambda b: b["fields"].__setitem__("$name", "pwned")),
            "records[1].requests[0].body",
        ),
        (
            "create body sends more than shown",
            body(2, lambda b: b["fields"].__setitem__("$amount", 1)),
            "records[2].requests[0].body",
        ),
        (
            "shown value changed, body kept",
            setter(("records", 0, "fields", 0, "after"), 6),
            "records[0].requests[0].body",
        ),
        (
            "shown before is not the planned-from value",
            setter(("records", 0, "fields", 0, "before"), 1),
            "records[0].fields[0]",
        ),
        (
            "a relationship shows adds it does not send",
            setter(("records", 0, "relationships", 0, "add"), []),
            "records[0].relationships[0]",
        ),
        (
            "a request dropped",
            edit(lambda p: p["records"][0]["requests"].clear()),
            "records[0].requests[0]",
        ),
        (
            "a request added",
            edit(lambda p: p["records"][0]["requests"].append(p["records"][0]["requests"][0])),
            "records[0].requests[1]",
        ),
        (
            "a change hidden (fields emptied, body kept)",
            edit(lambda p: p["records"][1]["fields"].clear()),
            "records[1].action",
        ),
        # Idempotency keys lfr would not derive.
        (
            "forged key",
            first_request(0, idempotency_key="lfr1-" + "0" * 64),
            "records[0].requests[0].idempotency_key",
        ),
        (
            "another record's key (replay collision)",
            first_request(0, idempotency_key=other_key),
            "records[0].requests[0].idempotency_key",
        ),
        (
            "key not of lfr's form",
            first_request(0, idempotency_key="x"),
            "records[0].requests[0].idempotency_key",
        ),
        (
            "fingerprint forged",
            setter(("records", 0, "fingerprint"), "0" * 16),
            "records[0].fingerprint",
        ),
        *(
            (f"revision {r!r}", setter(("revision",), r), "revision")
            for r in ("git:abc\n::warning::x", "HEAD", "git:" + "a" * 65)
        ),
        *(
            (f"http_link {u!r}", setter(("records", 0, "http_link"), u), "records[0].http_link")
            for u in ("javascript:alert(1)", "https://x.example/a b", 'https://x/"><img>')
        ),
        # Names: the manifest name pattern, nothing else.
        *(
            (f"name {name!r}", setter(("records", 0, "name"), name), "records[0].name")
            for name in (
                "a\nb",
                "::warning::pwned",
                "a::b",
                "\x1b[31mred",
                "A",
                "",
                "a" * 101,
                123,
                "@octocat",
                "a` b",
            )
        ),
        # Ids of the API's shape for their kind.
        *(
            (f"record id {rid!r}", setter(("records", 0, "id"), rid), "records[0].id")
            for rid in (f"{opp}/../x", "acc_cmt2omrddfwb9ej", "opp_", "opp_a b", f"{opp}\n", 1)
        ),
        (
            "related id not an id",
            setter(("records", 0, "relationships", 0, "after", 0), "../x"),
            "records[0].relationships[0].after[0]",
        ),
        ("label key not an id", setter(("labels", "x y"), "z"), 'labels["x y"]'),
        (
            "create with an id",
            setter(("records", 2, "id"), INITECH),
            "records[2].id",
        ),
        ("update without an id", setter(("records", 0, "id"), None), "records[0].id"),
        (
            "create without a match (no re-match)",
            setter(("records", 2, "match"), {}),
            "records[2].match",
        ),
        ("duplicate record name", setter(("records", 1, "name"), "a"), "records[1].name"),
        ("summary that lies", setter(("summary", "update"), 0), "summary"),
        ("line below zero", setter(("records", 0, "origin", "line"), -1), "records[0].origin.line"),
        *(
            (f"format_version {v!r}", setter(("format_version",), v), "format_version")
            for v in (2, "1", True, 1.5)
        ),
        (
            "control character in a value",
            setter(("records", 1, "fields", 0, "after"), "\x07bell"),
            "records[1].fields[0].after",
        ),
    ]


RAW: list[tuple[str, bytes, str]] = [
    ("non-UTF-8 byte", b'{"format_version": 1, "revision": "\xff"}', "not UTF-8"),
    ("UTF-16", json.dumps({"format_version": 1}).encode("utf-16"), "not UTF-8"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    ("deep nesting in an object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested deeper"),
    ("NaN", b'{"format_version": NaN}', "not valid JSON"),
    ("Infinity", b'{"format_version": 1, "x": Infinity}', "not valid JSON"),
    # (json reads 1e400 as infinity; `lfr show` of such an impact amount crashed: review finding)
    ("a number too large for a float", b'{"format_version": 1, "x": 1e400}', "not valid JSON"),
    ("duplicate key", b'{"format_version": 1, "format_version": 1}', "not valid JSON: the key"),
    ("5,000-digit number", b'{"format_version": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ("not JSON", b"not json", "not valid JSON"),
    ("a list", b"[]", "a JSON list, not an object"),
    ("empty object", b"{}", "format_version"),
    ("empty file", b"", "not valid JSON"),
]


def test_every_hostile_saved_plan_is_refused_by_path_and_nothing_is_sent(
    server: str, emu: Emulator, base_plan: dict[str, Any], tmp_path: Path
) -> None:
    corpus = structural(base_plan) + attacks(base_plan)
    saved = tmp_path / "plan.json"
    emu.reset_logs()
    wrong: list[str] = []

    def refused(case: str, expected: str) -> None:
        result = lfr(["apply", str(saved), "--auto-approve"], server)
        error = result.stderr.split("Error: ", 1)[-1]
        if result.exit_code != 1 or (
            result.exception and not isinstance(result.exception, SystemExit)
        ):
            wrong.append(f"{case}: exit {result.exit_code} {result.exception!r}")
        elif "Traceback" in result.output or len(error.splitlines()) != 1:
            wrong.append(f"{case}: not one clean line: {result.stderr!r}")
        elif not error.startswith(f"{saved}: {expected}"):
            wrong.append(f"{case}: expected {expected!r} in {error!r}")

    for case, mutate, where in corpus:
        mutated = mutate(copy.deepcopy(base_plan))
        saved.write_text(json.dumps(mutated, ensure_ascii=False))
        refused(case, where)
    for case, raw, message in RAW:
        saved.write_bytes(raw)
        refused(case, message)
    # A huge file is refused by its size, before a byte of it is read.
    with saved.open("wb") as handle:
        handle.truncate(HUGE)  # sparse: nothing is written, nothing need be read
    refused("huge file", f"{HUGE:,} bytes; saved plans are limited to")
    assert wrong == [], "\n".join(wrong)
    assert emu.requests() == [] and emu.mutations() == []
    total = len(corpus) + len(RAW) + 1
    assert total >= 350, total
    print(f"saved plans: {total} hostile files, {total} refused by path, 0 requests sent")
    # The unmutated plan applies: every refusal above was its mutation's doing.
    saved.write_text(json.dumps(base_plan))
    applied = lfr(["apply", str(saved), "--auto-approve"], server)
    assert applied.exit_code == 0, applied.output
    assert len(emu.mutations()) == 3


def forged(
    data: dict[str, Any], record: int, change: Callable[[RecordChange], RecordChange]
) -> Any:
    """``data`` with one record changed and made self-consistent with lfr's own rebuild, as
    anyone can: what passes reading, for the checks that need the org's definitions."""
    plan = plan_from_dict(data)
    records = list(plan.records)
    records[record] = rebuilt(change(records[record]), DiffOptions(plan.revision, plan.target))
    return plan_to_dict(replace(plan, records=tuple(records)))


def test_ids_and_keys_not_of_the_org_are_refused_by_path_before_any_write(
    server: str, emu: Emulator, base_plan: dict[str, Any], tmp_path: Path
) -> None:
    def link(name: str, **parts: Any) -> Callable[[RecordChange], RecordChange]:
        def change(record: RecordChange) -> RecordChange:
            links = tuple(replace(c, **parts) if c.key == name else c for c in record.relationships)
            live = {**record.planned_from, parts.get("key", name): record.planned_from[name]}
            return replace(record, relationships=links, planned_from=live)

        return change

    def field_key(key: str) -> Callable[[RecordChange], RecordChange]:
        def change(record: RecordChange) -> RecordChange:
            fields = (replace(record.fields[0], key=key), *record.fields[1:])
            live = {**record.planned_from, key: record.planned_from[record.fields[0].key]}
            return replace(record, fields=fields, planned_from=live)

        return change

    owner, contacts = (
        next(i for i, c in enumerate(base_plan["records"][0]["relationships"]) if c["key"] == k)
        for k in ("$owner", "$contact")
    )
    cases = [
        ("a contact as $owner", link("$owner", after=(SAM,)), f"relationships[{owner}].after[0]"),
        (
            "an account as a contact",
            link("$contact", after=(ALEX, NINA, INITECH_ACCOUNT)),
            f"relationships[{contacts}].after[0]",  # ids sorted: acc_ first
        ),
        (
            "HAS_MANY said HAS_ONE",
            link("$contact", cardinality="HAS_ONE", after=(NINA,)),
            f"relationships[{contacts}].cardinality",
        ),
        (
            "a relationship the org lacks",
            link("$contact", key="$ghosts"),
            f"relationships[{contacts}].key",
        ),
        ("a field the org lacks", field_key("ghost"), "fields[0].key"),
    ]
    saved = tmp_path / "plan.json"
    emu.reset_logs()
    for case, change, path in cases:
        saved.write_text(json.dumps(forged(base_plan, 0, change)))
        result = lfr(["apply", str(saved), "--auto-approve"], server)
        assert result.exit_code == 1, case
        assert result.stderr.split("Error: ", 1)[-1].startswith(f"{saved}: records[0].{path}: "), (
            case,
            result.stderr,
        )
    assert [r for r in emu.requests() if r["method"] != "GET"] == [] and emu.mutations() == []
