"""Write validation, coercion and display of field values, one rule per value type (digest §3).

``coerce`` turns a bare JSON value from a create/update body into the stored value (or raises
``ApiError`` 400 ``invalid_type`` naming ``fields.<key>``); ``display`` renders a stored value as
the readable ``displayValue`` of field history; ``normalize_phone`` is shared with filters.py.
Select fields (option id or label) and ``$stage`` pipeline rules live in operations.py because
they need the whole request (the ``$pipeline`` hint). Called by operations.py and filters.py.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .definitions import FieldDef
from .errors import ApiError, invalid_type

MAX_SAFE_INTEGER = 2**53 - 1
ADDRESS_TEXT_PARTS = ("street", "street2", "city", "state", "postalCode", "country")
ADDRESS_PARTS = (*ADDRESS_TEXT_PARTS, "latitude", "longitude")
FULL_NAME_PARTS = ("firstName", "lastName")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(https?://)?[^\s/?#]+\.[^\s/?#]+([/?#]\S*)?$", re.IGNORECASE)
_HANDLES: dict[str, re.Pattern[str]] = {
    "TWITTER": re.compile(r"^https?://([a-z]+\.)?(x|twitter)\.com/[A-Za-z0-9_]{1,15}/?(\?\S*)?$"),
    "LINKEDIN": re.compile(
        r"^https?://([a-z]+\.)?linkedin\.com/(in|company)/[^/\s?#]+/?(\?\S*)?$", re.IGNORECASE
    ),
    "FACEBOOK": re.compile(r"^https?://([a-z]+\.)?facebook\.com/[^/\s?#]+/?(\?\S*)?$"),
    "INSTAGRAM": re.compile(r"^https?://([a-z]+\.)?instagram\.com/[^/\s?#]+/?(\?\S*)?$"),
}
_EXTENSION = re.compile(r"\s*(?:;\s*ext=|ext\.?:?|extension|x|#)\s*(\d{1,6})\s*$", re.IGNORECASE)


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
    if not is_number(value) or not math.isfinite(value):
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
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


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


def _email(f: FieldDef, text: str) -> str:
    candidate = text.strip()
    if not _EMAIL.match(candidate):
        raise invalid_type(
            f"Invalid value for '{f.key}': {text!r} is not an email address.", _param(f)
        )
    return candidate


def _url(f: FieldDef, text: str) -> str:
    candidate = text.strip()
    if not _URL.match(candidate):
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
    if re.search(r"[^\d\s()+.\-/]", raw):
        return None
    digits = re.sub(r"\D", "", raw)
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
    for part in ("latitude", "longitude"):
        if (
            isinstance(value, dict)
            and value.get(part) is not None
            and (not is_number(value[part]) or not math.isfinite(value[part]))
        ):
            raise invalid_type(
                f"Invalid value for '{f.key}.{part}': expected a number.", f"{_param(f)}.{part}"
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
    if pattern is None or not pattern.match(candidate):
        raise invalid_type(
            f"Invalid value for '{f.key}': {value!r} is not a {f.handle_service} profile URL.",
            _param(f),
        )
    return candidate


def full_name_text(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    return " ".join(str(value[p]) for p in FULL_NAME_PARTS if value.get(p))


def address_text(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    city_line = " ".join(str(value[p]) for p in ("state", "postalCode") if value.get(p))
    parts = [
        value.get("street"),
        value.get("street2"),
        value.get("city"),
        city_line,
        value.get("country"),
    ]
    return ", ".join(str(p) for p in parts if p)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def display(f: FieldDef, value: Any) -> str:
    """Readable rendering for field history ``displayValue``: labels for selects, text else."""
    if value is None:
        return ""
    vt = f.value_type
    if vt == "SINGLE_SELECT":
        option = f.option_by_id(value)
        return option.label if option else str(value)
    if vt == "MULTI_SELECT":
        labels = []
        for option_id in value:
            option = f.option_by_id(option_id)
            labels.append(option.label if option else option_id)
        return ", ".join(labels)
    if vt == "CHECKBOX":
        return "Yes" if value else "No"
    if vt == "CURRENCY":
        amount = f"{value:,.2f}"
        return f"${amount}" if f.currency == "USD" else f"{amount} {f.currency or ''}".strip()
    if vt == "NUMBER":
        return _number_text(value)
    if vt == "ADDRESS":
        return address_text(value)
    if vt == "FULL_NAME":
        return full_name_text(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
