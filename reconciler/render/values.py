"""How one value reads to a human, shared by the text and markdown renderers.

Option ids and related-record ids are shown by label where the plan knows one (architecture.md §4:
"select values shown by label, relationships by name"). ``safe`` is the one rule for showing a
string from outside lfr (a CRM value, a record or related-record name, a manifest file name, an
API error message) on one line: nothing in it can break the line, move the cursor, recolour a
terminal, hide or reorder text, or become a GitHub Actions workflow command; and no API key
in it (an ``sk_lf_`` token) is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.redact import redact

_MIDNIGHT_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T00:00:00\.000Z")
# Every character that does not show as itself on one line, except the plain space (U+0020):
# Unicode categories Cc (C0 with \t \n \r, DEL, C1 with NEL U+0085), Cf (format: soft hyphen,
# zero-width space / joiners, LRM / RLM / ALM, bidi embeddings, overrides and isolates, word
# joiner and invisible operators U+2060-2064, BOM U+FEFF, tag characters U+E0000-E007F ...), Zl
# and Zp (U+2028, U+2029), Zs other than U+0020 (NBSP and the other spaces pass for a space), Cs
# (a lone surrogate cannot even be printed), and the blanks that are letters or marks: U+034F,
# the Hangul fillers U+115F U+1160 U+3164 U+FFA0, U+17B4-17B5, U+180B-180F, U+2800 and the
# variation selectors U+FE00-FE0F, U+E0100-E01EF. So a change that only adds a zero-width space,
# a soft hyphen or a non-breaking space shows in the plan, and a value cannot start a new line.
# (Emoji built with ZWJ or U+FE0F show those as escapes too: exactness over looks.) Written out
# for speed; tests/plan/test_values.py checks it against unicodedata.
INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\xa0\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u115f-\u1160\u1680\u17b4-\u17b5\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u2064"
    r"\u2066-\u206f\u2800\u3000\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    r"\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# GitHub's runner reads two kinds of workflow command from a step's output: `::name ...::data`
# at the start of a line after any whitespace (TryParseV2 trims it), and the legacy
# `##[name ...]data` anywhere in a line (TryParse looks for the prefix with IndexOf). Once line
# breaks are escapes, a string can only start a line where a renderer puts it first, so its own
# leading `:` (after spaces: every other whitespace is an escape by then) is escaped, and so
# is the `[` of every `##[`. Applied to every string, whatever the environment, so the output
# under GITHUB_ACTIONS is the output everywhere else.
_LEGACY_COMMAND = "##["
_KEY_PREFIX = re.compile("sk_lf_", re.IGNORECASE)
_LEADING_COMMAND = re.compile(r"^( *):")


def _escape(char: str) -> str:
    code = ord(char)
    return _SHORT.get(char) or (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def safe(text: str) -> str:
    """``text`` as one inert line: invisible, control and line-breaking characters shown as
    escapes (``\\n``, ``\\u200b``), and nothing that GitHub Actions would run as a command.
    An ``sk_lf_`` token in it (a CRM value holding a key) shows as ``redact.MARK``."""
    # Two substring checks first: nearly no string holds "f_" at all (this runs on every one).
    if ("f_" in text or "F_" in text) and _KEY_PREFIX.search(text) is not None:
        text = redact(text, "")
    text = INVISIBLE.sub(lambda m: _escape(m.group()), text)
    if _LEGACY_COMMAND in text:
        text = text.replace(_LEGACY_COMMAND, "##\\u005b")
    # A single leading ':' too: renderers follow a key or name with their own ':' (a field
    # key ":" would make "    :: manifest ...").
    if text.lstrip(" ").startswith(":"):
        text = _LEADING_COMMAND.sub(r"\1\\u003a", text, count=1)
    return text


def show(value: Any, labels: Mapping[str, str]) -> str:
    """A canonical value as a short human string."""
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, str):
        label = labels.get(value)
        if label is not None:
            return safe(label)
        if _MIDNIGHT_UTC.fullmatch(value):
            return value[:10]  # a date-only value, as the manifest wrote it
        return f'"{safe(value)}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v, labels) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{safe(str(k))}: {show(v, labels)}" for k, v in value.items())
        return "{" + inner + "}"
    return safe(str(value))


def link_name(record_id: str, labels: Mapping[str, str]) -> str:
    label = labels.get(record_id)
    return f"{safe(label)} ({safe(record_id)})" if label else safe(record_id)
