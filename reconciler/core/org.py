"""Values against the org's definitions: validation and normalization (architecture.md §3).

Owns what a field value *means* for one org: ``$stage: Negotiation`` is option ``opt_...``,
``$amount: 120000`` equals ``120000.0``, ``2027-03-31`` is the instant
``2027-03-31T00:00:00.000Z``, a multi-select is a set. The same ``normalize_live`` is applied to
what the API returns, so the diff compares like with like and never reports a difference the CRM
would not see (no false drift).

Pure: definitions in, values and ``Problem``s out. Called by the desired-state builder (desired
values), the diff and fetch (live values), export and the manifest schema.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .model import describe_value as _describe
from .records import Definitions, FieldDefinition, RelationshipDefinition, SelectOption
from .value_types import (
    Text,
    ValueProblem,
    checkbox,
    each,
    instant,
    multi,
    named_parts,
    number,
    plain_text,
    social_handle,
)

ADDRESS_PARTS = (
    "street",
    "street2",
    "city",
    "state",
    "postalCode",
    "country",
    "latitude",
    "longitude",
)
FULL_NAME_PARTS = ("firstName", "lastName")
# Relationships the API maintains from the other side (lightfield-api.md §2.4); the SDK's
# definitions model has no readOnly flag for relationships, so these are known by name.
READ_ONLY_RELATIONSHIPS = frozenset({"$task", "$note", "$meeting"})
READ_ONLY_FIELDS = frozenset({"$opportunityStatus"})
# Id prefixes by related object type (lightfield-api.md §1.6); ids of other types are certainly
# wrong.
ID_PREFIXES = {"account": "acc_", "contact": "con_", "member": "mem_", "opportunity": "opp_"}


@dataclass(frozen=True)
class OrgSchema:
    """One org's opportunity definitions, with the lookups validation needs."""

    definitions: Definitions
    _option_indexes: dict[str, tuple[frozenset[str], dict[str, list[SelectOption]]]] = (
        dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)
    )

    def field(self, key: str) -> FieldDefinition | None:
        return self.definitions.field_definitions.get(key)

    def relationship(self, key: str) -> RelationshipDefinition | None:
        return self.definitions.relationship_definitions.get(key)

    def suggest(self, key: str) -> list[str]:
        """Nearest known field or relationship keys, for "did you mean"."""
        known = [*self.definitions.field_definitions, *self.definitions.relationship_definitions]
        return difflib.get_close_matches(key, known, n=3, cutoff=0.6)

    def required_fields(self) -> list[str]:
        """The fields the definitions mark ``required`` (a create must set them), in order."""
        return [k for k, d in self.definitions.field_definitions.items() if d.required]

    def field_read_only(self, key: str) -> bool:
        definition = self.field(key)
        return key in READ_ONLY_FIELDS or (definition is not None and definition.read_only)

    def relationship_read_only(self, key: str) -> bool:
        definition = self.relationship(key)
        return key in READ_ONLY_RELATIONSHIPS or (definition is not None and definition.read_only)

    def option_index(self, key: str) -> tuple[frozenset[str], dict[str, list[SelectOption]]]:
        """Field ``key``'s option ids, and its options by folded label (a label may repeat
        across pipelines); built once per key, as every manifest's selects are looked up."""
        index = self._option_indexes.get(key)
        if index is None:
            definition = self.field(key)
            options = () if definition is None else definition.type_configuration.options
            by_label: dict[str, list[SelectOption]] = {}
            for option in options:
                by_label.setdefault(fold(option.label), []).append(option)
            index = self._option_indexes[key] = (frozenset(o.id for o in options), by_label)
        return index

    def pipeline_name(self, pipeline_id: str | None) -> str:
        if pipeline_id is None:
            return "no pipeline"
        pipeline = self.field("$pipeline")
        if pipeline is not None:
            for option in pipeline.type_configuration.options:
                if option.id == pipeline_id:
                    return option.label
        return pipeline_id


def normalize_desired(schema: OrgSchema, key: str, value: Any) -> Any:
    """The canonical form of a manifest value for field ``key``; raises ``ValueProblem``."""
    definition = schema.field(key)
    if definition is None:  # callers check unknown keys first; this keeps the function total
        raise ValueProblem(f"unknown field {key!r}")
    if value is None:
        return None
    kind = definition.value_type
    if kind in ("NUMBER", "CURRENCY"):
        return number(value)
    if kind == "CHECKBOX":
        return checkbox(value)
    if kind == "DATETIME":
        return instant(value)
    if kind == "TEXT":
        return Text(plain_text(value))
    if kind in ("MARKDOWN", "HTML"):
        return plain_text(value)
    if kind == "SOCIAL_HANDLE":
        return social_handle(definition, value)
    if kind in ("EMAIL", "URL", "TELEPHONE"):
        return multi(definition, value, strict=True)
    if kind == "SINGLE_SELECT":
        return _select_one(schema, key, definition, value)
    if kind == "MULTI_SELECT":
        items = value if isinstance(value, list) else [value]
        try:
            return tuple(sorted({_select_one(schema, key, definition, item) for item in items}))
        except ValueProblem:  # say which items, each at its own line
            each(items, lambda item: _select_one(schema, key, definition, item))
            raise
    if kind == "ADDRESS":
        return named_parts(value, ADDRESS_PARTS, "an address (street, city, country, ...)")
    if kind == "FULL_NAME":
        return named_parts(value, FULL_NAME_PARTS, "a name ({firstName: ..., lastName: ...})")
    raise ValueProblem(f"value type {kind!r} of {key!r} is not supported by lfr")


def normalize_live(definition: FieldDefinition | None, value: Any) -> Any:
    """The canonical form of a value as the API returned it (lenient: never raises)."""
    if value is None or definition is None:
        return value
    kind = definition.value_type
    try:
        if kind in ("NUMBER", "CURRENCY"):
            return number(value)
        if kind == "DATETIME" and isinstance(value, str):
            return instant(value)
        if kind in ("EMAIL", "URL", "TELEPHONE"):
            return multi(definition, value, strict=False)
        # Option ids are text; a malformed answer (numbers, objects) is kept as it came.
        if (
            kind == "MULTI_SELECT"
            and isinstance(value, list)
            and all(isinstance(item, str) for item in value)
        ):
            return tuple(sorted(set(value)))
        if kind in ("ADDRESS", "FULL_NAME") and isinstance(value, dict):
            return _live_parts(value, ADDRESS_PARTS if kind == "ADDRESS" else FULL_NAME_PARTS)
    except ValueProblem:
        return value
    if isinstance(value, str) and kind in ("SOCIAL_HANDLE",):
        return value.strip()
    if isinstance(value, str) and kind == "TEXT":
        return Text(value)
    return value


def _live_parts(value: dict[str, Any], parts: Sequence[str]) -> dict[str, Any] | None:
    """The parts of a live object that lfr could send back: an unknown part or a part of the
    wrong type (a malformed answer) is left out, so the diff never merges it into a body."""
    kept: dict[str, Any] = {}
    for part, item in value.items():
        if item is not None:
            with contextlib.suppress(ValueProblem):
                kept.update(named_parts({part: item}, parts, ""))
    return kept or None


def is_empty(value: Any) -> bool:
    """The API treats null, "", [] and {} alike as "no value"."""
    return value is None or value == "" or value == () or value == [] or value == {}


def same_value(want: Any, have: Any) -> bool:
    """Whether canonical ``have`` holds canonical ``want`` as the CRM sees it: equal, or both
    empty; of an object (ADDRESS, FULL_NAME) only the parts ``want`` names count."""
    if isinstance(want, dict):
        if not isinstance(have, dict):  # a live value of another shape (a malformed answer)
            return is_empty(have) and all(is_empty(v) for v in want.values())
        have = {part: have.get(part) for part in want}
    return bool(want == have or (is_empty(want) and is_empty(have)))


def _select_one(schema: OrgSchema, key: str, definition: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"expected an option label or id, got {_describe(value)}")
    ids, by_label = schema.option_index(key)
    if value in ids:
        return value
    matches = by_label.get(fold(value), [])
    if len(matches) == 1:
        return matches[0].id
    if len(matches) > 1:
        spellings = " or ".join(
            repr(f"{schema.pipeline_name(option.parent_id)} / {option.label}") for option in matches
        )
        candidates = "; ".join(
            f"{option.id} ({schema.pipeline_name(option.parent_id)})" for option in matches
        )
        raise ValueProblem(
            f"{key} label {value!r} is ambiguous: it exists in several pipelines; write it "
            f"with its pipeline ({spellings}), or set $pipeline beside it, or write the "
            f"option id: {candidates}"
        )
    if "/" in value:
        return _in_pipeline(schema, key, definition, value)
    options = definition.type_configuration.options
    raise ValueProblem(
        f"{value!r} is not an option of {key}{_nearest(value, options)}; "
        f"options: {_option_list(options)}"
    )


def _nearest(value: str, options: Iterable[SelectOption]) -> str:
    """`` (did you mean 'Negotiation'?)``: the closest labels, compared as labels match."""
    labels = {fold(option.label): option.label for option in options}
    close = difflib.get_close_matches(fold(value), list(labels), n=2, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(labels[c]) for c in close)}?)"


def _in_pipeline(schema: OrgSchema, key: str, definition: FieldDefinition, value: str) -> str:
    """``Renewals / Negotiation``: the option labelled ``Negotiation`` in pipeline
    ``Renewals`` (both compared as labels are: case-insensitively, whitespace collapsed)."""
    parent, _, label = value.rpartition("/")
    _, by_label = schema.option_index(key)
    parent_key = definition.type_configuration.parent_field_key or "$pipeline"
    pipelines = {
        option.id
        for option in _options_of(schema, parent_key)
        if fold(option.label) == fold(parent)
    }
    found = [o for o in by_label.get(fold(label), []) if o.parent_id in pipelines]
    if len(found) == 1:
        return found[0].id
    options = definition.type_configuration.options
    spelled = ", ".join(
        repr(f"{schema.pipeline_name(o.parent_id)} / {o.label}")
        for o in options
        if o.parent_id is not None
    )
    raise ValueProblem(
        f"{value!r} is not an option of {key}: no {label.strip()!r} in a pipeline called "
        f"{parent.strip()!r}; options: {spelled or _option_list(options)}"
    )


def _options_of(schema: OrgSchema, key: str | None) -> tuple[SelectOption, ...]:
    definition = None if key is None else schema.field(key)
    return () if definition is None else tuple(definition.type_configuration.options)


def _option_list(options: Iterable[SelectOption]) -> str:
    return ", ".join(f"{option.label!r}" for option in options) or "(none)"


def fold(text: str) -> str:
    """Labels match case-insensitively with whitespace collapsed (lightfield-api.md §2.6)."""
    return " ".join(text.split()).casefold()


def option_labels(schema: OrgSchema) -> dict[str, str]:
    """Select option id → label, from the org's definitions; a label that several pipelines
    share is shown with its pipeline (``Renewals / Negotiation``), so that a plan says which."""
    labels: dict[str, str] = {}
    for key, definition in schema.definitions.field_definitions.items():
        _, by_label = schema.option_index(key)
        for option in definition.type_configuration.options:
            shared = len(by_label.get(fold(option.label), ())) > 1
            labels[option.id] = (
                f"{schema.pipeline_name(option.parent_id)} / {option.label}"
                if shared and option.parent_id is not None
                else option.label
            )
    return labels
