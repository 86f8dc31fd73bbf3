"""Scrubbing API keys out of text a server sent back, before it reaches an exception.

Owned here so the rule is one function the client applies to every server-provided string
(error fields, non-JSON excerpts, protocol failures quoting response bytes). It replaces with
``MARK``, in any letter case and percent-encoded or not:

- any ``sk_lf_`` token (Lightfield's key prefix), so keys other than ours too;
- any run of at least ``MIN_FRAGMENT`` consecutive characters of the configured key (the
  whole key, or a page that cut it short at either end), or the whole key if it is shorter.

A character is matched as itself, as ``%HH`` after any number of encoding rounds (``%5F``,
``%255F``, ...): what a URL encoder makes of it, once or repeatedly; as an HTML character
reference (``&#95;``, ``&#x5f;``, ``&lowbar;``) or a JSON ``\\u005f`` escape (a JSON body cut
as an excerpt is not decoded). The text is not decoded;
only the spans that spell a key are replaced, the rest stays as sent. Callers redact first and
cut excerpts afterwards, so a cut can never leave a partial key behind.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

MARK = "sk_lf_…(redacted)"
# Eight characters of a random key are far beyond guessing; shorter runs would hit words.
MIN_FRAGMENT = 8


# HTML's named references for the characters a key is made of (HTML5 names; the rest are
# letters and digits, which have none).
_NAMED = {"_": ("lowbar", "UnderBar"), ".": ("period",), "/": ("sol",), "+": ("plus",),
          "=": ("equals",), "%": ("percnt",)}  # fmt: skip


def _char(c: str) -> str:
    """``c`` in either case, literally, percent-encoded once or more (``%(25)*HH``), as an HTML
    character reference (``&#115;``, ``&#x73;``, ``&lowbar;``) or a JSON escape (``\\u0073``)."""
    variants = sorted({c.lower(), c.upper()})
    codes = "|".join(f"{ord(v):02X}" for v in variants)
    decimal = "|".join(str(ord(v)) for v in variants)
    named = "".join(f"|&{name};" for name in _NAMED.get(c, ()))
    return (
        f"(?:{re.escape(c)}|%(?:25)*(?:{codes})|&#0*(?:{decimal});?|&#x0*(?:{codes});?"
        f"|\\\\+u00(?:{codes}){named})"  # \\+: a repr() doubles the backslash
    )


def _spelled(text: str) -> str:
    return "".join(map(_char, text))


# sk_lf_, then the characters a token is made of (base64, base64url) or their escapes.
_TOKEN = re.compile(
    _spelled("sk_lf_")
    + r"(?:[A-Za-z0-9_\-.~+/=%]|&#x?[0-9A-Fa-f]+;?|&(?:lowbar|UnderBar|period);"
    + r"|\\+u[0-9A-Fa-f]{4})+",
    re.IGNORECASE,
)


@lru_cache(maxsize=8)
def _fragments(key: str) -> re.Pattern[str]:
    """Every run of ``MIN_FRAGMENT`` characters of ``key``, matched in group 1 inside a
    lookahead so that overlapping runs are all found: together they cover a longer echo."""
    size = min(MIN_FRAGMENT, len(key))
    runs = sorted({key[i : i + size].lower() for i in range(len(key) - size + 1)})
    return re.compile(f"(?=({'|'.join(map(_spelled, runs))}))", re.IGNORECASE)


def redact(text: str, key: str) -> str:
    """``text`` with every ``sk_lf_`` token and every echo of ``key`` replaced by ``MARK``."""
    spans = [m.span() for m in _TOKEN.finditer(text)]
    if key:
        spans += [m.span(1) for m in _fragments(key).finditer(text)]
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:  # overlapping or touching: one echo
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, done = [], 0
    for start, end in merged:
        pieces += [text[done:start], MARK]
        done = end
    return "".join(pieces) + text[done:]


def redact_json(value: Any, key: str) -> Any:
    """``value`` (parsed JSON) with ``redact`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value, key)
    if isinstance(value, list):
        return [redact_json(item, key) for item in value]
    if isinstance(value, dict):
        return {redact_json(k, key): redact_json(v, key) for k, v in value.items()}
    return value
