"""YAML as untrusted input: every hazard refused with file:line, good input kept with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.loader import MAX_FILE_BYTES, load_bytes, load_tree

GOOD = b"""\
apiVersion: lfr/v1
kind: Opportunity
metadata:
  name: acme-renewal
spec:
  fields:
    $closeDate: 2027-03-31
    $amount: 120000
    flag: no
    quoted: "123"
---
apiVersion: lfr/v1
kind: Opportunity
metadata: {name: second}
"""


def test_documents_keep_values_and_the_line_of_every_key() -> None:
    result = load_bytes(GOOD, "m/acme.yaml")
    assert result.problems == []
    first, second = result.documents
    assert first.data["spec"]["fields"] == {
        # Dates stay text: the schema layer decides what a DATETIME means.
        "$closeDate": "2027-03-31",
        "$amount": 120000,
        # YAML 1.2: `no` is a string, not False; the schema layer explains it to the user.
        "flag": "no",
        "quoted": "123",
    }
    assert first.line_of(("spec", "fields", "$amount")) == 8
    # Unknown paths fall back to the nearest known parent.
    assert first.line_of(("spec", "fields", "missing")) == 6
    assert (second.index, second.line, second.line_of(("metadata", "name"))) == (1, 12, 14)


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (b"a: &x [1, 2]\nb: 1\n", 1, "anchor '&x' is not allowed"),
        (b"a: 1\nb: *x\n", 2, "alias '*x' is not allowed"),
        (b"a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first at line 1)"),
        (b"a:\n  b: 1\n  b: 2\n", 3, "duplicate key 'b' (first at line 2)"),
        (b"a: !!python/object:os.system x\n", 1, "tag '!!python/object:os.system' is not allowed"),
        (b"a: !Ref x\n", 1, "tag '!Ref' is not allowed"),
        (b"base: {x: 1}\nother:\n  <<: {y: 2}\n", 3, "merge key '<<' is not allowed"),
        (b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", 1, "nesting deeper than 64 levels"),
        (b"", 0, "file is empty"),
        (b"# only a comment\n", 0, "file is empty"),
        (b"- 1\n- 2\n", 1, "document is a list; a manifest must be a mapping"),
        (b"a: 1\nb: 0b_\n", 2, "cannot read '0b_' as a number; quote it if it is text"),
        (b"a: " + b"1" * 5000 + b"\n", 1, "cannot read '1111111111"),
        (b"a: !!bool maybe\n", 1, "cannot read 'maybe' as !!bool; remove the tag or fix"),
        (b"a: !!int _\n", 1, "cannot read '_' as !!int"),
        (b"a: !!int\n", 1, "cannot read '' as !!int"),
        (b"just text\n", 1, "document is a str value"),
        (b"---\n---\na: 1\n", 1, "empty document"),
        (b"a: [1,\n", 2, "invalid YAML"),
        (b"a: 1\nb: \xff\n", 2, "not valid UTF-8"),
        (b"a: 1\nb: x\x07y\n", 2, "control character U+0007"),
        (b"{[1]: 2}\n", 1, "mapping keys must be plain scalars"),
    ],
)
def test_hazards_are_refused_with_file_and_line(source: bytes, line: int, message: str) -> None:
    result = load_bytes(source, "bad.yaml")
    assert result.documents == []
    assert any(p.line == line and message in p.message for p in result.problems), result.problems
    assert all(p.file == "bad.yaml" for p in result.problems)


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    # Nine levels of nine-fold aliases would be 9**9 (387 million) items if expanded.
    lines = [b"a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = b", ".join([b"*a%d" % (i - 1)] * 9)
        lines.append(b"a%d: &a%d [%s]" % (i, i, refs))
    result = load_bytes(b"\n".join(lines) + b"\n", "bomb.yaml")
    assert result.documents == []
    assert result.problems[0].line == 1
    assert "anchor '&a0'" in result.problems[0].message
    # Reporting stops at a cap instead of listing every alias.
    assert result.problems[-1].message == "too many problems; stopped reading"


def test_oversize_file_is_refused_before_parsing() -> None:
    result = load_bytes(b"a: " + b"x" * MAX_FILE_BYTES + b"\n", "big.yaml")
    assert [p.message.split(";")[1].strip() for p in result.problems] == [
        f"manifests are limited to {MAX_FILE_BYTES:,}"
    ]


def test_byte_order_mark_is_accepted() -> None:
    result = load_bytes(b"\xef\xbb\xbfa: 1\n", "bom.yaml")
    assert result.problems == []
    assert result.documents[0].data == {"a": 1}


def test_tree_collects_problems_from_every_file_and_uses_relative_names(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "a.yaml").write_bytes(b"a: 1\na: 2\n")
    (tmp_path / "b.yml").write_bytes(b"b: &x 1\n")
    (tmp_path / "c.yaml").write_bytes(b"c: 1\n")
    (tmp_path / "notes.txt").write_bytes(b"not: [yaml\n")
    result = load_tree(tmp_path, display_base=tmp_path)
    assert sorted(str(p) for p in result.problems) == [
        "b.yml:1: anchor '&x' is not allowed: write values out",
        "team/a.yaml:2: duplicate key 'a' (first at line 1)",
    ]
    assert [d.file for d in result.documents] == ["c.yaml"]


def test_yaml_1_2_plain_scalars_with_colons_in_flow_lists_are_accepted() -> None:
    # libyaml (YAML 1.1) refuses these; the loader falls back to the 1.2 parser.
    ok = load_bytes(b"urls: [https://y.io, b]\n", "f.yaml")
    assert ok.problems == []
    assert ok.documents[0].data == {"urls": ["https://y.io", "b"]}


def test_a_real_syntax_error_is_still_reported_with_its_line() -> None:
    result = load_bytes(b"urls: [https://y.io, b]\nbad: [1,\n", "f.yaml")
    assert [(p.line, p.message.split(":")[0]) for p in result.problems] == [(3, "invalid YAML")]


def test_files_are_named_as_found_and_in_path_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-b").mkdir()
    (tmp_path / "a").mkdir()
    for relative in ("a-b/x.yaml", "a/y.yaml", "top.yml", ".yaml", "skip.txt"):
        (tmp_path / relative).write_bytes(f"name: {relative}\n".encode())
    (tmp_path / "linked").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "alias.yaml").symlink_to(tmp_path / "top.yml")
    # By path components (a/ before a-b/), as sorted Paths; `.yaml` is a hidden file, not a
    # suffix; a symlinked directory is not followed, a symlinked file is read.
    expected = ["a/y.yaml", "a-b/x.yaml", "alias.yaml", "top.yml"]
    assert [d.file for d in load_tree(tmp_path, display_base=tmp_path).documents] == expected
    monkeypatch.chdir(tmp_path)
    assert [d.file for d in load_tree(Path(".")).documents] == expected
    assert [d.file for d in load_tree(Path("./a/")).documents] == ["a/y.yaml"]
    shown = [d.file for d in load_tree(tmp_path / "a", display_base=tmp_path.parent).documents]
    assert shown == [f"{tmp_path.name}/a/y.yaml"]
