"""Write validation and coercion of field values, one rule per value type (lightfield-api.md §3).

``coerce`` turns a bare JSON value from a create/update body into the stored value (or raises
``ApiError`` 400 ``invalid_type`` naming ``fields.<key>``); ``normalize_phone`` and
``parse_datetime`` are shared with filters.py, the timestamp format with the wire shape. How a
stored value reads as text is display.py's. Select fields (option id or label) and ``$stage``
pipeline rules live in validation.py because they need the whole request (the ``$pipeline``
hint). Called by validation.py, filters.py, wire.py, history.py and display.py.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .definitions import FieldDef
from .errors import ApiError, invalid_type

MAX_SAFE_INTEGER = 2**53 - 1
ADDRESS_TEXT_PARTS = ("street", "street2", "city", "state", "postalCode", "country")
ADDRESS_PARTS = (*ADDRESS_TEXT_PARTS, "latitude", "longitude")
FULL_NAME_PARTS = ("firstName", "lastName")
COORDINATE_BOUNDS = {"latitude": 90, "longitude": 180}

MAX_URL_LENGTH = 2048
MAX_EMAIL_LENGTH = 254
# An address's local part: no whitespace, '@' or the characters that separate or quote addresses
# ("a@x.io, b@x.io", "<a@x.io>"); the domain must be a host name (host_ok).
_EMAIL = re.compile(r'([^@\s<>()\[\],;:"\\]+)@([^@\s]+)')
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_OCTET = r"(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
_HANDLES: dict[str, re.Pattern[str]] = {
    "TWITTER": re.compile(
        r"^https?://([a-z]+\.)?(x|twitter)\.com/[A-Za-z0-9_]{1,15}/?(\?\S*)?$", re.IGNORECASE
    ),
    "LINKEDIN": re.compile(
        r"^https?://([a-z]+\.)?linkedin\.com/(in|company)/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE
    ),
    "FACEBOOK": re.compile(
        r"^https?://([a-z]+\.)?facebook\.com/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE
    ),
    "INSTAGRAM": re.compile(
        r"^https?://([a-z]+\.)?instagram\.com/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE
    ),
}
# Telephone numbers are ASCII: a Unicode digit (Arabic-Indic, full-width) is not a digit here.
_EXTENSION = re.compile(
    r"\s*(?:;\s*ext=|ext\.?:?|extension|x|#)\s*(\d{1,6})\s*$", re.IGNORECASE | re.ASCII
)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _param(f: FieldDef) -> str:
    return f"fields.{f.key}"


def _type_error(f: FieldDef, expected: str, value: object) -> ApiError:
    return invalid_type(
        f"Invalid value for '{f.key}' ({f.value_type}): expected {expected}, "
        f"got {_describe(value)}.",
        _param(f),
    )


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def coerce(f: FieldDef, value: Any, current: Any = None) -> Any:
    """The stored form of ``value`` written to ``f`` (``current`` merges partial objects).

    ``None`` clears. Select types are handled by the caller.
    """
    if value is None:
        return None
    vt = f.value_type
    if vt == "TEXT" or vt in ("MARKDOWN", "HTML"):
        if not isinstance(value, str):
            raise _type_error(f, "a string", value)
        return value
    if vt in ("NUMBER", "CURRENCY"):
        return _number(f, value)
    if vt == "CHECKBOX":
        if not isinstance(value, bool):
            raise _type_error(f, "true or false", value)
        return value
    if vt == "DATETIME":
        return _datetime(f, value)
    if vt == "EMAIL":
        return _multi(f, value, _email)
    if vt == "URL":
        return _multi(f, value, _url)
    if vt == "TELEPHONE":
        return _multi(f, value, _phone)
    if vt == "ADDRESS":
        return _address(f, value, current)
    if vt == "FULL_NAME":
        return _full_name(f, value, current)
    if vt == "SOCIAL_HANDLE":
        return _social(f, value)
    raise _type_error(f, "a supported value", value)


def _number(f: FieldDef, value: Any) -> int | float:
    if not is_number(value):
        raise _type_error(f, "a number", value)
    # A JSON integer may have any number of digits: compare it before math.isfinite, which
    # cannot convert one beyond a float's range.
    if isinstance(value, float) and not math.isfinite(value):
        raise _type_error(f, "a number", value)
    if abs(value) > MAX_SAFE_INTEGER:
        raise invalid_type(
            f"Invalid value for '{f.key}': {value} is outside the safe integer range.", _param(f)
        )
    try:
        exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    except InvalidOperation:  # pragma: no cover - finite floats always convert
        raise _type_error(f, "a number", value) from None
    if isinstance(exponent, int) and exponent < -2:
        raise invalid_type(
            f"Invalid value for '{f.key}': at most 2 decimal places are allowed, got {value}.",
            _param(f),
        )
    # 120000.0 and 120000 are one value; read it back as the integer.
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return int(value)


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 instant with an explicit offset (``Z`` or ``±hh:mm``), else None."""
    if "T" not in text.upper():
        return None
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return None
        # The instant must fall in years 0001-9999 in UTC too (0001-01-01T00:00+01:00 does not).
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def format_datetime(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    # Four-digit years always (strftime writes year 1 as "1", which is not ISO 8601).
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_timestamp(unix: float) -> str:
    return format_datetime(datetime.fromtimestamp(unix, UTC))


def _datetime(f: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _type_error(f, "an ISO 8601 date-time string with an offset", value)
    parsed = parse_datetime(value.strip())
    if parsed is None:
        raise invalid_type(
            f"Invalid value for '{f.key}': {value!r} is not an ISO 8601 date-time with an offset "
            "(e.g. 2026-03-16T12:00:00Z).",
            _param(f),
        )
    return format_datetime(parsed)


def _multi(f: FieldDef, value: Any, one: Any) -> Any:
    """EMAIL / URL / TELEPHONE: a list when ``multipleValues``, else a single string."""
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise _type_error(f, "a string or an array of strings", value)
    coerced: list[str] = []
    seen: set[str] = set()
    for item in items:
        normalized = one(f, item)
        if normalized.casefold() not in seen:
            seen.add(normalized.casefold())
            coerced.append(normalized)
    if f.multiple:
        return coerced or None
    if len(coerced) > 1:
        raise invalid_type(
            f"Invalid value for '{f.key}': the field holds a single value, got {len(coerced)}.",
            _param(f),
        )
    return coerced[0] if coerced else None


def visible(text: str) -> bool:
    """No whitespace, control, format (bidi), private-use, surrogate or unassigned character."""
    return all(unicodedata.category(c)[0] not in "CZ" for c in text)


def host_ok(host: str) -> bool:
    """A DNS name with at least one dot and a letter TLD (IDN letters allowed), or IPv4."""
    if _IPV4.fullmatch(host):
        return True
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2:
        return False
    for label in labels:
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isalnum() or c in "-_" for c in label):
            return False
    tld = labels[-1]
    return tld.isalpha() or tld.casefold().startswith("xn--")


def email_ok(text: str) -> bool:
    """``local@domain``: at most 254 visible characters, a host name as the domain."""
    match = _EMAIL.fullmatch(text)
    return (
        match is not None
        and len(text) <= MAX_EMAIL_LENGTH
        and visible(text)
        and host_ok(match.group(2))
    )


def url_ok(text: str) -> bool:
    """An http(s) URL or a bare host (``acme.com/pricing``): no other scheme, no user info,
    a host name or IPv4 address, an optional port 1-65535, at most 2048 visible characters."""
    if not text or len(text) > MAX_URL_LENGTH or not visible(text):
        return False
    scheme = _HTTP.match(text)
    if scheme is None and _SCHEME.match(text):
        return False
    rest = text[scheme.end() :] if scheme else text
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return False
    host, colon, port = authority.partition(":")
    if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return False
    return host_ok(host)


def _email(f: FieldDef, text: str) -> str:
    candidate = text.strip()
    if not email_ok(candidate):
        raise invalid_type(
            f"Invalid value for '{f.key}': {text!r} is not an email address.", _param(f)
        )
    return candidate


def _url(f: FieldDef, text: str) -> str:
    candidate = text.strip()
    if not url_ok(candidate):
        raise invalid_type(f"Invalid value for '{f.key}': {text!r} is not a URL.", _param(f))
    return candidate


def normalize_phone(text: str) -> str | None:
    """E.164 (``+12025551234``), US fallback, 7-15 digit local numbers, ``;ext=`` extensions."""
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


def _phone(f: FieldDef, text: str) -> str:
    normalized = normalize_phone(text)
    if normalized is None:
        raise invalid_type(
            f"Invalid value for '{f.key}': {text!r} is not a telephone number.", _param(f)
        )
    return normalized


def _partial_object(
    f: FieldDef, value: Any, current: Any, parts: tuple[str, ...], what: str
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        raise _type_error(f, what, value)
    unknown = sorted(set(value) - set(parts))
    if unknown:
        raise invalid_type(
            f"Invalid value for '{f.key}': unknown part(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(parts)}.",
            _param(f),
        )
    # A partial object updates only the parts it names; a part set to null clears that part.
    merged: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    for part, part_value in value.items():
        if part_value is None:
            merged.pop(part, None)
        else:
            merged[part] = part_value
    return {p: merged[p] for p in parts if p in merged} or None


def _address(f: FieldDef, value: Any, current: Any) -> dict[str, Any] | None:
    for part in ADDRESS_TEXT_PARTS:
        if (
            isinstance(value, dict)
            and value.get(part) is not None
            and not isinstance(value[part], str)
        ):
            raise invalid_type(
                f"Invalid value for '{f.key}.{part}': expected a string.", f"{_param(f)}.{part}"
            )
    for part, bound in COORDINATE_BOUNDS.items():
        if (
            isinstance(value, dict)
            and value.get(part) is not None
            and (not is_number(value[part]) or not -bound <= value[part] <= bound)
        ):
            raise invalid_type(
                f"Invalid value for '{f.key}.{part}': expected a number from -{bound} to {bound}.",
                f"{_param(f)}.{part}",
            )
    if isinstance(value, dict) and value.get("country") is not None:
        country = value["country"].strip()
        if not re.fullmatch(r"[A-Za-z]{2}", country):
            raise invalid_type(
                f"Invalid value for '{f.key}.country': expected a 2-letter ISO 3166-1 code, "
                f"got {value['country']!r}.",
                f"{_param(f)}.country",
            )
        value = {**value, "country": country.upper()}
    return _partial_object(f, value, current, ADDRESS_PARTS, "an address object")


def _full_name(f: FieldDef, value: Any, current: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        for part in FULL_NAME_PARTS:
            if value.get(part) is not None and not isinstance(value[part], str):
                raise invalid_type(
                    f"Invalid value for '{f.key}.{part}': expected a string.", f"{_param(f)}.{part}"
                )
    return _partial_object(f, value, current, FULL_NAME_PARTS, "an object with firstName/lastName")


def _social(f: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _type_error(f, "a profile URL string", value)
    candidate = value.strip()
    pattern = _HANDLES.get(f.handle_service or "")
    if pattern is None or not pattern.match(candidate) or not visible(candidate):
        raise invalid_type(
            f"Invalid value for '{f.key}': {value!r} is not a {f.handle_service} profile URL.",
            _param(f),
        )
    return candidate
