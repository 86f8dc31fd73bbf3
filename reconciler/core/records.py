"""Pydantic models of the Lightfield API's wire data, as the client returns it.

Owned here: ``Record`` (opportunities, accounts, contacts, members), ``ListPage``, ``Definitions``
(field and relationship definitions), ``FieldHistoryPage`` and ``AuthInfo`` (lightfield-api.md §1.3,
§1.5, §2.8, §2.9, §4.4). ``adapters.client`` validates every 2xx body into one of these;
``org``, ``diff`` and the runs read them.

The models are deliberately tolerant: the digest leaves open whether unset fields and empty
relationships are present (null / []) or omitted, and newer API versions add keys. So absent and
null read alike, unknown keys are ignored, and enumerations (valueType, cardinality) are plain
strings. Only the members that identify a payload as the right kind are required (a record's
``id``, a page's ``data``, definitions' ``fieldDefinitions``), so that a 2xx body of the wrong
shape is rejected instead of being read as an empty success. Field values are kept as raw JSON
(no ADDRESS / FULL_NAME sub-models): normalising them is ``org``'s job, and a union of lookalike
object models would guess.
"""

from __future__ import annotations

import sys
from dataclasses import field
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    JsonValue,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_to_false(value: Any) -> Any:
    return False if value is None else value


def _shared(text: str) -> str:
    return sys.intern(text) if text.__class__ is str else text


IdList = Annotated[list[str], BeforeValidator(_none_to_list)]
Flag = Annotated[bool, BeforeValidator(_none_to_false)]
# The texts every record repeats (field and relationship keys, value types, cardinalities,
# object types): one shared string each instead of one per record. They were ~45 % of a held
# record (9.8 KB -> 5.5 KB; 100,000 records ~1.06 GB), and parsing allocates less too.
Shared = Annotated[str, AfterValidator(_shared)]


class WireModel(BaseModel):
    """Base of the wire models: camelCase aliases on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )


# The two entries every record has a few dozen of are slotted dataclasses, not models: a model
# instance also carries a ``__dict__`` and a set of the fields it was given (~480 bytes against
# ~70), which made 10,000 held records weigh 230 MB.
_WIRE_ENTRY = ConfigDict(alias_generator=to_camel, validate_by_alias=True, validate_by_name=True)


@dataclass(frozen=True, slots=True, config=_WIRE_ENTRY)
class FieldValue:
    """``fields[key]`` of a record: a wrapped value (reads wrap, writes take bare values)."""

    value: JsonValue = None
    value_type: Shared = ""


class DirectionValues(WireModel):
    cardinality: str = ""
    values: IdList = []


class RelationshipDirections(WireModel):
    """Per-role values of a self-referential relationship."""

    as_source: DirectionValues | None = None
    as_destination: DirectionValues | None = None


@dataclass(frozen=True, slots=True, config=_WIRE_ENTRY)
class RelationshipValue:
    """``relationships[key]`` of a record; ``values`` is the merged set of related ids."""

    cardinality: Shared = ""
    object_type: Shared = ""
    values: IdList = field(default_factory=list)
    directions: RelationshipDirections | None = None


# A null entry (``"nextSteps": null``) reads as an unset value / empty relationship.
_FieldEntry = Annotated[FieldValue, BeforeValidator(_none_to_dict)]
_RelationshipEntry = Annotated[RelationshipValue, BeforeValidator(_none_to_dict)]


class Record(WireModel):
    """One opportunity, account, contact or member as the API returns it."""

    id: str
    created_at: str | None = None
    updated_at: str | None = None
    http_link: str | None = None
    external_id: str | None = None
    fields: Annotated[dict[Shared, _FieldEntry], BeforeValidator(_none_to_dict)] = {}
    relationships: Annotated[dict[Shared, _RelationshipEntry], BeforeValidator(_none_to_dict)] = {}
    # The API answers 404 for a trashed record (the emulator's reading, lightfield-api.md §2.7,
    # open question 13); a deployment that returns it instead may mark it in any of these ways,
    # and lfr then treats it as gone, never as a record to update (docs/api-contract.md §4).
    trashed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _trash_markers(cls, data: Any) -> Any:
        if isinstance(data, dict) and trash_marker(data) is not None:
            return {**data, "trashed": True}
        return data

    def value(self, key: str) -> JsonValue:
        """The bare value of field ``key``; None when unset or absent (the API means the same)."""
        field = self.fields.get(key)
        return None if field is None else field.value

    def related_ids(self, key: str) -> list[str]:
        """Ids linked through relationship ``key``; [] when empty or absent."""
        relationship = self.relationships.get(key)
        return [] if relationship is None else list(relationship.values)


# Members a record in the trash may carry, and the values that mark it so.
TRASH_MARKERS: tuple[tuple[str, Any], ...] = (
    ("trashed", True),
    ("isTrashed", True),
    ("isDeleted", True),
    ("deleted", True),
    ("status", "trashed"),
    ("status", "deleted"),
    ("trashedAt", ...),  # any non-null value
    ("deletedAt", ...),
)


def trash_marker(data: dict[str, Any]) -> str | None:
    """The member of a wire record that says it is in the trash, if any."""
    for key, marked in TRASH_MARKERS:
        value = data.get(key)
        if value is None or value is False:
            continue
        if marked is ... or value == marked or (isinstance(value, str) and value.lower() == marked):
            return key
    return None


class ListPage(WireModel):
    """One page of a list endpoint (``limit``/``offset`` paging, newest first)."""

    data: list[Record]
    object: str = "list"
    # Counts every match of the query; None when the server did not say.
    total_count: int | None = None


class SelectOption(WireModel):
    id: str
    label: str = ""
    description: str | None = None
    # For a dependent select (``$stage``): the owning option of the parent field (``pd_...``).
    parent_id: str | None = None


class TypeConfiguration(WireModel):
    options: Annotated[list[SelectOption], BeforeValidator(_none_to_list)] = []
    parent_field_key: str | None = None
    multiple_values: bool | None = None
    unique: bool | None = None
    currency: str | None = None
    handle_service: str | None = None


class FieldDefinition(WireModel):
    label: str = ""
    value_type: str = ""
    description: str | None = None
    id: str | None = None
    slug: str | None = None
    system: bool | None = None
    read_only: Flag = False
    # Not in the SDK 0.20 model: a deployment that requires the field on create (``$stage``
    # where the OpenAPI copy marks it so) may state it here; honoured when present.
    required: Flag = False
    type_configuration: Annotated[TypeConfiguration, BeforeValidator(_none_to_dict)] = (
        TypeConfiguration()
    )


class DirectionDefinition(WireModel):
    cardinality: str = ""
    label: str = ""


class RelationshipDefinitionDirections(WireModel):
    as_source: DirectionDefinition | None = None
    as_destination: DirectionDefinition | None = None


class RelationshipDefinition(WireModel):
    cardinality: str = ""
    object_type: str = ""
    label: str = ""
    description: str | None = None
    id: str | None = None
    # Not in the SDK model (read-only relationships are known from the docs), but honoured when
    # a server states it.
    read_only: Flag = False
    directions: RelationshipDefinitionDirections | None = None

    @property
    def many(self) -> bool:
        """HAS_MANY (the API's spelling of the case varies); otherwise HAS_ONE."""
        return self.cardinality.upper() == "HAS_MANY"


class Definitions(WireModel):
    """``GET /v1/{type}/definitions``: the org's fields and relationships for one object type."""

    field_definitions: dict[str, FieldDefinition]
    relationship_definitions: Annotated[
        dict[str, RelationshipDefinition], BeforeValidator(_none_to_dict)
    ] = {}
    object_type: str = ""


class FieldHistoryEntry(WireModel):
    value: JsonValue = None
    value_type: Shared = ""
    display_value: str | None = None
    recorded_at: str | None = None
    is_create: Flag = False


class FieldHistoryPage(WireModel):
    """One page of a field's history, newest first; ``next_cursor`` goes into ``after``."""

    data: list[FieldHistoryEntry]
    has_more: Flag = False
    next_cursor: str | None = None


class AuthInfo(WireModel):
    """``GET /v1/auth/validate``; an empty ``scopes`` list means full access."""

    active: bool
    token_type: str | None = None
    subject_type: str | None = None
    scopes: IdList = []


Response = TypeVar("Response", bound=BaseModel)


class MalformedResponse(ValueError):
    """A response body that is not the promised model; the message names the first problem
    (a field path and pydantic's words, never the input)."""


def from_json(model: type[Response], content: bytes) -> Response:
    """``content`` read as ``model``, or a ``MalformedResponse``: the client's one parse of a
    response body, so that pydantic stays in the core."""
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise MalformedResponse(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
