"""Characters a reviewer could not see are refused whether written raw or as a YAML escape, by
both reading paths, at the line that holds them (issue 12, item 7), and keys that Python holds
equal (`1:`, `true:`, `1.0:`) are reported as what they are.

Every refused code point (of the 2,048 surrogates, five) is tried raw and in every spelling YAML
has for it: the fast path must decline each file, the event path must refuse it with
``file:line``, and no document comes out for anything to be sent from."""

from __future__ import annotations

import re

import pytest

from reconciler.adapters.loader import load_bytes, load_events, load_simple
from tests.support.demo import opportunity

# The refused set as README states it, written out here rather than imported: the test holds
# the loader to the documented set, not to itself.
REFUSED = [
    *range(0x00, 0x09),
    *range(0x0B, 0x20),  # C0 except tab and line feed (CR: only as part of CRLF, raw)
    *range(0x7F, 0xA0),  # DEL, C1
    0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),  # bidi
    0x00AD, 0x180E, 0x200B, *range(0x2060, 0x2065), 0xFEFF, *range(0xFFF9, 0xFFFC),  # invisible
    *range(0xE0000, 0xE0080),  # Unicode tags
    0x2028, 0x2029,  # line and paragraph separators
    0xD800, 0xD83D, 0xDBFF, 0xDC00, 0xDFFF,  # surrogates (their ends, and a common one)
    *range(0xFDD0, 0xFDF0), 0xFFFE, 0xFFFF,  # noncharacters
]  # fmt: skip
# Kept: what real names are written with.
ALLOWED = [
    "\t",
    "\n",
    "\u200c",
    "\u200d",
    "\u00a0",
    "\u00e9",
    "\u05d0",
    "\U0001f468\u200d\U0001f469",
]
SHORT_ESCAPES = {
    "\\0": 0x00, "\\a": 0x07, "\\b": 0x08, "\\v": 0x0B, "\\f": 0x0C, "\\r": 0x0D, "\\e": 0x1B,
    "\\N": 0x85, "\\L": 0x2028, "\\P": 0x2029,
}  # fmt: skip
MESSAGE = re.compile(r"U\+([0-9A-F]{4,6})\b.* is not allowed")


def _manifest(value: str) -> str:
    """An ordinary manifest with ``value`` (YAML source) at line 8: fast-path shaped."""
    return opportunity("m", "opp_cmr3idcbxmiev5v", f"fields:\n  $nextSteps: {value}\n")


def _escapes(code: int) -> list[str]:
    """Every way YAML's double-quoted scalars write ``code``."""
    spelled = [f"\\U{code:08X}"]
    if code <= 0xFFFF:
        spelled.append(f"\\u{code:04x}")
    if code <= 0xFF:
        spelled.append(f"\\x{code:02X}")
    return spelled + [short for short, c in SHORT_ESCAPES.items() if c == code]


def _refused_at(text: str, line: int, code: int) -> None:
    """Refused by the event path at ``line`` for U+``code``, declined by the fast path."""
    assert load_simple(text, "m.yaml") is None
    result = load_events(text, "m.yaml")
    assert result.documents == []
    (problem,) = result.problems
    found = MESSAGE.search(problem.message)
    assert (problem.file, problem.line) == ("m.yaml", line), problem
    assert found is not None and int(found.group(1), 16) == code, problem
    assert load_bytes(text.encode("utf-8", "surrogatepass"), "m.yaml").problems


def test_every_refused_character_is_refused_raw_and_in_every_escape() -> None:
    tried = 0
    for code in REFUSED:
        character = chr(code)
        # No raw surrogate in UTF-8 (the decoder refuses it); a raw CR is tried alone below.
        if not 0xD800 <= code < 0xE000 and code != 0x0D:
            # In a value the fast path would read, and in a comment, which only the
            # event path would see: the check is made before either path reads a thing.
            _refused_at(_manifest(f"call {character}Acme"), 8, code)
            _refused_at(_manifest(f"call  # {character}note"), 8, code)
            tried += 2
        for escape in _escapes(code):
            _refused_at(_manifest(f'"call {escape}Acme"'), 8, code)
            _refused_at(_manifest(f'"call"\n  "key {escape}": x'), 9, code)  # in a key
            tried += 2
    print(f"{len(REFUSED)} refused code points, {tried} hostile files: all refused at file:line")
    assert tried > 2 * len(REFUSED)


def test_the_fast_path_reads_the_same_manifest_without_the_character() -> None:
    # So the refusals above are the character's, not the shape's: the file is a fast-path one.
    assert load_simple(_manifest("call Acme"), "m.yaml") is not None
    assert load_simple(_manifest('"call Acme"'), "m.yaml") is not None


@pytest.mark.parametrize("text", ALLOWED)
def test_characters_real_text_needs_are_kept(text: str) -> None:
    escaped = "".join(f"\\U{ord(c):08x}" for c in text)
    for value in [f'"a{escaped}b"'] + ([] if text in "\t\n" else [f"a{text}b"]):
        result = load_bytes(_manifest(value).encode(), "m.yaml")
        assert result.problems == [], result.problems
        assert result.documents[0].data["spec"]["fields"]["$nextSteps"] == f"a{text}b"


def test_crlf_line_ends_are_kept_and_a_lone_cr_is_refused() -> None:
    crlf = _manifest("call Acme").replace("\n", "\r\n")
    assert load_bytes(crlf.encode(), "m.yaml").problems == []
    _refused_at(_manifest("call\rAcme").replace("\n", "\r\n"), 8, 0x0D)
    _refused_at(_manifest("call\rAcme"), 8, 0x0D)


def test_an_escaped_backslash_is_not_an_escape() -> None:
    result = load_bytes(_manifest('"C:\\\\x07 \\\\e \\\\u202e"').encode(), "m.yaml")
    assert result.problems == []
    assert result.documents[0].data["spec"]["fields"]["$nextSteps"] == "C:\\x07 \\e \\u202e"


def test_the_line_is_the_escape_s_in_a_scalar_over_several_lines() -> None:
    text = _manifest('"first line\n    second line\n    third \\u202e line"')
    _refused_at(text, 10, 0x202E)
    # Lines are found by character offsets: wide characters before the escape do not shift them.
    _refused_at(_manifest('"\U0001f600 one\n    \U0001f600 \\e two"'), 9, 0x1B)
    result = load_events(text, "m.yaml")
    assert str(result.problems[0]) == (
        "m.yaml:10: bidirectional control U+202E (RIGHT-TO-LEFT OVERRIDE) is not allowed "
        "(written as \\u202e): it reorders or hides text in a review"
    )


def test_raw_and_escaped_forms_give_the_same_message_but_for_how_they_were_written() -> None:
    raw = load_bytes(_manifest("call \x1b[31mAcme").encode(), "m.yaml").problems
    escaped = load_bytes(_manifest('"call \\e[31mAcme"').encode(), "m.yaml").problems
    assert [str(p) for p in raw] == [
        "m.yaml:8: control character U+001B is not allowed: invisible in a review"
    ]
    assert [str(p) for p in escaped] == [
        "m.yaml:8: control character U+001B is not allowed (written as \\e): invisible in a review"
    ]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            "1: a\ntrue: b\n",
            "2: key true (a boolean) and key 1 (an integer, line 1) are read as the same key",
        ),
        (
            "true: a\n1: b\n",
            "2: key 1 (an integer) and key true (a boolean, line 1) are read as the same key",
        ),
        (
            "0: a\nfalse: b\n",
            "2: key false (a boolean) and key 0 (an integer, line 1) are read as the same key",
        ),
        (
            "1.0: a\n1: b\n",
            "2: key 1 (an integer) and key 1.0 (a float, line 1) are read as the same key",
        ),
        ("{1: a, 1.0: b}\n", "1: key 1.0 (a float) and key 1 (an integer, line 1) are read"),
        ("1: a\n0x1: b\n", "2: duplicate key 1 (first at line 1)"),
        ("true: a\nTrue: b\n", "2: duplicate key true (first at line 1)"),
        ("null: a\n~: b\n", "2: duplicate key null (first at line 1)"),
        (".nan: a\n.nan: b\n", "2: duplicate key nan (first at line 1)"),  # NaN != NaN
        ("'1': a\n1: b\n'true': c\n", None),  # text and number: different keys
    ],
)
def test_keys_python_holds_equal_are_reported_as_what_they_are(
    keys: str, message: str | None
) -> None:
    assert load_simple(keys, "m.yaml") is None  # non-text keys: the event path's to judge
    problems = [str(p) for p in load_events(keys, "m.yaml").problems]
    if message is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(f"m.yaml:{message}"), problems
