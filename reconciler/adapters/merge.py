"""Merging fresh values into an existing manifest document (``lfr export`` over a managed record).

Comments, key order and the spelling of values that still hold are kept; changed values are
replaced in place; keys newly set in the CRM are appended to their mapping; keys are never
removed: a key whose live value became empty is written as null (``[]`` for HAS_MANY), so it
stays managed. Set-like lists keep the items still present in place. Returns whether anything
changed, so a file in which nothing changed is not rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..core.org import OrgSchema, normalize_desired, same_value
from ..core.spelling import (
    EMPTY,
    NOT_EXPORTED_FIELDS,
    NOT_EXPORTED_RELATIONSHIPS,
    UNWRITABLE,
    Fresh,
    ReferenceBook,
    option_note,
    plain,
    reference_items,
)
from ..core.value_types import ValueProblem
from .nodes import as_node_in, replace_note


class Merge:
    """Fresh values into one existing document; returns whether anything changed."""

    def __init__(self, schema: OrgSchema, references: ReferenceBook, fresh: Fresh) -> None:
        self.schema = schema
        self.references = references
        self.fresh = fresh

    def document(self, document: CommentedMap) -> bool:
        spec = document.get("spec")
        if not isinstance(spec, CommentedMap):
            spec = CommentedMap()
        fields = spec.get("fields")
        fields = fields if isinstance(fields, CommentedMap) else CommentedMap()
        relationships = spec.get("relationships")
        relationships = relationships if isinstance(relationships, CommentedMap) else CommentedMap()
        changed = False
        for key in list(fields):
            if key in self.fresh.fields:
                changed |= self._field(fields, key)
        for key, value in self.fresh.fields.items():
            if key not in fields and key not in NOT_EXPORTED_FIELDS and has_value(value):
                fields[key] = as_node_in(fields, value)
                replace_note(fields, key, None, option_note(self.schema, key, value))
                changed = True
        for key in list(relationships):
            if key in self.fresh.relationships:
                changed |= self._relationship(relationships, key)
        for key, value in self.fresh.relationships.items():
            if (
                key not in relationships
                and key not in NOT_EXPORTED_RELATIONSHIPS
                and has_value(value)
            ):
                relationships[key] = as_node_in(relationships, value)
                changed = True
        if changed:
            for part, mapping in (("fields", fields), ("relationships", relationships)):
                if mapping and spec.get(part) is not mapping:
                    spec[part] = mapping
            if document.get("spec") is not spec:
                document["spec"] = spec
        return changed

    # fields

    def _field(self, fields: CommentedMap, key: str) -> bool:
        value = self.fresh.fields[key]
        if value is UNWRITABLE:
            return False
        current = fields[key]
        live = self.fresh.canonical[key]
        if isinstance(current, CommentedMap) and isinstance(value, dict):
            return self._parts(current, key, value)
        if self._holds(key, current, live):
            return False
        if value is EMPTY:
            fields[key] = CommentedSeq() if isinstance(current, list) else None
        elif isinstance(current, CommentedSeq) and isinstance(value, list):
            merge_list(current, value, lambda item: self._item(key, item))
        else:
            fields[key] = as_node_in(fields, value)
        old, new = option_note(self.schema, key, current), option_note(self.schema, key, value)
        replace_note(fields, key, old, new)
        return True

    def _holds(self, key: str, current: Any, live: Any) -> bool:
        """Does the manifest's value read as the live value (so its spelling can stay)?"""
        try:
            wanted = normalize_desired(self.schema, key, plain(current))
        except ValueProblem:
            return False
        return same_value(wanted, live)

    def _item(self, key: str, item: Any) -> Hashable | None:
        """One item of a set-like list field (multi-select, emails...) in canonical form."""
        try:
            value = normalize_desired(self.schema, key, [plain(item)])
        except ValueProblem:
            return None
        return value[0] if isinstance(value, tuple) and len(value) == 1 else None

    def _parts(self, current: CommentedMap, key: str, value: dict[str, Any]) -> bool:
        """ADDRESS / FULL_NAME part by part, like keys of a mapping."""
        live = self.fresh.canonical[key] or {}
        changed = False
        for part in list(current):
            if self._holds_part(key, part, current[part], live.get(part)):
                continue
            current[part] = as_node_in(current, value.get(part))
            changed = True
        for part, item in value.items():
            if part not in current:
                current[part] = as_node_in(current, item)
                changed = True
        return changed

    def _holds_part(self, key: str, part: Any, current: Any, live: Any) -> bool:
        try:
            wanted = normalize_desired(self.schema, key, {str(part): plain(current)})
        except ValueProblem:
            return False
        return bool(wanted.get(str(part)) == live)

    # relationships

    def _relationship(self, relationships: CommentedMap, key: str) -> bool:
        value = self.fresh.relationships[key]
        definition = self.schema.relationship(key)
        if value is UNWRITABLE or definition is None:
            return False
        object_type = definition.object_type
        many = definition.many
        live = set(self.fresh.record.related_ids(key))
        current = relationships[key]

        def id_of(item: Any) -> str | None:
            return self.references.id_of(object_type, plain(item))

        if is_partial(current):
            if self._partial_holds(current, live, id_of):
                return False
            if self._narrow_partial(current, live, id_of):
                return True
            # Nothing is left to own partially: the exact live list says what holds.
        else:
            ids = [id_of(item) for item in reference_items(current)]
            holds = None not in ids and set(ids) == live
            if holds and (many or not isinstance(current, list)):
                return False
            if many and isinstance(current, CommentedSeq) and value is not EMPTY:
                merge_list(current, value, id_of)
                return True
        if value is EMPTY:
            relationships[key] = CommentedSeq() if many else None
            if many:
                relationships[key].fa.set_flow_style()
        else:
            relationships[key] = as_node_in(relationships, value)
        return True

    @staticmethod
    def _partial_holds(
        current: CommentedMap, live: set[str], id_of: Callable[[Any], str | None]
    ) -> bool:
        included = [id_of(item) for item in current.get("include") or []]
        excluded = [id_of(item) for item in current.get("exclude") or []]
        return all(i is not None and i in live for i in included) and all(
            i is not None and i not in live for i in excluded
        )

    @staticmethod
    def _narrow_partial(
        current: CommentedMap, live: set[str], id_of: Callable[[Any], str | None]
    ) -> bool:
        """Drop included links that are gone and excluded ones that are present (or that name
        no single record); True when something is left to own partially."""
        for part in ("include", "exclude"):
            items = current.get(part)
            if not isinstance(items, CommentedSeq):
                continue
            for index in reversed(range(len(items))):
                found = id_of(items[index])
                if found is None or (found in live) != (part == "include"):
                    del items[index]
            if not items:
                del current[part]
        return bool(current)


def has_value(value: Any) -> bool:
    return value is not EMPTY and value is not UNWRITABLE


def is_partial(value: Any) -> bool:
    return isinstance(value, CommentedMap) and bool(value) and set(value) <= {"include", "exclude"}


def merge_list(
    current: CommentedSeq, fresh: list[Any], key_of: Callable[[Any], Hashable | None]
) -> None:
    """A set-like list in place: items still present keep their place, spelling and comments;
    gone ones and repeats are removed; new ones are appended."""
    wanted = {key_of(item) for item in fresh} - {None}
    seen: set[Hashable] = set()
    index = 0
    while index < len(current):
        key = key_of(current[index])
        if key is None or key not in wanted or key in seen:
            del current[index]
        else:
            seen.add(key)
            index += 1
    for item in fresh:
        key = key_of(item)
        if key not in seen:
            current.append(as_node_in(current, item))
            seen.add(key)
