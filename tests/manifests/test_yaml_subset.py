"""The fast path (``yaml_subset``) against libyaml: whatever it reads, it reads exactly as the
event path does (values, their types, key order, the line of every path); whatever it is unsure
of, it declines; and it never accepts a file the event path refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks.workload import spread, synthetic, write_manifests
from reconciler.adapters import yaml_subset
from reconciler.adapters.loader import (
    find_manifest_files,
    load_bytes,
    load_events,
    load_simple,
)

REPO = Path(__file__).resolve().parents[2]


def _shape(result: object) -> object:
    """A comparable form: ``repr`` keeps the difference between 1, 1.0 and True, and key order."""
    documents = getattr(result, "documents", [])
    problems = getattr(result, "problems", [])
    return [(d.file, d.index, d.line, repr(d.data), d.lines) for d in documents], problems


def _agrees(text: str) -> bool:
    """Assert the fast path agrees with libyaml on ``text``, read afresh and again from the
    lines it remembers; True when it read it at all."""
    yaml_subset.forget_lines()
    simple = load_simple(text, "m.yaml")
    again = load_simple(text, "m.yaml")
    assert _shape(again) == _shape(simple)
    # As a manifest file is read: the fast path (when it reads it) or the event path's words.
    assert _shape(load_bytes(text.encode(), "m.yaml")) == _shape(load_events(text, "m.yaml"))
    if simple is None:
        return False
    full = load_events(text, "m.yaml")
    assert not full.problems, f"fast path accepted a file libyaml refuses: {full.problems}"
    assert _shape(simple) == _shape(full)
    return True


# --- documents the subset must read (else the speed-up silently vanishes) --------------------


def test_reads_every_example_manifest_in_the_repository() -> None:
    files = find_manifest_files(REPO / "manifests")
    assert files
    for path in files:
        assert _agrees(path.read_text(encoding="utf-8")), path


def test_reads_the_benchmark_workload(tmp_path: Path) -> None:
    vocab, _, opportunities = synthetic(40)
    write_manifests(tmp_path, opportunities, vocab, spread(40, 5), owner_by_email=True)
    files = find_manifest_files(tmp_path)
    assert len(files) == 40
    for path in files:
        assert _agrees(path.read_text(encoding="utf-8")), path


def test_the_bad_manifest_corpus_is_declined_or_read_alike() -> None:
    """Each of tests/data/bad: refused by the event path, or (wrong only for the model) read
    the same by both."""
    read = 0
    for path in sorted((REPO / "tests" / "data" / "bad").glob("*.y*ml")):
        try:
            text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
        read += _agrees(text)
    assert read > 30  # most are wrong for the model, not as YAML: the fast path reads them


def test_values_types_and_lines_of_a_typical_manifest() -> None:
    text = (
        "# comment\n"
        "apiVersion: lfr/v1\n"
        "kind: Opportunity\n"
        "metadata:\n"
        "  name: acme   # trailing comment\n"
        "spec:\n"
        "  fields:\n"
        "    $amount: 120000\n"
        "    ratio: 1.5\n"
        "    flag: true\n"
        "    word: yes\n"
        "    none: ~\n"
        "    date: 2027-03-31\n"
        '    quoted: "123"\n'
        "    single: 'a # b'\n"
        "    url: https://x.io/a#b\n"
        '    products: [Platform, "Closed Won", 3]\n'
        "    empty: []\n"
        "  relationships:\n"
        "    $contact:\n"
        "    - con_1\n"
        "    -   con_2\n"
        "    $owner: {email: a@b.co}\n"
    )
    simple = load_simple(text, "m.yaml")
    assert simple is not None
    (document,) = simple.documents
    assert document.line == 2
    fields = document.data["spec"]["fields"]
    assert fields == {
        "$amount": 120000,
        "ratio": 1.5,
        "flag": True,
        "word": "yes",
        "none": None,
        "date": "2027-03-31",
        "quoted": "123",
        "single": "a # b",
        "url": "https://x.io/a#b",
        "products": ["Platform", "Closed Won", 3],
        "empty": [],
    }
    assert document.data["spec"]["relationships"] == {
        "$contact": ["con_1", "con_2"],
        "$owner": {"email": "a@b.co"},
    }
    assert document.lines[("spec", "relationships", "$contact", 1)] == 22
    assert document.lines[("spec", "relationships", "$owner", "email")] == 23
    assert _agrees(text)


def _count_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lines the reader works out from their text from now on (not from memory)."""
    scanned: list[str] = []
    scan = yaml_subset._Reader._scan

    def counting(reader: yaml_subset._Reader, line: str) -> object:
        scanned.append(line)
        return scan(reader, line)

    monkeypatch.setattr(yaml_subset._Reader, "_scan", counting)
    return scanned


def test_a_line_read_before_is_not_worked_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_subset.forget_lines()
    scanned = _count_scans(monkeypatch)
    first = "kind: Opportunity\nspec:\n  fields:\n    region: EMEA\n    products: [a, b]\n"
    second = "kind: Opportunity\nspec:\n  fields:\n    region: APAC\n    products: [a, b]\n"
    assert load_simple(first, "1.yaml") is not None
    assert len(scanned) == 6  # the five, and the empty text after the last line end
    read = load_simple(second, "2.yaml")
    assert scanned[6:] == ["    region: APAC"]  # the only line not seen before
    assert read is not None
    (document,) = read.documents
    assert document.data == {
        "kind": "Opportunity",
        "spec": {"fields": {"region": "APAC", "products": ["a", "b"]}},
    }
    assert document.lines[("spec", "fields", "products", 1)] == 5


def test_remembered_lists_are_new_lists_and_the_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    yaml_subset.forget_lines()
    monkeypatch.setattr(yaml_subset, "LINE_CACHE_SIZE", 3)
    text = "a: [x, y]\nb: 1\nc: 2\nd: 3\ne: [x, y]\n"
    first, second = load_simple(text, "m.yaml"), load_simple(text, "m.yaml")
    assert first is not None and second is not None
    first.documents[0].data["a"].append("z")  # a consumer may alter what it was given
    assert second.documents[0].data == {"a": ["x", "y"], "b": 1, "c": 2, "d": 3, "e": ["x", "y"]}
    assert first.documents[0].data["e"] == ["x", "y"]
    assert sum(map(len, yaml_subset._line_caches.values())) == 3
    assert _agrees(text)


def test_a_printable_ascii_file_is_not_searched_for_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nearly every manifest is printable ASCII: found so with two C loops, it is not searched
    for refused characters nor for those outside the subset; any other file still is."""
    searched: list[str] = []
    search = yaml_subset._OUTSIDE.search

    class Spy:
        def search(self, text: str) -> object:
            searched.append(text)
            return search(text)

    monkeypatch.setattr(yaml_subset, "_OUTSIDE", Spy())
    plain = "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: a\n"
    read = load_bytes(plain.encode(), "a.yaml")
    assert searched == [] and read.documents[0].data["metadata"] == {"name": "a"}
    accented = plain.replace("name: a", "name: \u00e9")
    assert load_bytes(accented.encode(), "b.yaml").documents[0].data["metadata"]["name"] == "\u00e9"
    assert searched == [accented]
    bell = plain.replace("name: a", "name: a\x07")
    (problem,) = load_bytes(bell.encode(), "c.yaml").problems
    assert str(problem).startswith("c.yaml:4: ")
    tab = plain.replace("  name", "\tname")
    assert load_bytes(tab.encode(), "d.yaml").problems  # the event path's words


# --- what it must decline (the event path then reads or refuses it) --------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors, aliases
        "a: !!str 1\n",  # tags
        "a: |\n  text\n",  # block scalars
        "a: >\n  text\n",
        "a: one\n  two\n",  # a multi-line plain scalar
        'a: "one\n  two"\n',  # a multi-line quoted scalar
        'a: "tab\\t"\n',  # escapes
        "a: 'it''s'\n",
        "a: 1\na: 2\n",  # a duplicate key
        "a:\n\tb: 1\n",  # tabs
        "a: 1\r\nb: 2\r\n",  # CR line ends
        "a: 1\n---\nb: 2\n",  # several documents
        "--- \na: 1\n",
        "%YAML 1.2\n---\na: 1\n",
        "- 1\n- 2\n",  # not a mapping
        "  a: 1\n",  # an indented root
        "a:\n  - x\n  b: 1\n",  # bad indentation
        "a:\n    b: 1\n  c: 2\n",
        "1: x\n",  # a key that is not text
        "true: x\n",
        "<<: {a: 1}\n",  # a merge key
        "a: <<\n",
        "? a\n: b\n",  # a complex key
        "a: [b, c,]\n",  # a trailing comma
        "a: [x: 1]\n",
        "a: [https://x.io]\n",  # YAML 1.1 vs 1.2
        "a: b: c\n",
        "a: -1\n",  # a leading indicator
        "a:\n- \n",  # an empty sequence item
        "a: x\u2028b: y\n",  # a Unicode line separator
        "a: \ufffe\n",  # outside YAML's printable set
        "# only a comment\n",
        "",
        "k" * 1025 + ": 1\n",  # libyaml's 1,024-character limit on implicit keys
        "a: {k" + " " * 1025 + ": 1}\n",
        "a: 0b_\n",  # YAML's int pattern, but not a number
    ],
)
def test_declines_what_it_does_not_certainly_read(text: str) -> None:
    assert load_simple(text, "m.yaml") is None


@pytest.mark.parametrize(
    ("flow", "some_read"),
    [
        ("[]", True),
        ("[a]", True),
        ("[[a]]", True),
        ("{a: {a: [b]}}", True),
        ("[" * 9 + "a" + "]" * 9, False),
    ],
)
def test_flow_levels_count_toward_the_nesting_limit(flow: str, some_read: bool) -> None:
    read = []
    for depth in range(48, 66):
        text = "".join(f"{' ' * i}k:\n" for i in range(depth)) + f"{' ' * depth}v: {flow}\n"
        read.append(_agrees(text))
    # The shallow flows are read at the shallow depths (so agreement is checked, not skipped).
    assert any(read) == some_read, read


def test_nesting_deeper_than_the_limit_goes_to_the_event_path() -> None:
    text = "".join(f"{'  ' * depth}k{depth}:\n" for depth in range(70)) + f"{'  ' * 70}v: 1\n"
    assert load_simple(text, "m.yaml") is None
    assert "nesting deeper than 64 levels" in str(load_events(text, "m.yaml").problems[0])


# --- generated documents: agree or decline --------------------------------------------------

# Agreement checks only what the fast path reads: a fast path that declined everything would
# pass them. So each property also counts what it read; about a quarter of either kind is read
# today, and a tenth is the floor below which the check has stopped checking.
MIN_READ = 0.1


def _assert_enough_read(read: list[bool]) -> None:
    assert read, "hypothesis ran no examples"
    assert sum(read) >= MIN_READ * len(read), f"fast path read {sum(read)} of {len(read)}"


# Texts chosen for the ways YAML reads them: types, indicators, comments, quotes, colons.
# fmt: off
_SCALARS = [
    "x", "Closed Won", "opp_cm1", "a@b.co", "lfr/v1", "123", "-5", "+1", "0x1F", "0o17", "1_000",
    "1.5", "1e3", ".inf", ".NaN", "-.5", "true", "False", "TRUE", "yes", "no", "on", "off", "y",
    "~", "null", "Null", "2027-03-31", "2027-03-31T10:00:00Z", "12:30", "a:b", "a: b", "a #b",
    "a#b", "#x", "x#", "-", "- x", "?", "? x", ":x", "x:", "a, b", "[x]", "{x}", "x]", "x}", "*x",
    "&x", "!x", "|", ">", "%x", "@x", "`x", "'", '"', "it's", 'say "hi"', "back\\slash",
    "é", "日本", "<<", "=", "", " ", "  x  ", ".", "...", "---", "a  b", "\t",
]
_KEYS = [
    "a", "b", "name", "$stage", "$owner", "x.y", "a-b", "a_b", "k1", "true", "1", "~", "<<",
    "a b", "a:", "-a", '"q"', "$x$",
]
# Half the draws are ordinary values, so that many documents are read, not declined.
_ORDINARY = [
    "x", "Closed Won", "opp_cm1", "a@b.co", "120000", "1.5", "true", "no", "~", "2027-03-31",
    "https://x.io/a", "O'Brien", "a, b", "x-y",
]
# fmt: on


@st.composite
def _scalar(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_ORDINARY) | st.sampled_from(_SCALARS))
    style = draw(st.sampled_from(["plain", "plain", "double", "single"]))
    if style == "double":
        return '"' + text + '"'
    if style == "single":
        return "'" + text + "'"
    return text


@st.composite
def _flow(draw: st.DrawFn, depth: int = 0) -> str:
    if depth < 2 and draw(st.booleans()):
        items = draw(st.lists(_flow(depth + 1), max_size=3))
        if draw(st.booleans()):
            return "[" + draw(st.sampled_from([", ", ",", " , "])).join(items) + "]"
        keys = draw(st.lists(st.sampled_from(_KEYS), min_size=len(items), max_size=len(items)))
        pairs = [f"{k}: {v}" for k, v in zip(keys, items, strict=True)]
        return "{" + ", ".join(pairs) + "}"
    return draw(_scalar())


@st.composite
def _block(draw: st.DrawFn, indent: int = 0, depth: int = 0) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    keys = st.sampled_from(_KEYS[:10]) | st.sampled_from(_KEYS)
    for key in draw(st.lists(keys, min_size=1, max_size=4, unique=draw(st.booleans()))):
        kind = draw(st.sampled_from(["scalar", "scalar", "flow", "map", "seq", "empty"]))
        if kind == "map" and depth < 3:
            lines.append(f"{pad}{key}:")
            step = draw(st.sampled_from([1, 2, 4]))
            lines += draw(_block(indent + step, depth + 1))
        elif kind == "seq":
            lines.append(f"{pad}{key}:")
            dash = pad + " " * draw(st.sampled_from([0, 2]))
            for item in draw(st.lists(_scalar(), min_size=1, max_size=3)):
                lines.append(f"{dash}-{draw(st.sampled_from([' ', '  ']))}{item}")
        elif kind == "flow":
            lines.append(f"{pad}{key}: {draw(_flow())}")
        elif kind == "empty":
            lines.append(f"{pad}{key}:")
        else:
            lines.append(f"{pad}{key}: {draw(_scalar())}")
        if draw(st.integers(0, 5)) == 0:
            lines[-1] += draw(st.sampled_from([" # note", "  #x", "#x", "   "]))
        if draw(st.integers(0, 7)) == 0:
            lines.append(draw(st.sampled_from(["", "# comment", f"{pad}  # indented", "   "])))
    return lines


def test_generated_documents_agree_or_are_declined() -> None:
    read: list[bool] = []

    @settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_block())
    @example(["a: [b, c]", "d:", "- e", "f: 1"])
    def agree_or_decline(lines: list[str]) -> None:
        read.append(_agrees("\n".join(lines) + "\n"))

    agree_or_decline()
    _assert_enough_read(read)


# Characters that change how YAML reads a line, for the mutation test below.
_MUTATIONS = [*":-#'\"[]{},&*!|>?%@ \t\n", "  ", ": ", " #", "- ", "\n  "]


def test_mutated_manifests_agree_or_are_declined() -> None:
    read: list[bool] = []

    @settings(max_examples=1500, deadline=None)
    @given(
        st.sampled_from(sorted(p.name for p in (REPO / "manifests").rglob("*.yaml"))),
        st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(_MUTATIONS), st.integers(0, 2))),
    )
    def agree_or_decline(name: str, edits: list[tuple[int, str, int]]) -> None:
        (path,) = (REPO / "manifests").rglob(name)
        text = path.read_text(encoding="utf-8")
        for position, piece, mode in edits:
            at = position % (len(text) + 1)
            if mode == 0:  # insert
                text = text[:at] + piece + text[at:]
            elif mode == 1:  # replace one character
                text = text[:at] + piece + text[at + 1 :]
            else:  # delete one character
                text = text[:at] + text[at + 1 :]
        read.append(_agrees(text))

    agree_or_decline()
    _assert_enough_read(read)
