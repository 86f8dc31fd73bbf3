"""JSON Schema (draft 2020-12) of manifest documents, for editors and linters (``lfr schema``).

Owns the schema's shape. ``static_schema()`` describes the format every org shares (the keys of
``model.Manifest``, the name pattern, identity by ``id`` or ``match``, the reference and
relationship shapes) and leaves field values free-form. ``org_schema(schema)`` adds what one
org's definitions say: the real field keys with a value schema per valueType, select options as
enums of labels and ids, relationships with their HAS_ONE / HAS_MANY shapes and the reference
kinds their target type accepts, read-only keys left out, unknown keys refused.

The schema helps while typing (yaml-language-server reads the ``# yaml-language-server:
$schema=`` line); ``lfr validate`` stays the authority. Where the two could disagree, the schema
is the stricter one only on spelling: select labels are listed exactly as the org writes them,
although lfr also accepts other letter cases, and an ambiguous stage label is not offered at all
(lfr refuses it). Pure: definitions in, a JSON-ready dict out; called by the CLI.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .desired import REFERENCE_KINDS, UNCLEARABLE_FIELDS
from .model import API_VERSION, KIND, LOOKUP_WORDS, NAME_PATTERN, SET_KIND
from .org import ADDRESS_PARTS, FULL_NAME_PARTS, ID_PREFIXES, OrgSchema, fold
from .records import FieldDefinition, RelationshipDefinition
from .settings import Settings

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A date (midnight UTC) or a date-time with a zone, as schema._datetime reads them.
DATETIME_PATTERN = (
    r"^\s*\d{4}-\d{2}-\d{2}"
    r"([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?))?\s*$"
)
EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"
# An http(s) URL or a bare domain (schema.url_problem has the exact rule): no other scheme.
URL_PATTERN = (
    r"^\s*([Hh][Tt][Tt][Pp][Ss]?://)?[^\s/?#@:]+\.[^\s/?#@:]+(:[0-9]{1,5})?([/?#]\S*)?\s*$"
)
# SOCIAL_HANDLE: a profile URL per handleService (schema._HANDLES; lowercase hosts here).
HANDLE_PATTERNS = {
    "TWITTER": r"^\s*https?://([a-z]+\.)?(x|twitter)\.com/[A-Za-z0-9_]{1,15}/?(\?\S*)?\s*$",
    "LINKEDIN": r"^\s*https?://([a-z]+\.)?linkedin\.com/(in|company)/[^/\s?#]+/?(\?\S*)?\s*$",
    "FACEBOOK": r"^\s*https?://([a-z]+\.)?facebook\.com/[^/\s?#]+/?(\?\S*)?\s*$",
    "INSTAGRAM": r"^\s*https?://([a-z]+\.)?instagram\.com/[^/\s?#]+/?(\?\S*)?\s*$",
}
_NULL: dict[str, Any] = {"type": "null"}
_LOOKUP_SHAPES: dict[str, dict[str, Any]] = {
    "email": {"description": "A member or contact, by email (case-insensitive)."},
    "name": {"description": "An account, by its exact name."},
    "domain": {"description": "An account, by a domain of its website (or a subdomain)."},
}


def static_schema() -> dict[str, Any]:
    """The schema every org shares: shape and references; field values free-form."""
    defs = _common_defs()
    defs["reference"] = {
        "description": "A related record: a Lightfield id, or a lookup resolved at plan time.",
        "anyOf": [
            {"$ref": "#/$defs/id"},
            *({"$ref": f"#/$defs/by_{kind}"} for kind in _LOOKUP_SHAPES),
        ],
    }
    defs["relationship"] = {
        "description": "HAS_ONE: a reference or null. HAS_MANY: a list (exactly these), "
        "{include: [...], exclude: [...]} (only these links), or null (none).",
        "anyOf": [
            {"$ref": "#/$defs/reference"},
            {"type": "array", "items": {"$ref": "#/$defs/reference"}},
            _partial("#/$defs/reference"),
            _NULL,
        ],
    }
    spec = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "fields": {
                "description": "Field values by key ($stage, $amount, custom keys...); "
                "null means the field must be empty.",
                "type": "object",
                "propertyNames": {"minLength": 1},
            },
            "relationships": {
                "description": "Related records by relationship key ($owner, $contact...).",
                "type": "object",
                "propertyNames": {"minLength": 1},
                "additionalProperties": {"$ref": "#/$defs/relationship"},
            },
        },
    }
    match = {
        "description": "A selector: field and relationship values that find exactly one "
        "live record.",
        "type": "object",
        "minProperties": 1,
    }
    return _document("lfr manifest (lfr/v1 Opportunity)", defs, match, spec, [])


def org_schema(schema: OrgSchema) -> dict[str, Any]:
    """The schema of one org: real keys, value types, select options and reference kinds."""
    definitions = schema.definitions
    defs = _common_defs()
    fields: dict[str, Any] = {}
    for key, definition in definitions.field_definitions.items():
        if schema.field_read_only(key):
            continue
        value = _field_value(schema, definition)
        if value is not None and key in UNCLEARABLE_FIELDS:
            value = _required(value)
        if value is not None:
            fields[key] = _described(definition.label, definition.description, value)
    relationships: dict[str, Any] = {}
    for key, relationship in definitions.relationship_definitions.items():
        if schema.relationship_read_only(key):
            continue
        reference = _reference_for(relationship.object_type, defs)
        shape = _relationship_shape(relationship, reference)
        relationships[key] = _described(relationship.label, relationship.description, shape)
    spec = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "fields": {
                "description": "Field values by key; null means the field must be empty.",
                "type": "object",
                "additionalProperties": False,
                "properties": fields,
            },
            "relationships": {
                "description": "Related records by relationship key.",
                "type": "object",
                "additionalProperties": False,
                "properties": relationships,
            },
        },
    }
    # A selector may name any key, read-only ones included ($opportunityStatus: Won).
    match = {
        "description": "A selector: field and relationship values that find exactly one "
        "live record.",
        "type": "object",
        "minProperties": 1,
        "propertyNames": {
            "enum": [*definitions.field_definitions, *definitions.relationship_definitions]
        },
    }
    title = f"lfr manifest (lfr/v1 Opportunity) for one org ({len(fields)} fields)"
    keys = [*definitions.field_definitions, *definitions.relationship_definitions]
    return _document(title, defs, match, spec, keys)


def render_schema(document: dict[str, Any]) -> str:
    """The schema as written to disk: stable, two-space indented, one trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- shared parts ----------------------------------------------------------------------------


def _document(
    title: str,
    defs: dict[str, Any],
    match: dict[str, Any],
    spec: dict[str, Any],
    selector_keys: list[str],
) -> dict[str, Any]:
    """A document is an ``Opportunity`` (top-level ``properties``, as before sets) unless its
    kind says ``OpportunitySet`` (``$defs/opportunity_set``)."""
    return {
        "$schema": DIALECT,
        "title": title,
        "description": "One YAML document of a Lightfield opportunity manifest, as read by "
        "`lfr plan`. Generated by `lfr schema`; `lfr validate` has the final word.",
        "if": {"required": ["kind"], "properties": {"kind": {"const": SET_KIND}}},
        "then": {"$ref": "#/$defs/opportunity_set"},
        "else": {
            "type": "object",
            "required": ["apiVersion", "kind", "metadata"],
            "additionalProperties": False,
            "properties": {
                "apiVersion": {"const": API_VERSION},
                "kind": {
                    "enum": [KIND, SET_KIND],
                    "description": "Opportunity (one record) or OpportunitySet (every record "
                    "a selector matches).",
                },
                "metadata": {"$ref": "#/$defs/metadata"},
                "spec": spec,
            },
        },
        "$defs": {
            **defs,
            "metadata": _metadata(match),
            "opportunity_set": _opportunity_set(spec, selector_keys),
        },
    }


def _opportunity_set(spec: dict[str, Any], selector_keys: list[str]) -> dict[str, Any]:
    """``kind: OpportunitySet`` (``core.sets``): a name, a selector and the keys it manages."""
    selector: dict[str, Any] = {
        "description": "Every key must hold: a field or relationship value as in match, or a "
        "list of them (any of); status: open|closed; or all: true alone. Not empty.",
        "type": "object",
        "minProperties": 1,
        "properties": {
            "all": {"const": True, "description": "Every opportunity (alone)."},
            "status": {"enum": ["open", "closed"]},
        },
    }
    if selector_keys:
        selector["propertyNames"] = {"enum": ["all", "status", *selector_keys]}
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": SET_KIND},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": {"type": "string", "pattern": NAME_PATTERN}},
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector"],
                "minProperties": 2,
                "properties": {"selector": selector, **spec["properties"]},
            },
        },
    }


def _metadata(match: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {
                "description": "Logical key, unique in the repository: 1-100 lowercase letters, "
                "digits, '.', '_' or '-', starting and ending with a letter or digit.",
                "type": "string",
                "pattern": NAME_PATTERN,
            },
            "id": {
                "description": "The Lightfield record this manifest manages (opp_...).",
                "type": "string",
                "minLength": 1,
            },
            "match": match,
            "onMissing": {
                "description": "With match: create the record when none matches (default), "
                "or report an error.",
                "enum": ["create", "error"],
            },
        },
        # Exactly one identity: both present match both branches and fail.
        "oneOf": [{"required": ["id"]}, {"required": ["match"]}],
    }


def _common_defs() -> dict[str, Any]:
    defs: dict[str, Any] = {"id": {"type": "string", "minLength": 1}}
    for kind, annotation in _LOOKUP_SHAPES.items():
        defs[f"by_{kind}"] = {
            **annotation,
            "type": "object",
            "additionalProperties": False,
            "required": [kind],
            "properties": {kind: {"type": "string", "minLength": 1}},
        }
    return defs


def _partial(reference: str) -> dict[str, Any]:
    items = {"type": "array", "items": {"$ref": reference}}
    return {
        "description": "Partial ownership: ensure `include` linked and `exclude` not; leave "
        "every other link alone.",
        "type": "object",
        "additionalProperties": False,
        "properties": {"include": items, "exclude": items},
        "anyOf": [
            {"required": ["include"], "properties": {"include": {"minItems": 1}}},
            {"required": ["exclude"], "properties": {"exclude": {"minItems": 1}}},
        ],
    }


def _described(label: str, description: str | None, value: dict[str, Any]) -> dict[str, Any]:
    annotations: dict[str, Any] = {}
    if label:
        annotations["title"] = label
    if description:
        annotations["description"] = description
    return {**annotations, **value}


# --- per org ---------------------------------------------------------------------------------


def _nullable(*alternatives: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [*alternatives, _NULL]}


def _field_value(schema: OrgSchema, definition: FieldDefinition) -> dict[str, Any] | None:
    """The value schema of a field, or None for a value type lfr does not write."""
    kind = definition.value_type
    if kind in ("NUMBER", "CURRENCY"):
        return {"type": ["number", "null"]}
    if kind == "CHECKBOX":
        return {"type": ["boolean", "null"]}
    if kind == "DATETIME":
        return _nullable(
            {
                "type": "string",
                "pattern": DATETIME_PATTERN,
                "description": "A date (2027-03-31, midnight UTC) or a date-time with a zone "
                "(2027-03-31T12:00:00Z, 2027-03-31T12:00:00+02:00).",
            }
        )
    if kind == "SOCIAL_HANDLE":
        pattern = HANDLE_PATTERNS.get(definition.type_configuration.handle_service or "")
        return _nullable({"type": "string", **({"pattern": pattern} if pattern else {})})
    if kind in ("TEXT", "MARKDOWN", "HTML"):
        return {"type": ["string", "null"]}
    if kind in ("EMAIL", "URL", "TELEPHONE"):
        one: dict[str, Any] = {"type": "string", "minLength": 1}
        if kind == "EMAIL":
            one["pattern"] = EMAIL_PATTERN
        if kind == "URL":
            one["pattern"] = URL_PATTERN
        if definition.type_configuration.multiple_values:
            return _nullable(one, {"type": "array", "items": one})
        return _nullable(one, {"type": "array", "items": one, "maxItems": 1})
    if kind in ("SINGLE_SELECT", "MULTI_SELECT"):
        option = {"enum": _option_spellings(schema, definition)}
        if kind == "SINGLE_SELECT":
            return _nullable(option)
        return _nullable(option, {"type": "array", "items": option})
    if kind in ("ADDRESS", "FULL_NAME"):
        parts = ADDRESS_PARTS if kind == "ADDRESS" else FULL_NAME_PARTS
        properties: dict[str, Any] = {}
        for part in parts:
            if part in ("latitude", "longitude"):
                properties[part] = {"type": ["number", "null"]}
            elif part == "country":
                properties[part] = _nullable({"type": "string", "pattern": r"^\s*[A-Za-z]{2}\s*$"})
            else:
                properties[part] = {"type": ["string", "null"]}
        return _nullable(
            {"type": "object", "additionalProperties": False, "properties": properties}
        )
    return None


def _required(value: dict[str, Any]) -> dict[str, Any]:
    """A value schema without its null (and, for text, without blank text)."""
    if "anyOf" in value:
        alternatives = [a for a in value["anyOf"] if a != _NULL]
        return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    types = [t for t in value.get("type", []) if t != "null"]
    required = {**value, "type": types[0] if len(types) == 1 else types}
    if types == ["string"]:
        required["pattern"] = r"\S"
    return required


def _option_spellings(schema: OrgSchema, definition: FieldDefinition) -> list[str]:
    """Every label that names exactly one option, then each option of a pipeline with its
    pipeline (``Renewals / Negotiation``, as validation and export spell it), then every id."""
    options = definition.type_configuration.options
    folded = Counter(fold(o.label) for o in options)
    labels = [o.label for o in options if folded[fold(o.label)] == 1]
    qualified = [
        f"{schema.pipeline_name(o.parent_id)} / {o.label}"
        for o in options
        if o.parent_id is not None
    ]
    return list(dict.fromkeys([*labels, *qualified, *(o.id for o in options)]))


def _reference_for(object_type: str, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of one reference to an ``object_type`` record (added to ``defs`` once)."""
    name = f"reference_{object_type}"
    if name not in defs:
        prefix = ID_PREFIXES.get(object_type)
        id_schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if prefix is not None:
            id_schema = {**id_schema, "pattern": f"^{prefix}"}
        lookups = [
            {"$ref": f"#/$defs/by_{LOOKUP_WORDS[kind]}"}
            for kind in REFERENCE_KINDS.get(object_type, ())
        ]
        defs[name] = {
            "description": f"A {object_type}: "
            + ("its id" if prefix is None else f"its id ({prefix}...)")
            + (" or a lookup" if lookups else ""),
            "anyOf": [id_schema, *lookups],
        }
    return {"$ref": f"#/$defs/{name}"}


def _relationship_shape(
    relationship: RelationshipDefinition, reference: dict[str, Any]
) -> dict[str, Any]:
    if relationship.many:
        return _nullable({"type": "array", "items": reference}, _partial(reference["$ref"]))
    return _nullable(reference)


def settings_schema() -> dict[str, Any]:
    """The schema of ``lfr.yaml``, generated from its model (``core.settings.Settings``), so
    the two cannot drift apart; ``lfr validate`` stays the authority (it also refuses a key
    written into the file, which no schema can say)."""
    generated = Settings.model_json_schema(mode="validation")
    # pydantic states the name rule as patternProperties, which alone lets any other name by.
    generated["properties"]["environments"]["additionalProperties"] = False
    return {
        "$schema": DIALECT,
        "title": "lfr.yaml",
        "description": "lfr's settings for a repository of manifests: manifest directories, "
        "the mass-change rail, the write rate, and named environments (never an API key: "
        "api_key_env names the variable that holds it).",
        **{key: value for key, value in generated.items() if key not in ("title", "description")},
    }
