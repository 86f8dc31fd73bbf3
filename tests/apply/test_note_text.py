"""The note text of one change (``render.note``): bounded however many and however long the
changes, the marker always its last line, list changes as added / removed."""

from __future__ import annotations

from reconciler.core.plan import FieldChange, RecordChange, RelationshipChange
from reconciler.core.provenance import Provenance
from reconciler.core.vocabulary import Origin
from reconciler.render.note import CONTENT_LIMIT, LINE_LIMIT, marker, note_content, note_title

HERE = Origin("manifests/acme.yaml", 1)
UNCOMMITTED = Provenance(revision="sha256:" + "ab" * 32)


def change(*fields: FieldChange, links: tuple[RelationshipChange, ...] = ()) -> RecordChange:
    return RecordChange("update", "acme", "opp_1", HERE, fields=fields, relationships=links)


def test_many_long_changes_stay_within_the_limits_and_keep_the_marker() -> None:
    fields = [FieldChange(f"key{i}", "x" * 500, "y" * 500, HERE) for i in range(60)]

    text = note_content(change(*fields), UNCOMMITTED, {}, "d" * 32)

    assert len(text) <= CONTENT_LIMIT
    assert text.splitlines()[-1] == marker("d" * 32)
    listed = [line for line in text.splitlines() if line.startswith("- `key")]
    assert 0 < len(listed) <= LINE_LIMIT
    assert f"- … and {60 - len(listed)} more (see the pull request)" in text


def test_lists_and_links_show_what_was_added_and_removed_by_label() -> None:
    products = FieldChange(
        "products", ["a"], ["a", "b"], HERE, added=("opt_b",), removed=("opt_c",)
    )
    contacts = RelationshipChange(
        "$contact", "HAS_MANY", ("con_1",), ("con_2",), ("con_2",), ("con_1",), HERE
    )
    labels = {"opt_b": "Analytics", "opt_c": "Support", "con_1": "Alex", "con_2": "Nina *x*"}

    text = note_content(change(products, links=(contacts,)), UNCOMMITTED, labels, "d" * 32)

    assert "- `products`: added Analytics; removed Support" in text
    assert "- `$contact`: added Nina \\*x\\*; removed Alex" in text


def test_the_title_names_the_pr_else_the_commit_else_uncommitted() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    with_pr = Provenance(revision=f"git:{sha}", commit=sha, pr_number=3)
    with_commit = Provenance(revision=f"git:{sha}", commit=sha)

    assert note_title(change(), with_pr) == "lfr: updated from PR #3"
    assert note_title(change(), with_commit) == "lfr: updated from commit 0123456789ab"
    assert note_title(change(), UNCOMMITTED) == "lfr: updated from uncommitted manifests"
