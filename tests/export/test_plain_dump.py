"""The fast writer of new manifests (``adapters.plain_dump``) against ruamel.yaml's emitter: the
same text for the documents export makes, the fast path taken for ordinary records (the
optimisation that makes `export --all` of thousands fast), and None, never a different
manifest, for values it is not sure of."""

from __future__ import annotations

import pytest
from ruamel.yaml.comments import CommentedMap

from reconciler.adapters.loader import load_simple
from reconciler.adapters.nodes import as_node, dump, round_trip_yaml
from reconciler.adapters.plain_dump import plain_dump

ORDINARY = {
    "$name": "Bulk opportunity 000344",
    "$stage": "Proposal",
    "$amount": 27500.25,
    "priority": 3,
    "strategic": True,
    "products": ["Support", "Platform"],
    "region": "North America",
    "$nextSteps": None,
    "shippingAddress": {"city": "Oslo", "country": "NO"},
}
HOSTILE = [
    "123",
    "true",
    "null",
    "~",
    "2027-03-31",
    "- item",
    "a: b",
    "a #b",
    "#x",
    "@mention",
    "it's",
    '"quoted"',
    "[x]",
    "{x}",
    "x,y",
    "trailing ",
    " leading",
    "*star",
    "&amp",
    "!tag",
    "%pct",
    "|pipe",
    ">fold",
    "`tick`",
    "a:b",
    "1e3",
    "0x1F",
    "+12025550188;ext=12",
    "line\nbreak",
    "Ünïcödé 名前",
]


def document(fields: dict[str, object], relationships: dict[str, object]) -> CommentedMap:
    spec = CommentedMap()
    spec["fields"] = CommentedMap((k, as_node(v)) for k, v in fields.items())
    spec["relationships"] = CommentedMap((k, as_node(v)) for k, v in relationships.items())
    node = CommentedMap()
    node["apiVersion"] = "lfr/v1"
    node["kind"] = "Opportunity"
    node["metadata"] = CommentedMap([("name", "deal"), ("id", "opp_x")])
    node["spec"] = spec
    return node


def test_an_ordinary_record_takes_the_fast_path_and_reads_as_ruamel_writes_it() -> None:
    node = document(
        ORDINARY,
        {"$owner": {"email": "omar@acme-sales.example"}, "$contact": [{"email": "a@b.example"}]},
    )
    node["spec"]["fields"].yaml_add_eol_comment("Negotiation (Sales pipeline)", "$stage")
    text = plain_dump(node)
    assert text is not None
    assert text == dump(round_trip_yaml(), [node])


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_is_written_as_ruamel_writes_it_or_left_to_ruamel(value: str) -> None:
    for node in (
        document({"$name": value}, {}),
        document({"tags": [value, "x"]}, {}),
        document({}, {"$owner": {"email": value}}),
    ):
        text = plain_dump(node)
        if text is None:
            continue
        read = load_simple(text, "m.yaml")
        expected = load_simple(dump(round_trip_yaml(), [node]), "m.yaml")
        assert read is not None
        if expected is not None:
            assert read.documents[0].data == expected.documents[0].data
        fields = read.documents[0].data["spec"]
        assert value in (
            [
                fields["fields"].get("$name"),
                *list(fields["fields"].get("tags") or []),
                (fields["relationships"].get("$owner") or {}).get("email"),
            ]
        )
