"""How a stored field value reads as text.

Owns ``display`` (the ``displayValue`` of field history: option labels for selects, Yes / No,
``$1,234.50`` for USD amounts, names and addresses joined) and the text of a full name or an
address, which filters.py matches ``[contains]`` / ``[startsWith]`` against. Called by
history.py and filters.py.
"""

from __future__ import annotations

from typing import Any

from .definitions import FieldDef
from .values import FULL_NAME_PARTS


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
