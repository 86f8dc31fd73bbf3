"""Which characters no manifest may hold, written raw or as a YAML escape: the one table the
loader refuses them by (``adapters/yaml_events``) and export keeps them out by
(``core/spelling``), so lfr never writes a manifest it would then refuse.
"""

from __future__ import annotations

import re
import unicodedata

# The characters refused anywhere in a manifest, whether written raw or as a YAML escape in a
# double-quoted scalar (`"\e"`, `"\x00"`, `"\u202e"`): ones a reviewer could not see in a diff,
# or would see in another order or on other lines than the loader reads them. The one list both
# checks are built from (README, "YAML is untrusted input").
REFUSED_CHARACTERS: tuple[tuple[str, str, str], ...] = (
    # C0 except tab and line feed (the loader allows a CR in a CRLF line end), DEL, C1.
    ("control character", "\x00-\x08\x0b-\x1f\x7f-\x9f", "invisible in a review"),
    # Trojan Source: embeddings, overrides and isolates reorder the text a reviewer sees; the
    # marks (LRM, RLM, ALM) are invisible.
    (
        "bidirectional control",
        "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069",
        "it reorders or hides text in a review",
    ),
    # Zero-width and invisible format characters, and Unicode tags (text hidden in plain
    # sight). Not ZWNJ / ZWJ (U+200C, U+200D): Persian, Indic scripts and emoji need them.
    (
        "invisible character",
        "\xad\u180e\u200b\u2060-\u2064\ufeff\ufff9-\ufffb\U000e0000-\U000e007f",
        "invisible in a review",
    ),
    # Line breaks to YAML 1.1 (libyaml), not to most editors.
    ("line separator", "\u2028\u2029", "YAML and editors disagree on the lines around it"),
    # Only reachable as escapes (`"\ud800"`): no valid JSON string for the API.
    ("surrogate or noncharacter", "\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff", "it is not text"),
)


REFUSED = re.compile("[" + "".join(ranges for _, ranges, _ in REFUSED_CHARACTERS) + "]")


_KINDS = [(kind, re.compile(f"[{chars}]"), why) for kind, chars, why in REFUSED_CHARACTERS]


def refused_in(text: str) -> str | None:
    """Which character of ``text`` no manifest may hold (``U+202E (RIGHT-TO-LEFT OVERRIDE)``),
    or None: for writers of manifests (export), so they never write what the loader refuses."""
    found = REFUSED.search(text)
    if found is None:
        return None
    name = unicodedata.name(found.group(), "")
    return f"U+{ord(found.group()):04X}{f' ({name})' if name else ''}"


def refused_message(character: str, written: str = "") -> str:
    """Which refused character, and why: ``written`` is the escape that wrote it, if any."""
    kind, why = next((kind, why) for kind, chars, why in _KINDS if chars.match(character))
    name = unicodedata.name(character, "")
    return (
        f"{kind} U+{ord(character):04X}{f' ({name})' if name else ''} is not allowed"
        f"{f' (written as {written})' if written else ''}: {why}"
    )
