"""``values.safe``, the one rule for showing a string from outside lfr on one line, over every
character it escapes; the JSON renderer's escapes of the same set; the CLI's last guard.

The pipeline tests (tests/security/test_output_injection.py) put hostile strings through the
API, the CLI and every format; these check the rule itself, character by character.
"""

from __future__ import annotations

import json
import sys
import unicodedata

from reconciler.core.plan import Plan
from reconciler.render import json as json_render
from reconciler.render.github import neutralise_commands
from reconciler.render.values import INVISIBLE, safe, show

# The documented set: categories Cc, Cf, Zl, Zp, Zs but U+0020, Cs, and blank letters and marks.
CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Zs", "Cs"}
BLANKS = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
BLANKS |= {*range(0x180B, 0x1810), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}
EVERY = [chr(c) for c in range(sys.maxunicode + 1)]
DOCUMENTED = {
    ch
    for ch in EVERY
    if (unicodedata.category(ch) in CATEGORIES and ch != " ") or ord(ch) in BLANKS
}
# Everything str.splitlines or a terminal takes as a line break.
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def test_the_escaped_set_is_the_documented_one() -> None:
    """Written out as ranges for speed; a newer Unicode (a Python upgrade) that assigns more
    format characters fails here until the ranges are regenerated."""
    matched = {ch for ch in EVERY if INVISIBLE.fullmatch(ch)}
    assert sorted(map(ord, matched - DOCUMENTED)) == []
    assert sorted(map(ord, DOCUMENTED - matched)) == []
    assert len(DOCUMENTED) > 2500


def test_every_invisible_character_shows_and_breaks_no_line() -> None:
    """Item 6 of issue 12: a value that differs only by one of them must not look unchanged."""
    for ch in sorted(DOCUMENTED):
        shown = safe(f"a{ch}b")
        assert shown != "ab" and shown.isascii(), repr(ch)
        assert len(shown.splitlines()) == 1, repr(ch)
        assert show(f"a{ch}b", {}) != show("ab", {})
        assert safe(shown) == shown  # idempotent: safe text stays as it is


def test_common_escapes_read_as_in_source() -> None:
    assert safe("Line one\nLine two\r\n\tend") == "Line one\\nLine two\\r\\n\\tend"
    assert safe("a\u200bb\u00adc\u00a0d\ufeff") == "a\\u200bb\\u00adc\\u00a0d\\ufeff"
    assert safe("flag \U000e0067") == "flag \\U000e0067"
    assert safe("\ud800") == "\\ud800"  # a lone surrogate would not even print
    assert safe("Acme — Q3 renewal ✓ 😀") == "Acme — Q3 renewal ✓ 😀"  # visible text untouched


def test_no_string_starts_a_workflow_command() -> None:
    for text in ("::add-mask::x", "  ::stop-commands::t", "\t::error::x", "\u3000::x::", "\n::x::"):
        shown = safe(text)
        assert not shown.lstrip().startswith("::"), shown
        assert "\n" not in shown
    assert safe("x ##[add-mask]y") == "x ##\\u005badd-mask]y"
    assert safe("mid ::add-mask:: text") == "mid ::add-mask:: text"  # only a line start runs
    assert safe(":: ") == "\\u003a: "
    assert safe("::1") == "\\u003a:1"  # an IPv6 loopback too: a rare price for a simple rule


def test_no_renderer_can_make_a_command_from_a_string_and_its_own_colon() -> None:
    """A renderer writes ``{safe(key)}: ...`` (drift, plan, problems): a key ``:`` from the
    server must not become ``    :: manifest ...`` at a line start."""
    for text in (":", " :", "  :x", ":\n", ": :"):
        for composed in (f"    {safe(text)}: manifest 1", f"{safe(text)}:", f"~ {safe(text)}:"):
            assert not composed.lstrip().lstrip("~ ").startswith("::"), composed
    assert safe(":") == "\\u003a"
    assert safe("a:b") == "a:b"  # only the start of a string matters


def test_json_escapes_the_same_characters_and_reads_back_exactly() -> None:
    # Surrogates one at a time: JSON reads an escaped high-low pair as one character.
    visible = sorted(ch for ch in DOCUMENTED if unicodedata.category(ch) != "Cs")
    hostile = "".join(visible) + "\ud800 \udfff ##[add-mask]x ::y"
    plan = Plan(revision="r", target=hostile, records=(), labels={hostile: hostile})
    rendered = json_render.render_plan(plan)
    assert INVISIBLE.search(rendered.replace("\n", "")) is None
    assert all(ch not in rendered for ch in BREAKS[1:])
    assert "##[" not in rendered
    data = json.loads(rendered)
    assert data["target"] == hostile and data["labels"] == {hostile: hostile}


def test_the_cli_guard_neutralises_any_command_line_it_is_given() -> None:
    text = "ok\n::add-mask::a\r  ::stop-commands::b\n\t::error::c\nmid ::x:: ok\nv ##[add-mask]d\n"
    guarded = neutralise_commands(text)
    lines = guarded.replace("\r", "\n").split("\n")
    assert [line for line in lines if line.lstrip().startswith("::")] == []
    assert "##[" not in guarded
    assert "mid ::x:: ok" in guarded  # only the start of a line matters
    assert neutralise_commands(guarded) == guarded
    assert neutralise_commands("Plan: 1 to create.\n") == "Plan: 1 to create.\n"
