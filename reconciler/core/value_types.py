"""Each value type's rules: a manifest value checked and normalised for comparison with the
API's (architecture.md §3, lightfield-api.md §3).

Owns what a NUMBER, CHECKBOX, TEXT, DATETIME, EMAIL, URL, TELEPHONE, SOCIAL_HANDLE, ADDRESS or
FULL_NAME value may be, and its canonical form: numbers within the API's safe integer range with
at most 2 decimals, instants in UTC with milliseconds, sets sorted, phone numbers as digits. A
value that breaks a rule is a ``ValueProblem`` whose message says how to write it. Which rule
applies to which key is ``org``'s (the org's definitions).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .model import describe_value as _describe
from .records import FieldDefinition

MAX_SAFE_INTEGER = 2**53 - 1


COORDINATE_BOUNDS = {"latitude": 90, "longitude": 180}


_BOOLEAN_WORDS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


# The API's value rules (docs/emulator.md, "Values"), as the emulator states them
# (emulator/values.py); a differential test (tests/plan/test_values_agree_with_the_api.py)
# holds the two together.
MAX_URL_LENGTH = 2048


MAX_EMAIL_LENGTH = 254


# Telephone numbers are ASCII: a Unicode digit (Arabic-Indic, full-width) is not a digit here.
_EXTENSION = re.compile(
    r"\s*(?:;\s*ext=|ext\.?:?|extension|x|#)\s*(\d{1,6})\s*$", re.IGNORECASE | re.ASCII
)


# An address's local part: no whitespace, '@' or the characters that separate or quote addresses
# ("a@x.io, b@x.io", "<a@x.io>"); the domain must be a host name.
_EMAIL = re.compile(r'([^@\s<>()\[\],;:"\\]+)@([^@\s]+)')


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


_HTTP = re.compile(r"^https?://", re.IGNORECASE)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"


_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")


# SOCIAL_HANDLE: a profile URL of the field's handleService (lightfield-api.md §3).
_HANDLES: dict[str, tuple[re.Pattern[str], str]] = {
    "TWITTER": (
        re.compile(
            r"^https?://([a-z]+\.)?(x|twitter)\.com/[A-Za-z0-9_]{1,15}/?(\?\S*)?$", re.IGNORECASE
        ),
        "https://x.com/<user>",
    ),
    "LINKEDIN": (
        re.compile(
            r"^https?://([a-z]+\.)?linkedin\.com/(in|company)/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE
        ),
        "https://linkedin.com/in/<slug> or /company/<slug>",
    ),
    "FACEBOOK": (
        re.compile(r"^https?://([a-z]+\.)?facebook\.com/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE),
        "https://facebook.com/<user>",
    ),
    "INSTAGRAM": (
        re.compile(r"^https?://([a-z]+\.)?instagram\.com/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE),
        "https://www.instagram.com/<user>",
    ),
}


class EmailAddress(str):
    """An email address as written, equal to one that differs only in letter case (``lower``,
    not ``casefold``: "straße@" and "strasse@" are two mailboxes)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.lower() == other.lower()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.lower())


class WebAddress(str):
    """A URL as written, equal to one a normalising server would store for it (a missing
    scheme read as ``https://``, scheme and host in any letter case, a trailing ``/``): what lfr
    sends is unchanged, but a server's canonical form of it is not a difference
    (docs/api-contract.md §3)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and canonical_url(self) == canonical_url(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(canonical_url(self))


def canonical_url(text: str) -> str:
    """The form of a URL two servers' spellings share: ``https://`` when no scheme is given,
    scheme and host in lower case, no trailing ``/`` (path, query and fragment otherwise as
    written: their case can matter)."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "https", text
    ends = [i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0]
    split = min(ends, default=len(rest))
    host, tail = rest[:split], rest[split:]
    # Only the path's own trailing slash goes: "a.com/x/?q" keeps its query as written.
    marks = [i for i in (tail.find("?"), tail.find("#")) if i >= 0]
    cut = min(marks, default=len(tail))
    return f"{scheme.lower()}://{host.lower()}{tail[:cut].rstrip('/')}{tail[cut:]}"


class Text(str):
    """TEXT as written, equal to the same text with other surrounding whitespace (a YAML block
    scalar's final newline; a server that trims what it stores): sent unchanged, never a
    difference on its own (docs/api-contract.md §3)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.strip() == other.strip()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.strip())


class ValueProblem(Exception):
    """A value that does not fit its definition; the message is shown after ``file:line:``.

    ``items`` holds (list index, message) for each bad item of a list value, so each is
    reported at its own line; the message then sums them up."""

    def __init__(self, message: str, items: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(message)
        self.items = tuple(items)


def number(value: Any) -> int | float:
    if value.__class__ is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value  # the common case: no decimals to count
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            raise ValueProblem(
                f"expected a number, got text {value!r}; write digits only (e.g. 12000)"
            )
        raise ValueProblem(f"expected a number, got {_describe(value)}")
    # An integer may have any number of digits: compare it before math.isfinite, which cannot
    # convert one beyond a float's range.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"expected a finite number, got {value}")
    if abs(value) > MAX_SAFE_INTEGER:
        # (str() of an integer of thousands of digits raises: name its size instead)
        shown = (
            f"a number of ~{int(value.bit_length() * math.log10(2)) + 1} digits"
            if isinstance(value, int) and value.bit_length() > 64
            else value
        )
        raise ValueProblem(f"{shown} is outside the API's safe integer range (±{MAX_SAFE_INTEGER})")
    try:
        exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    except InvalidOperation:  # pragma: no cover - finite numbers always convert
        raise ValueProblem(f"expected a number, got {value!r}") from None
    if isinstance(exponent, int) and exponent < -2:
        raise ValueProblem(f"at most 2 decimal places are allowed, got {value}")
    # Compare by value: 120000 and 120000.0 are one number.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def checkbox(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS:
        raise ValueProblem(
            f"expected true or false, got text {value!r} (YAML 1.2 reads yes/no/on/off as text)"
        )
    raise ValueProblem(f"expected true or false, got {_describe(value)}")


def plain_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueProblem(f"expected text, got {_describe(value)}; quote it to keep it as text")


def instant(value: Any) -> str:
    """ISO 8601 instant in UTC with milliseconds; a bare date means midnight UTC."""
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if not isinstance(value, str):
        raise ValueProblem(f"expected a date (2027-03-31) or date-time, got {_describe(value)}")
    text = value.strip()
    try:
        if "T" not in text.upper() and " " not in text:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueProblem(
            f"{value!r} is not a valid date (YYYY-MM-DD) or date-time "
            "(YYYY-MM-DDTHH:MM:SSZ or with an offset like +02:00)"
        ) from None
    if moment.tzinfo is None:
        raise ValueProblem(
            f"date-time {value!r} has no time zone; add 'Z' for UTC or an offset like +02:00"
        )
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueProblem(f"{value!r} is outside the years 0001-9999 in UTC") from None
    # Four-digit years always (strftime writes year 1 as "1", which is not ISO 8601).
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def multi(definition: FieldDefinition, value: Any, *, strict: bool) -> Any:
    """EMAIL / URL / TELEPHONE: a sorted tuple when ``multipleValues``, else one string.

    Strict (a manifest's value): every bad item is a problem of its own (``ValueProblem.items``).
    Lenient (a live value): items are normalized where they can be and kept as they are else."""
    multiple = bool(definition.type_configuration.multiple_values)
    kind = definition.value_type
    items: list[Any] = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise ValueProblem(f"expected text or a list of text, got {_describe(value)}")

    def one(item: str) -> str:
        text = item.strip()
        if kind == "TELEPHONE":
            phone = normalize_phone(text)
            if phone is None and strict:
                raise ValueProblem(f"{item!r} is not a telephone number")
            return text if phone is None else phone
        reason = (email_problem if kind == "EMAIL" else url_problem)(text) if strict else None
        if reason is not None:
            raise ValueProblem(f"{item!r} {reason}")
        # Sent as written (what was validated: casefolding "ß" or "İ" changes the address, its
        # length and its domain); compared case-insensitively, as mail systems do. A URL is
        # compared in its canonical form (WebAddress).
        return EmailAddress(text) if kind == "EMAIL" else WebAddress(text)

    normalized = each(items, one) if strict else [one(item) for item in items]
    # The API keeps one of the values that differ only in letter case (URLs too): so does lfr,
    # the first in sorted order, so that what it sends is what it reads back. Addresses sort
    # by their lower case first, so that two spellings of one set line up item by item.
    # URLs sort by their canonical form, so that a normalising server's spelling of a set
    # lines up item by item with the manifest's.
    order: Any = (lambda t: (t.lower(), t)) if kind == "EMAIL" else None
    if kind == "URL":
        order = lambda t: (canonical_url(t), t)  # noqa: E731
    unique: dict[str, str] = {}
    for text in sorted(normalized, key=order):
        unique.setdefault(text.casefold(), text)
    values = list(unique.values())
    if multiple:
        return tuple(values) or None
    if len(values) > 1:
        raise ValueProblem(f"this field holds one value, got {len(values)}")
    return values[0] if values else None


def each(items: Sequence[Any], check: Any) -> list[Any]:
    """``check`` of every item; the problems of all bad items at once (with their index)."""
    results: list[Any] = []
    bad: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            results.append(check(item))
        except ValueProblem as problem:
            bad.append((index, str(problem)))
    if bad:
        if len(items) == 1 and len(bad) == 1:
            raise ValueProblem(bad[0][1])
        raise ValueProblem(f"{len(bad)} of {len(items)} items are not valid", bad)
    return results


def visible(text: str) -> bool:
    """No whitespace, control, format (bidi), private-use, surrogate or unassigned character."""
    if text.isascii():  # the common case, without a lookup per character
        return text.isprintable() and " " not in text
    return all(unicodedata.category(c)[0] not in "CZ" for c in text)


def host_problem(host: str) -> str | None:
    """None for a DNS name with a dot and a letter TLD (IDN letters allowed) or an IPv4
    address; else what is wrong."""
    if _IPV4.fullmatch(host):
        return None
    labels = host.split(".")
    if not host:
        return "has no host"
    if len(host) > 253 or len(labels) < 2:
        return f"host {host!r} is not a domain name (like acme.com)"
    for label in labels:
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return f"host {host!r} is not a domain name (like acme.com)"
        if not all(c.isalnum() or c in "-_" for c in label):
            return f"host {host!r} is not a domain name (like acme.com)"
    tld = labels[-1]
    if not (tld.isalpha() or tld.casefold().startswith("xn--")):
        return f"host {host!r} is not a domain name (like acme.com)"
    return None


def email_problem(text: str) -> str | None:
    """None for ``local@domain`` (at most 254 visible characters, a host name as domain)."""
    match = _EMAIL.fullmatch(text)
    if match is None or len(text) > MAX_EMAIL_LENGTH or not visible(text):
        return "is not an email address"
    if host_problem(match.group(2)) is not None:
        return "is not an email address"
    return None


def url_problem(text: str) -> str | None:
    """None for an http(s) URL or a bare host (``acme.com/pricing``): no other scheme, no user
    info, a host name or IPv4 address, an optional port 1-65535, at most 2048 visible
    characters; else what is wrong."""
    if not text:
        return "is not a URL: it is empty"
    if len(text) > MAX_URL_LENGTH:
        return f"is not a URL: longer than {MAX_URL_LENGTH} characters"
    if not visible(text):
        return "is not a URL: it contains whitespace or control characters"
    scheme = _HTTP.match(text)
    if scheme is None and _SCHEME.match(text):
        return "is not a URL: only http:// and https:// are allowed"
    rest = text[scheme.end() :] if scheme else text
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return "is not a URL: a user name or password before the host is not allowed"
    host, colon, port = authority.partition(":")
    if colon and not (port.isascii() and port.isdigit()):
        # `javascript:alert(1)`, `mailto:x@y.io`: a scheme without `//` reads as host:port
        return "is not a URL: only http:// and https:// are allowed (or a bare domain)"
    if colon and not 1 <= int(port) <= 65535:
        return f"is not a URL: port {port} is not between 1 and 65535"
    problem = host_problem(host)
    return None if problem is None else f"is not a URL: {problem}"


def social_handle(definition: FieldDefinition, value: Any) -> str:
    text = plain_text(value).strip()
    service = definition.type_configuration.handle_service or ""
    known = _HANDLES.get(service)
    if known is None:
        raise ValueProblem(f"handle service {service!r} is not supported by lfr")
    pattern, example = known
    if not pattern.match(text) or not visible(text):
        raise ValueProblem(f"{value!r} is not a {service} profile URL ({example})")
    return text


def normalize_phone(text: str) -> str | None:
    """E.164 (``+12025551234``), US fallback, 7-15 digit local numbers, ``;ext=`` extensions;
    the server's rules (lightfield-api.md §3), so a manifest written either way compares equal."""
    raw = text.strip()
    extension = ""
    match = _EXTENSION.search(raw)
    if match:
        extension = f";ext={match.group(1)}"
        raw = raw[: match.start()]
    if re.search(r"[^\d\s()+.\-/]", raw, re.ASCII):
        return None
    digits = re.sub(r"\D", "", raw, flags=re.ASCII)
    if raw.startswith("+"):
        if not 8 <= len(digits) <= 15 or digits.startswith("0"):
            return None
        return f"+{digits}{extension}"
    if len(digits) == 10 and digits[0] in "23456789":
        return f"+1{digits}{extension}"
    if len(digits) == 11 and digits.startswith("1") and digits[1] in "23456789":
        return f"+{digits}{extension}"
    if 7 <= len(digits) <= 15:
        return f"{digits}{extension}"
    return None


def named_parts(value: Any, parts: Sequence[str], what: str) -> dict[str, Any]:
    """ADDRESS / FULL_NAME: the parts the manifest names (only those are compared)."""
    if not isinstance(value, dict):
        raise ValueProblem(f"expected {what}, got {_describe(value)}")
    unknown = sorted(set(value) - set(parts))
    if unknown:
        hints = {u: difflib.get_close_matches(u, parts, n=1) for u in unknown}
        described = ", ".join(
            f"{u!r}" + (f" (did you mean {hints[u][0]!r}?)" if hints[u] else "") for u in unknown
        )
        raise ValueProblem(f"unknown part {described}; allowed: {', '.join(parts)}")
    result: dict[str, Any] = {}
    for part, item in value.items():
        if item is None:
            result[part] = None
        elif part in ("latitude", "longitude"):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ValueProblem(f"{part} must be a number, got {_describe(item)}")
            bound = COORDINATE_BOUNDS[part]
            if not -bound <= item <= bound:  # (inf and nan are not; a huge integer compares)
                raise ValueProblem(f"{part} must be a number from -{bound} to {bound}")
            result[part] = item
        elif not isinstance(item, str):
            raise ValueProblem(f"{part} must be text, got {_describe(item)}")
        elif part == "country":
            if not re.fullmatch(r"[A-Za-z]{2}", item.strip()):
                raise ValueProblem(f"country must be a 2-letter ISO code (e.g. US), got {item!r}")
            result[part] = item.strip().upper()
        else:
            result[part] = item
    return result
