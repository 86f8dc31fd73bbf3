"""The manifest format (architecture.md §3) as pydantic models, and the desired state built from it.

Owns the shape of a manifest document: what keys exist and what each may hold, independent of
any org. What a key *means* (is ``$stage`` a select, is ``$contact`` HAS_MANY) depends on the
org's definitions and is checked in ``core.org``; turning references into ids is
``runs.resolve``. ``parse_manifests`` is the entry point: loaded YAML documents in, ``Manifest``
objects (each with its ``Origin``) and ``Problem``s out, every problem at a ``file:line``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from .vocabulary import Document, Origin, Problem

API_VERSION = "lfr/v1"
KIND = "Opportunity"
# Bulk changes: keys managed across every record a selector matches (``core.sets``).
SET_KIND = "OpportunitySet"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class ByEmail(_Strict):
    """A member or contact, found by email (case-insensitive)."""

    email: NonEmpty


class ByName(_Strict):
    """An account, found by its exact name."""

    name: NonEmpty


class ByDomain(_Strict):
    """An account, found by a domain of its website."""

    domain: NonEmpty


Reference = NonEmpty | ByEmail | ByName | ByDomain
"""A related record: a raw Lightfield id, or a lookup resolved at plan time."""

Lookup = ByEmail | ByName | ByDomain
# The word a lookup is written with in a manifest (`{email: ...}`), and back.
LOOKUP_MODELS: dict[str, type[Lookup]] = {"email": ByEmail, "name": ByName, "domain": ByDomain}
LOOKUP_WORDS: dict[type[Lookup], str] = {model: word for word, model in LOOKUP_MODELS.items()}


def lookup_of(item: Any) -> Lookup | None:
    """``{email: x}``, ``{name: x}`` or ``{domain: x}`` (x non-empty text) as its model."""
    if isinstance(item, dict) and len(item) == 1:
        ((word, text),) = item.items()
        model = LOOKUP_MODELS.get(word)
        if model is not None and isinstance(text, str) and text:
            return model.model_validate({word: text})
    return None


class Partial(_Strict):
    """HAS_MANY under partial ownership: ensure ``include`` present and ``exclude`` absent,
    leave every other link alone."""

    include: list[Reference] = []
    exclude: list[Reference] = []

    @model_validator(mode="after")
    def _not_empty(self) -> Partial:
        if not self.include and not self.exclude:
            raise ValueError("give 'include' and/or 'exclude' (a list of references)")
        return self


RelationshipSpec = Reference | list[Reference] | Partial | None
"""HAS_ONE: a reference or null. HAS_MANY: a list (exactly these), or include/exclude."""


class Metadata(_Strict):
    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    id: NonEmpty | None = None
    # A selector over fields / relationships that must resolve to at most one live record.
    match: dict[str, Any] | None = None
    # What a `match` manifest does when nothing matches.
    on_missing: Literal["create", "error"] = Field("create", alias="onMissing")

    @model_validator(mode="after")
    def _one_identity(self) -> Metadata:
        if (self.id is None) == (self.match is None):
            raise ValueError("give exactly one of 'id' (a Lightfield id) or 'match' (a selector)")
        if self.match is not None and not self.match:
            raise ValueError("'match' must name at least one field or relationship")
        return self


class Spec(_Strict):
    fields: dict[str, Any] = {}
    relationships: dict[str, RelationshipSpec] = {}


class Manifest(_Strict):
    api_version: Literal["lfr/v1"] = Field(alias="apiVersion")
    kind: Literal["Opportunity"]
    metadata: Metadata
    spec: Spec = Spec()


class SetMetadata(_Strict):
    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class SetSpec(_Strict):
    # The grammar of a selector is checked by ``core.sets`` (it needs the org's definitions).
    selector: dict[str, Any]
    fields: dict[str, Any] = {}
    relationships: dict[str, RelationshipSpec] = {}

    @model_validator(mode="after")
    def _manages_something(self) -> SetSpec:
        if not self.fields and not self.relationships:
            raise ValueError("a set must manage at least one key in 'fields' or 'relationships'")
        return self


class SetManifest(_Strict):
    """``kind: OpportunitySet``: ``spec.fields`` / ``spec.relationships`` managed on every live
    opportunity ``spec.selector`` matches (``core.sets``)."""

    api_version: Literal["lfr/v1"] = Field(alias="apiVersion")
    kind: Literal["OpportunitySet"]
    metadata: SetMetadata
    spec: SetSpec


ParsedT = TypeVar("ParsedT", "Manifest", "SetManifest")


@dataclass(frozen=True)
class _Loaded(Generic[ParsedT]):
    """A parsed document of either kind and where each of its parts came from."""

    manifest: ParsedT
    document: Document

    @property
    def origin(self) -> Origin:
        return Origin(self.document.file, self.document.line)

    def origin_of(self, *path: str | int) -> Origin:
        return Origin(self.document.file, self.document.line_of(path))


@dataclass(frozen=True)
class LoadedManifest(_Loaded[Manifest]):
    """A parsed ``Opportunity`` manifest and where each of its parts came from."""


@dataclass(frozen=True)
class LoadedSet(_Loaded[SetManifest]):
    """A parsed ``OpportunitySet`` and where each of its parts came from."""


def is_set(document: Document) -> bool:
    return isinstance(document.data, dict) and document.data.get("kind") == SET_KIND


def parse_document(document: Document) -> LoadedManifest | LoadedSet | list[Problem]:
    """One document's shape checked: an ``Opportunity`` or an ``OpportunitySet`` (by its
    ``kind``), or the problems that keep it from being one."""
    try:
        if is_set(document):
            return LoadedSet(SetManifest.model_validate(document.data), document)
        return LoadedManifest(Manifest.model_validate(document.data), document)
    except ValidationError as exc:
        return _problems_from(exc, document)


def parse_manifests(documents: Sequence[Document]) -> tuple[list[LoadedManifest], list[Problem]]:
    """Validate each ``Opportunity`` document's shape; a document with problems yields no
    manifest. ``OpportunitySet`` documents are ``parse_sets``'s."""
    manifests: list[LoadedManifest] = []
    problems: list[Problem] = []
    for document in documents:
        if is_set(document):
            continue
        parsed = parse_document(document)
        if isinstance(parsed, list):
            problems.extend(parsed)
        elif isinstance(parsed, LoadedManifest):
            manifests.append(parsed)
    return manifests, problems


def parse_sets(documents: Sequence[Document]) -> tuple[list[LoadedSet], list[Problem]]:
    """Validate each ``OpportunitySet`` document's shape (its selector's grammar is checked
    against the org by ``core.sets``)."""
    sets: list[LoadedSet] = []
    problems: list[Problem] = []
    for document in documents:
        if not is_set(document):
            continue
        parsed = parse_document(document)
        if isinstance(parsed, list):
            problems.extend(parsed)
        elif isinstance(parsed, LoadedSet):
            sets.append(parsed)
    return sets, problems


# --- turning pydantic's errors into messages a RevOps engineer can act on -------------------

_KNOWN_KEYS: dict[tuple[str, ...], list[str]] = {
    (): ["apiVersion", "kind", "metadata", "spec"],
    ("metadata",): ["name", "id", "match", "onMissing"],
    ("spec",): ["fields", "relationships"],
}
_MODEL_NAMES = re.compile(r"^(ByEmail|ByName|ByDomain|Partial|list\[.*\]|str|none)$")


def _problems_from(exc: ValidationError, document: Document) -> list[Problem]:
    seen: dict[tuple[Any, ...], Problem] = {}
    for error in exc.errors(include_url=False):
        loc = _clean_loc(error["loc"])
        key = _relationship_key(loc)
        if key is not None:
            # A relationship value failed every alternative of the union: one message per key
            # beats five about the alternatives.
            message = (
                f"relationship {key!r}: expected an id, a reference like {{email: ...}}, "
                "{name: ...} or {domain: ...}, a list of those, {include: [...]}/"
                "{exclude: [...]}, or null"
            )
            if error["type"] == "value_error":
                message = f"relationship {key!r}: {_strip_value_error(error['msg'])}"
            path: tuple[Any, ...] = ("spec", "relationships", key)
            seen.setdefault(path, Problem(Origin(document.file, document.line_of(path)), message))
            continue
        message = _message(error, loc)
        seen.setdefault(loc, Problem(Origin(document.file, document.line_of(loc)), message))
    return sorted(seen.values())


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop union branch names pydantic inserts into ``loc`` (``'str'``, ``'ByEmail'``...)."""
    return tuple(part for part in loc if not (isinstance(part, str) and _MODEL_NAMES.match(part)))


def _relationship_key(loc: tuple[int | str, ...]) -> str | None:
    if len(loc) >= 3 and loc[:2] == ("spec", "relationships"):
        return str(loc[2])
    return None


def _strip_value_error(message: str) -> str:
    return message.removeprefix("Value error, ")


def _message(error: Any, loc: tuple[int | str, ...]) -> str:
    where = ".".join(str(p) for p in loc) or "document"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, key = tuple(str(p) for p in loc[:-1]), str(loc[-1])
        known = _KNOWN_KEYS.get(parent, [])
        hint = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
        suggestion = f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""
        allowed = f"; allowed here: {', '.join(known)}" if known else ""
        return f"unknown key {where!r}{suggestion}{allowed}"
    if kind == "missing":
        return f"missing required key {where!r}"
    if kind == "literal_error" and loc == ("apiVersion",):
        return f"apiVersion must be {API_VERSION!r}, not {error['input']!r}"
    if kind == "literal_error" and loc == ("kind",):
        return f"kind must be {KIND!r} or {SET_KIND!r}, not {error['input']!r}"
    if kind == "string_pattern_mismatch" and loc == ("metadata", "name"):
        return (
            f"metadata.name {error['input']!r} must be 1-100 lowercase letters, digits, '.', "
            "'_' or '-', starting and ending with a letter or digit"
        )
    if kind == "value_error":
        return f"{where}: {_strip_value_error(error['msg'])}"
    if kind in ("dict_type", "model_type"):
        return f"{where} must be a mapping, not {_describe(error['input'])}"
    if kind == "string_type":
        return f"{where} must be text, not {_describe(error['input'])}"
    return f"{where}: {error['msg']}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --- desired state: what the manifests ask for, normalized against the org -----------------


@dataclass(frozen=True)
class DesiredField:
    """A managed field: its canonical value (``org.normalize_desired``) and where it was set.

    For ADDRESS / FULL_NAME the value is a mapping of only the parts the manifest names; the
    other parts are not managed.
    """

    key: str
    value: Any
    origin: Origin


@dataclass(frozen=True)
class DesiredRelationship:
    """A managed relationship.

    HAS_ONE: ``exact`` with zero (null) or one item in ``include``. HAS_MANY: ``exact`` means
    "exactly ``include``"; otherwise ``include`` must be linked and ``exclude`` must not be, and
    every other link is left alone. Items are references until ``runs.resolve`` makes them ids.
    """

    key: str
    cardinality: Literal["HAS_ONE", "HAS_MANY"]
    object_type: str
    exact: bool
    include: tuple[Reference, ...]
    exclude: tuple[Reference, ...]
    origin: Origin
    # Where each item of ``(*include, *exclude)`` was written, as the manifest gave them (so a
    # problem with one reference of a long list is reported at its own line); empty: ``origin``.
    item_origins: tuple[Origin, ...] = ()

    def origin_of_item(self, index: int) -> Origin:
        """Where item ``index`` of ``(*include, *exclude)`` was written."""
        if index < len(self.item_origins):
            return self.item_origins[index]
        return self.origin


@dataclass(frozen=True)
class DesiredRecord:
    """One manifest as desired state: the unit the diff compares with one live record."""

    name: str
    origin: Origin
    id: str | None
    match_fields: tuple[DesiredField, ...]
    match_relationships: tuple[DesiredRelationship, ...]
    on_missing: Literal["create", "error"]
    fields: tuple[DesiredField, ...]
    relationships: tuple[DesiredRelationship, ...]
    # Where its identity is written (the `id:` or `match:` line): where a problem finding its
    # live record points. ``origin`` (the document) stays what plans show.
    identity_origin: Origin | None = None
    # The sets (``core.sets``) that manage this record when no record manifest does: the plan
    # groups its change under them.
    group: str = ""
    # Selector keys of the sets that matched this record which it does not manage, each with
    # the set(s) whose selector holds it: their live values are planned from too, so a saved
    # plan whose record stopped matching is refused as stale (``core.sets.merge_into``).
    selected_by: tuple[tuple[str, str], ...] = ()

    @property
    def identity_at(self) -> Origin:
        return self.identity_origin or self.origin

    def selector(self) -> dict[str, Any]:
        """``metadata.match`` as canonical values by key: a field's value, or the sorted ids a
        relationship must link (once references are resolved)."""
        selector: dict[str, Any] = {f.key: f.value for f in self.match_fields}
        for r in self.match_relationships:
            selector[r.key] = tuple(sorted({str(ref) for ref in r.include}))
        return selector


def describe_value(value: Any) -> str:
    """A value's kind for error messages: 'a number (5)', 'text 'x'', 'a list'."""
    return _describe(value)
