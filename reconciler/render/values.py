"""How one value reads to a human, shared by the text and markdown renderers.

Option ids and related-record ids are shown by label where the plan knows one (design §4:
"select values shown by label, relationships by name"); every CRM-supplied string is stripped
of control characters, so a value cannot move the cursor, recolour a terminal or hide text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_MIDNIGHT_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T00:00:00\.000Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """``text`` with control and bidi-override characters shown as escapes."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
    return f"{safe(label)} ({record_id})" if label else record_id
