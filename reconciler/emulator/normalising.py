"""What a normalising server (profile ``normalising``, profiles.py) does to the values it stores.

Owns ``normalised``: the stored form of a value once validated, rewritten the way an API that
canonicalises input might (docs/api-contract.md §3). Some rewrites a client can predict and
canonicalise too (a URL's scheme, letter case and trailing slash; surrounding whitespace of
text); some it cannot (currency rounded to whole units, a date-time stored as its date).
Called by validation.py when the served profile normalises.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .definitions import FieldDef


def normalised(f: FieldDef, value: Any) -> Any:
    """``value`` (already validated and coerced) as this server stores it."""
    if value is None:
        return None
    kind = f.value_type
    if kind == "TEXT" and isinstance(value, str):
        return value.strip()
    if kind == "URL":
        return (
            [canonical_url(v) for v in value] if isinstance(value, list) else canonical_url(value)
        )
    if kind == "CURRENCY" and isinstance(value, int | float):
        return round(value)
    if kind == "DATETIME" and isinstance(value, str):
        return value[:10] + "T00:00:00.000Z"
    return value


def canonical_url(text: str) -> str:
    """``https://`` when no scheme was given, scheme and host in lower case, no trailing ``/``."""
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    path = parts.path.rstrip("/")
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), path, parts.query, parts.fragment)
    )
