"""List filters ``key[op]=value`` (lightfield-api.md §1.4, §2.6): parsing, validation and matching.

Owns which operators each value type allows, the ``-op`` negation, the no-operator default
(``equal`` where legal, else ``contains``), relationship filters (``$account=acc_…``, with
``equal`` and ``contains`` meaning "links to"), and ``$pipeline`` / ``$stage`` filter rules.
Query keys arrive already percent-decoded (Starlette decodes them). Called by listing.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .definitions import FieldDef, ObjectDefs, RelDef, stage_candidates
from .display import address_text, full_name_text
from .errors import ApiError, bad_request
from .stored import Record
from .values import normalize_phone, parse_datetime

COMPARISONS = ("greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual")
OPERATORS = ("equal", *COMPARISONS, "startsWith", "contains")
ALLOWED: dict[str, tuple[str, ...]] = {
    "NUMBER": ("equal", *COMPARISONS),
    "CURRENCY": ("equal", *COMPARISONS),
    "DATETIME": ("equal", *COMPARISONS),
    "TEXT": ("equal", "startsWith"),
    "FULL_NAME": ("equal", "startsWith"),
    "SOCIAL_HANDLE": ("equal", "startsWith"),
    "ADDRESS": ("equal", "startsWith"),
    "CHECKBOX": ("equal",),
    "SINGLE_SELECT": ("equal",),
    "EMAIL": ("contains",),
    "TELEPHONE": ("contains",),
    "URL": ("contains",),
}
_KEY = re.compile(r"^(?P<key>[^\[\]]+?)(?:\[(?P<neg>-?)(?P<op>[A-Za-z]+)\])?$")

Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class Filter:
    key: str
    operator: str
    negate: bool
    predicate: Predicate

    def matches(self, record: Record) -> bool:
        return self.predicate(record) != self.negate


def _bad(message: str, param: str) -> ApiError:
    return bad_request(message, code="invalid_filter", param=param)


def parse_filters(defs: ObjectDefs, params: list[tuple[str, str]]) -> list[Filter]:
    """Filters from the non-pagination query parameters; 400 for anything not understood."""
    filters = []
    positive_pipelines = 0
    for raw_key, value in params:
        match = _KEY.match(raw_key)
        if match is None:
            raise _bad(f"Malformed filter parameter '{raw_key}'.", raw_key)
        key, op, negate = match["key"], match["op"], match["neg"] == "-"
        if op is not None and op not in OPERATORS:
            raise _bad(
                f"Unknown filter operator '{op}'; expected one of {', '.join(OPERATORS)}.", raw_key
            )
        if key in defs.fields:
            f = defs.fields[key]
            if key == "$pipeline" and not negate:
                positive_pipelines += 1
                if positive_pipelines > 1:
                    raise _bad("At most one positive $pipeline filter is allowed.", raw_key)
            filters.append(_field_filter(defs, f, op, negate, value, raw_key))
        elif key in defs.relationships:
            filters.append(
                _relationship_filter(defs.relationships[key], op, negate, value, raw_key)
            )
        else:
            raise bad_request(
                f"Unknown filter key '{key}' for '{defs.plural}'.", code="unknown_field", param=key
            )
    return filters


def _field_filter(
    defs: ObjectDefs, f: FieldDef, op: str | None, negate: bool, value: str, param: str
) -> Filter:
    allowed = ALLOWED.get(f.value_type)
    if allowed is None:
        raise _bad(f"Field '{f.key}' ({f.value_type}) is not filterable.", param)
    operator = op or ("equal" if "equal" in allowed else "contains")
    if operator not in allowed:
        raise _bad(
            f"Operator '{operator}' is not supported for '{f.key}' ({f.value_type}); "
            f"supported: {', '.join(allowed)}.",
            param,
        )
    vt = f.value_type
    key = f.key
    if vt in ("NUMBER", "CURRENCY"):
        try:
            wanted_number = float(value)
        except ValueError:
            raise _bad(
                f"Filter value for '{key}' must be a number, got {value!r}.", param
            ) from None
        return Filter(key, operator, negate, _compare(key, operator, wanted_number, float))
    if vt == "DATETIME":
        moment = parse_datetime(value)
        if moment is None:
            raise _bad(
                f"Filter value for '{key}' must be an ISO 8601 date-time with offset.", param
            )
        return Filter(
            key,
            operator,
            negate,
            _compare(key, operator, moment, lambda v: parse_datetime(str(v))),
        )
    if vt == "CHECKBOX":
        if value.lower() not in ("true", "false"):
            raise _bad(f"Filter value for '{key}' must be true or false.", param)
        wanted_bool = value.lower() == "true"
        # An unset checkbox counts as false.
        return Filter(
            key, operator, negate, lambda r: bool(r.fields.get(key, False)) == wanted_bool
        )
    if vt == "SINGLE_SELECT":
        option_id = _select_filter_value(defs, f, value, param)
        return Filter(key, operator, negate, lambda r: r.fields.get(key) == option_id)
    if vt in ("EMAIL", "URL", "TELEPHONE"):
        return Filter(key, operator, negate, _contains(key, value, phone=vt == "TELEPHONE"))
    texts = _texts_of(vt)
    needle = value.casefold()
    if operator == "equal":
        return Filter(
            key,
            operator,
            negate,
            lambda r: any(t.casefold() == needle for t in texts(r.fields.get(key))),
        )
    if needle == "":  # startsWith "" = set and non-empty
        return Filter(key, operator, negate, lambda r: any(t for t in texts(r.fields.get(key))))
    return Filter(
        key,
        operator,
        negate,
        lambda r: any(t.casefold().startswith(needle) for t in texts(r.fields.get(key))),
    )


def _texts_of(value_type: str) -> Callable[[Any], list[str]]:
    """The strings a text-like filter compares with: FULL_NAME as "First Last", ADDRESS parts."""
    if value_type == "FULL_NAME":
        return lambda v: [full_name_text(v)] if v else []
    if value_type == "ADDRESS":
        return lambda v: [address_text(v), *(str(p) for p in v.values())] if v else []
    return lambda v: [str(v)] if v is not None else []


def _compare(key: str, operator: str, wanted: Any, convert: Callable[[Any], Any]) -> Predicate:
    def predicate(record: Record) -> bool:
        raw = record.fields.get(key)
        if raw is None:
            return False
        have = convert(raw)
        if have is None:
            return False
        if operator == "equal":
            return bool(have == wanted)
        if operator == "greaterThan":
            return bool(have > wanted)
        if operator == "greaterThanOrEqual":
            return bool(have >= wanted)
        if operator == "lessThan":
            return bool(have < wanted)
        return bool(have <= wanted)

    return predicate


def _contains(key: str, value: str, *, phone: bool) -> Predicate:
    needle = value.strip().casefold()
    digits = re.sub(r"\D", "", value)
    normalized = normalize_phone(value) if phone else None

    def predicate(record: Record) -> bool:
        raw = record.fields.get(key)
        items = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
        for item in items:
            text = str(item).casefold()
            if needle in text:
                return True
            if phone and normalized is not None and normalized.casefold() in text:
                return True
            if phone and len(digits) >= 4 and digits in re.sub(r"\D", "", text):
                return True
        return False

    return predicate


def _select_filter_value(defs: ObjectDefs, f: FieldDef, value: str, param: str) -> str:
    """An option id from a select filter value; ``$pipeline`` takes ids only
    (lightfield-api.md §2.6)."""
    if f.option_by_id(value) is not None:
        return value
    if f.key == "$pipeline":
        raise ApiError(
            400,
            f"Unknown pipeline '{value}'; $pipeline filters take pipeline ids.",
            code="unknown_pipeline",
            param=param,
            extra={"activePipelineIds": [o.id for o in f.options]},
        )
    candidates = f.options_by_label(value)
    if len(candidates) == 1:
        return candidates[0].id
    if not candidates:
        labels = ", ".join(o.label for o in f.options)
        raise _bad(f"'{value}' is not an option of '{f.key}'; options: {labels}.", param)
    raise ApiError(
        400,
        f"Stage label '{value}' exists in several pipelines; filter by stage option id.",
        code="ambiguous_stage_label",
        param=param,
        extra={"candidates": stage_candidates(defs, candidates)},
    )


def _relationship_filter(
    rel: RelDef, op: str | None, negate: bool, value: str, param: str
) -> Filter:
    operator = op or "equal"
    if operator not in ("equal", "contains"):
        raise _bad(
            f"Operator '{operator}' is not supported for relationship '{rel.key}'; "
            "use equal or contains.",
            param,
        )
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    if not wanted:
        raise _bad(f"Filter on relationship '{rel.key}' needs an id.", param)
    key = rel.key
    return Filter(
        key, operator, negate, lambda r: not wanted.isdisjoint(r.relationships.get(key, ()))
    )
