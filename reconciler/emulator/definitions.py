"""Object definitions of the emulated orgs and their wire shape (lightfield-api.md §2.5, §2.6,
§2.8, §4).

Owns the definition types and their wire shape, and builds each org's definitions from the layout
in ``data/definitions.json`` (the fields, relationships and select options of opportunities,
accounts, contacts, members and notes, and the two pipelines of ``$stage``) with deterministic
ids of definitions and options. Every org gets the same layout, but ids are derived from the org
id, so option ids differ between orgs exactly as they do in Lightfield (definitions are per org).
Also owns what a stage implies (its outcome, and how an ambiguous one is listed in an error).
Called by operations.py and the modules it runs (validation, relationships, wire shape), filters.py
and the seeds.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

Cardinality = Literal["HAS_ONE", "HAS_MANY"]

# object type → (URL plural, id prefix)
OBJECT_TYPES: dict[str, tuple[str, str]] = {
    "opportunity": ("opportunities", "opp"),
    "account": ("accounts", "acc"),
    "contact": ("contacts", "con"),
    "member": ("members", "mem"),
    # No note id prefix is documented (lightfield-api.md §1.6); "note" is the emulator's choice.
    "note": ("notes", "note"),
}
PLURAL_TO_TYPE = {plural: kind for kind, (plural, _) in OBJECT_TYPES.items()}

_BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")


def ulid_like(prefix: str, *parts: str) -> str:
    """``opt_01…`` style id (prefix + 25 lowercase base32 chars), stable for the same parts."""
    n = _digest(prefix, *parts)
    chars = []
    for _ in range(23):
        n, r = divmod(n, 32)
        chars.append(_BASE32[r])
    return f"{prefix}_01{''.join(chars)}"


def cuid_like(prefix: str, *parts: str) -> str:
    """``acc_cm…`` style id (prefix + 15 lowercase alnum chars), stable for the same parts."""
    n = _digest(prefix, *parts)
    chars = []
    for _ in range(13):
        n, r = divmod(n, 36)
        chars.append(_BASE36[r])
    return f"{prefix}_cm{''.join(chars)}"


def normalize_label(label: str) -> str:
    """Select labels match case-insensitively with runs of whitespace collapsed."""
    return re.sub(r"\s+", " ", label).strip().casefold()


@dataclass(frozen=True)
class Option:
    id: str
    label: str
    description: str | None = None
    parent_id: str | None = None
    outcome: str | None = None  # stage options only: "Won" / "Lost" drive $opportunityStatus

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "label": self.label, "description": self.description}
        if self.parent_id is not None:
            wire["parentId"] = self.parent_id
        return wire


@dataclass(frozen=True)
class FieldDef:
    key: str
    id: str
    label: str
    value_type: str
    description: str | None = None
    read_only: bool = False
    options: tuple[Option, ...] = ()
    multiple: bool | None = None  # EMAIL / URL / TELEPHONE: ``multipleValues``
    unique: bool | None = None
    currency: str | None = None
    handle_service: str | None = None
    parent_field_key: str | None = None
    has_history: bool = True  # False for column-backed fields (lightfield-api.md §2.9)

    @property
    def system(self) -> bool:
        return self.key.startswith("$")

    @property
    def slug(self) -> str:
        return self.key.lstrip("$")

    def option_by_id(self, option_id: str) -> Option | None:
        for option in self.options:
            if option.id == option_id:
                return option
        return None

    def options_by_label(self, label: str) -> list[Option]:
        wanted = normalize_label(label)
        return [o for o in self.options if normalize_label(o.label) == wanted]

    def type_configuration(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.currency is not None:
            config["currency"] = self.currency
        if self.handle_service is not None:
            config["handleService"] = self.handle_service
        if self.multiple is not None:
            config["multipleValues"] = self.multiple
        if self.unique is not None:
            config["unique"] = self.unique
        if self.value_type in ("SINGLE_SELECT", "MULTI_SELECT"):
            config["options"] = [option.to_wire() for option in self.options]
        if self.parent_field_key is not None:
            config["parentFieldKey"] = self.parent_field_key
        return config

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "label": self.label,
            "description": self.description,
            "valueType": self.value_type,
            "system": self.system,
            "readOnly": self.read_only,
            "typeConfiguration": self.type_configuration(),
        }


@dataclass(frozen=True)
class RelDef:
    key: str
    id: str
    label: str
    cardinality: Cardinality
    object_type: str
    description: str | None = None
    read_only: bool = False
    # The key of the same link seen from the other side, when the emulator keeps both sides.
    inverse: str | None = None
    required: bool = False  # may not be cleared (``$account`` of an opportunity)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "description": self.description,
            "cardinality": self.cardinality,
            "objectType": self.object_type,
        }


@dataclass(frozen=True)
class ObjectDefs:
    object_type: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    relationships: dict[str, RelDef] = field(default_factory=dict)

    @property
    def plural(self) -> str:
        return OBJECT_TYPES[self.object_type][0]

    @property
    def prefix(self) -> str:
        return OBJECT_TYPES[self.object_type][1]

    def to_wire(self) -> dict[str, Any]:
        return {
            "objectType": self.object_type,
            "fieldDefinitions": {key: f.to_wire() for key, f in self.fields.items()},
            "relationshipDefinitions": {key: r.to_wire() for key, r in self.relationships.items()},
        }


LAYOUT: dict[str, Any] = json.loads(
    resources.files(__package__).joinpath("data", "definitions.json").read_text(encoding="utf-8")
)


def build_definitions(org: str) -> dict[str, ObjectDefs]:
    """The definitions of every object type of ``org`` (same layout, org-specific ids)."""
    return {t: _object(org, t, spec) for t, spec in LAYOUT["objects"].items()}


def _object(org: str, object_type: str, spec: dict[str, Any]) -> ObjectDefs:
    fields = [_field(org, object_type, f) for f in spec["fields"]]
    rels = [
        RelDef(id=ulid_like("rd", org, object_type, r["key"]), **r) for r in spec["relationships"]
    ]
    return ObjectDefs(object_type, {f.key: f for f in fields}, {r.key: r for r in rels})


def _field(org: str, object_type: str, spec: dict[str, Any]) -> FieldDef:
    """A field with ids derived from (org, object type, key), and from each option's label."""
    attributes = dict(spec)
    key = attributes["key"]
    labels = attributes.pop("options", [])
    options = tuple(
        Option(id=ulid_like("opt", org, object_type, key, label), label=label) for label in labels
    )
    if object_type == "opportunity" and key == "$pipeline":
        options = _pipelines(org)
    elif object_type == "opportunity" and key == "$stage":
        options = _stages(org)
    return FieldDef(id=ulid_like("ad", org, object_type, key), options=options, **attributes)


# The stage layout (data/definitions.json): a default "Sales" pipeline and a "Renewals" pipeline
# that shares the "Negotiation" label, so that label is ambiguous on writes (422) and filters
# (400). A stage's id derives from its pipeline's name too, so the two "Negotiation"s differ.
def _pipelines(org: str) -> tuple[Option, ...]:
    return tuple(
        Option(id=ulid_like("pd", org, "opportunity", "$pipeline", p["name"]), label=p["name"])
        for p in LAYOUT["pipelines"]
    )


def _stages(org: str) -> tuple[Option, ...]:
    stages: list[Option] = []
    for pipeline, spec in zip(_pipelines(org), LAYOUT["pipelines"], strict=True):
        for stage in spec["stages"]:
            label = stage["label"]
            stage_id = ulid_like("opt", org, "opportunity", "$stage", pipeline.label, label)
            stages.append(
                Option(stage_id, label, parent_id=pipeline.id, outcome=stage.get("outcome"))
            )
    return tuple(stages)


def stage_candidates(defs: ObjectDefs, options: list[Option]) -> list[dict[str, Any]]:
    """Stage options with their pipelines, as a 400 / 422 about an ambiguous stage lists them."""
    pipelines = defs.fields.get("$pipeline")
    out = []
    for option in options:
        pipeline = (
            pipelines.option_by_id(option.parent_id) if pipelines and option.parent_id else None
        )
        out.append(
            {
                "stageOptionId": option.id,
                "stageLabel": option.label,
                "pipelineId": option.parent_id,
                "pipelineName": pipeline.label if pipeline else None,
            }
        )
    return out


def stage_outcome(defs: ObjectDefs, stage_id: str | None) -> str:
    """The ``$opportunityStatus`` label a stage implies: Won, Lost or Open."""
    stage = defs.fields["$stage"].option_by_id(stage_id) if stage_id else None
    return stage.outcome if stage is not None and stage.outcome else "Open"
