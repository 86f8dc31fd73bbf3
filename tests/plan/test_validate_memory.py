"""``lfr validate`` checks each manifest as it is read and lets its document go.

100,000 manifests held at once cost ~1 GB (every document, then every desired record beside
it); read a file at a time, only desired state and each manifest's name are kept, and every
problem (of one file, or across files) is still reported with its ``file:line``. A record
whose references are all raw ids is not copied by the resolver: there is nothing to rewrite.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.loader import load_bytes
from reconciler.core.desired import build_desired
from reconciler.core.model import LoadedManifest, parse_manifests
from reconciler.core.org import OrgSchema
from reconciler.core.vocabulary import Document
from reconciler.runs.resolve import resolve_references
from reconciler.runs.validate import ManifestStream, validate_stream
from tests.support.demo import ACME_RENEWAL, ALEX, INITECH, JANE, NINA, WriteManifest, opportunity


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def _counting(manifests: Iterator[LoadedManifest], seen: list[int]) -> Iterator[LoadedManifest]:
    """``manifests``, noting how many documents are alive as each is handed on."""
    for loaded in manifests:
        seen.append(_alive(Document))
        yield loaded


@pytest.mark.anyio
async def test_validate_holds_one_file_at_a_time_and_reports_every_problem(
    client: LightfieldClient, write: WriteManifest, manifest_dir: Path
) -> None:
    for index in range(8):
        write(f"ok-{index}.yaml", opportunity(f"ok-{index}", f"opp_cm{index:013d}", "fields: {}"))
    write("acme.yaml", opportunity("acme", ACME_RENEWAL, "fields:\n  $amount: 135000"))
    write("bad-value.yaml", opportunity("bad-value", INITECH, "fields:\n  $amount: lots"))
    write("renamed.yaml", opportunity("acme", "opp_cmzzzzzzzzzzzzz", "fields: {}"))
    write("shape.yaml", "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  nme: x\n")
    before = _alive(Document)
    stream = ManifestStream(manifest_dir)
    seen: list[int] = []

    problems = await validate_stream(client, stream, _counting(iter(stream), seen))

    assert len(seen) == 11  # every manifest that has its shape
    # At most the file being handed on and the one before it (still the loop's variable).
    assert max(seen) - before <= 2, seen
    assert [str(p) for p in problems] == [
        "manifests/bad-value.yaml:8: $amount: expected a number, got text 'lots'; write digits "
        "only (e.g. 12000)",
        "manifests/renamed.yaml:4: metadata.name 'acme' is managed twice: here and at "
        "manifests/acme.yaml:4",
        "manifests/shape.yaml:3: missing required key 'metadata.name'",
        "manifests/shape.yaml:4: unknown key 'metadata.nme' (did you mean 'name'?); "
        "allowed here: name, id, match, onMissing",
    ]


def _manifest(name: str, record_id: str, spec: str = "fields:\n  $amount: 1") -> LoadedManifest:
    text = opportunity(name, record_id, spec)
    (loaded,), problems = parse_manifests(load_bytes(text.encode(), f"{name}.yaml").documents)
    assert not problems
    return loaded


@pytest.mark.anyio
async def test_build_desired_finds_a_record_managed_twice_in_a_stream_it_reads_once(
    schema: OrgSchema,
) -> None:
    def manifests() -> Iterator[LoadedManifest]:
        yield _manifest("first", ACME_RENEWAL)
        yield _manifest("other", INITECH)
        yield _manifest("second", ACME_RENEWAL)

    records, problems = build_desired(manifests(), schema)

    assert [r.name for r in records] == ["first", "other", "second"]
    assert [str(p) for p in problems] == [
        f"second.yaml:5: record {ACME_RENEWAL} is managed twice: here and at first.yaml:5"
    ]


@pytest.mark.anyio
async def test_a_record_of_raw_ids_is_kept_as_it_is_and_the_others_are_resolved(
    client: LightfieldClient, schema: OrgSchema
) -> None:
    raw = f"relationships:\n  $owner: {JANE}\n  $contact: [{ALEX}, {NINA}]"
    by_email = "relationships:\n  $contact: [{email: alex@acme.com}]"
    twice = f"relationships:\n  $contact: {{include: [{ALEX}, {ALEX}]}}"
    manifests = [
        _manifest("raw", ACME_RENEWAL, raw),
        _manifest("by-email", INITECH, by_email),
        _manifest("twice", "opp_cmzzzzzzzzzzzzz", twice),
    ]
    desired, problems = build_desired(manifests, schema)
    assert not problems

    resolution = await resolve_references(client, desired)

    assert not resolution.problems
    kept, by_email_record, twice_record = resolution.records
    assert kept is desired[0]  # not a copy
    assert by_email_record.relationships[0].include == (ALEX,)
    assert twice_record.relationships[0].include == (ALEX,)
    assert twice_record.relationships[0].origin_of_item(0) == desired[2].relationships[
        0
    ].origin_of_item(0)


@pytest.mark.anyio
async def test_a_value_written_in_many_manifests_is_normalised_once_by_its_type_and_value(
    schema: OrgSchema,
) -> None:
    same = "fields:\n  products: [Support, Platform]\n  strategic: true"
    manifests = [
        _manifest("one", ACME_RENEWAL, same),
        _manifest("two", INITECH, same),
        # 1 == True in Python, but a checkbox takes only true/false: each by its own type.
        _manifest("three", "opp_cmzzzzzzzzzzzzz", "fields:\n  strategic: 1"),
        _manifest("four", "opp_cmyyyyyyyyyyyyy", "fields:\n  products: [Support, Nope]"),
        _manifest("five", "opp_cmxxxxxxxxxxxxx", "fields:\n  products: [Support, Nope]"),
    ]

    records, problems = build_desired(manifests, schema)

    one, two = ({f.key: f.value for f in r.fields} for r in records)
    assert one["products"] == tuple(sorted(one["products"])) and len(one["products"]) == 2
    assert two["products"] is one["products"]  # worked out once, for both
    assert one["strategic"] is True
    # A value with a problem is reported in each manifest that writes it, at its own line.
    assert [str(p) for p in problems] == [
        "five.yaml:8: products: 'Nope' is not an option of products; options: 'Platform', "
        "'Analytics', 'Support', 'Training'",
        "four.yaml:8: products: 'Nope' is not an option of products; options: 'Platform', "
        "'Analytics', 'Support', 'Training'",
        "three.yaml:8: strategic: expected true or false, got a number (1)",
    ]
