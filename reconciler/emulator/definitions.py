"""Object definitions of the emulated orgs (digest §2.5, §2.6, §2.8, §4) and their wire shape.

Owns the field / relationship definitions of opportunities, accounts, contacts and members, the
select options (with the two-pipeline ``$stage`` of the demo), and the deterministic ids of
definitions and options. Every org gets the same layout, but ids are derived from the org id, so
option ids differ between orgs exactly as they do in Lightfield (definitions are per org).
Called by operations.py (validation, rendering), filters.py and seed.py.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Cardinality = Literal["HAS_ONE", "HAS_MANY"]

# object type → (URL plural, id prefix)
OBJECT_TYPES: dict[str, tuple[str, str]] = {
    "opportunity": ("opportunities", "opp"),
    "account": ("accounts", "acc"),
    "contact": ("contacts", "con"),
    "member": ("members", "mem"),
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
    has_history: bool = True  # False for column-backed fields (digest §2.9)

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


# Stage layout of the demo: a default "Sales" pipeline and a "Renewals" pipeline that shares the
# "Negotiation" label, so that label is ambiguous on writes (422) and filters (400).
PIPELINES: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = (
    (
        "Sales",
        (
            ("Prospecting", None),
            ("Discovery", None),
            ("Proposal", None),
            ("Negotiation", None),
            ("Closed Won", "Won"),
            ("Closed Lost", "Lost"),
        ),
    ),
    (
        "Renewals",
        (("Renewal Review", None), ("Negotiation", None), ("Renewed", "Won"), ("Churned", "Lost")),
    ),
)

READ_ONLY_NOTE = "Read-only: maintained from the other side of the link."


class _Builder:
    """Builds one org's definitions with ids derived from (org, object type, key)."""

    def __init__(self, org: str) -> None:
        self.org = org

    def options(
        self, object_type: str, key: str, labels: list[str], prefix: str = "opt"
    ) -> tuple[Option, ...]:
        return tuple(
            Option(id=ulid_like(prefix, self.org, object_type, key, label), label=label)
            for label in labels
        )

    def field(self, object_type: str, key: str, label: str, value_type: str, **kw: Any) -> FieldDef:
        def_id = ulid_like("ad", self.org, object_type, key)
        return FieldDef(key=key, id=def_id, label=label, value_type=value_type, **kw)

    def rel(
        self,
        object_type: str,
        key: str,
        label: str,
        cardinality: Cardinality,
        target: str,
        **kw: Any,
    ) -> RelDef:
        rel_id = ulid_like("rd", self.org, object_type, key)
        return RelDef(
            key=key, id=rel_id, label=label, cardinality=cardinality, object_type=target, **kw
        )


def _opportunity(b: _Builder) -> ObjectDefs:
    t = "opportunity"
    pipelines = b.options(t, "$pipeline", [name for name, _ in PIPELINES], prefix="pd")
    stages: list[Option] = []
    for pipeline, (_, stage_specs) in zip(pipelines, PIPELINES, strict=True):
        for label, outcome in stage_specs:
            stage_id = ulid_like("opt", b.org, t, "$stage", pipeline.label, label)
            stages.append(Option(stage_id, label, parent_id=pipeline.id, outcome=outcome))
    fields = [
        b.field(
            t, "$name", "Name", "TEXT", description="Name of the opportunity.", has_history=False
        ),
        b.field(
            t,
            "$pipeline",
            "Pipeline",
            "SINGLE_SELECT",
            options=pipelines,
            description="Pipeline of the opportunity; follows from $stage.",
        ),
        b.field(
            t,
            "$stage",
            "Stage",
            "SINGLE_SELECT",
            options=tuple(stages),
            parent_field_key="$pipeline",
            description="What stage is the opportunity in?",
        ),
        b.field(t, "$amount", "Amount", "CURRENCY", currency="USD", description="Deal amount."),
        b.field(t, "$closeDate", "Close date", "DATETIME", description="Expected close date."),
        b.field(t, "$nextSteps", "Next steps", "TEXT"),
        b.field(
            t,
            "$opportunityStatus",
            "Status",
            "SINGLE_SELECT",
            read_only=True,
            options=b.options(t, "$opportunityStatus", ["Open", "Won", "Lost"]),
            description="Derived from the stage; read-only.",
        ),
        b.field(
            t,
            "$aiSummary",
            "AI summary",
            "MARKDOWN",
            read_only=True,
            description="AI-generated summary; read-only.",
        ),
        b.field(t, "priority", "Priority", "NUMBER"),
        b.field(t, "strategic", "Strategic", "CHECKBOX"),
        b.field(t, "billingEmails", "Billing emails", "EMAIL", multiple=True, unique=False),
        b.field(t, "legalEmail", "Legal email", "EMAIL", multiple=False, unique=False),
        b.field(t, "phone", "Phone", "TELEPHONE", multiple=False, unique=False),
        b.field(t, "supportPhones", "Support phones", "TELEPHONE", multiple=True, unique=False),
        b.field(t, "docsUrl", "Docs URL", "URL", multiple=False, unique=False),
        b.field(t, "competitorUrls", "Competitor URLs", "URL", multiple=True, unique=False),
        b.field(t, "shippingAddress", "Shipping address", "ADDRESS"),
        b.field(t, "signatory", "Signatory", "FULL_NAME"),
        b.field(t, "twitter", "Twitter", "SOCIAL_HANDLE", handle_service="TWITTER"),
        b.field(
            t,
            "products",
            "Products",
            "MULTI_SELECT",
            options=b.options(t, "products", ["Platform", "Analytics", "Support", "Training"]),
        ),
        b.field(
            t,
            "region",
            "Region",
            "SINGLE_SELECT",
            options=b.options(t, "region", ["North America", "EMEA", "APAC"]),
        ),
        b.field(t, "competitor", "Competitor", "TEXT"),
    ]
    rels = [
        b.rel(
            t, "$account", "Account", "HAS_ONE", "account", inverse="$opportunity", required=True
        ),
        b.rel(t, "$owner", "Owner", "HAS_ONE", "member"),
        b.rel(t, "$champion", "Champion", "HAS_ONE", "contact"),
        b.rel(t, "$evaluator", "Evaluator", "HAS_ONE", "contact"),
        b.rel(t, "$contact", "Contacts", "HAS_MANY", "contact"),
        b.rel(t, "partners", "Partners", "HAS_MANY", "account"),
        b.rel(t, "$createdBy", "Created by", "HAS_ONE", "member"),
        *_maintained_elsewhere(b, t),
    ]
    return ObjectDefs(t, {f.key: f for f in fields}, {r.key: r for r in rels})


def _maintained_elsewhere(b: _Builder, t: str) -> list[RelDef]:
    """The read-only ``$task`` / ``$note`` / ``$meeting`` links (digest §2.4): maintained from
    the task, note or meeting side."""
    return [
        b.rel(t, key, label, "HAS_MANY", target, read_only=True, description=READ_ONLY_NOTE)
        for key, label, target in (
            ("$task", "Tasks", "task"),
            ("$note", "Notes", "note"),
            ("$meeting", "Meetings", "meeting"),
        )
    ]


def _account(b: _Builder) -> ObjectDefs:
    t = "account"
    fields = [
        b.field(t, "$name", "Name", "TEXT", has_history=False),
        b.field(t, "$website", "Website", "URL", multiple=True, unique=True),
        b.field(
            t,
            "$industry",
            "Industry",
            "MULTI_SELECT",
            options=b.options(
                t, "$industry", ["Software", "Manufacturing", "Finance", "Healthcare", "Retail"]
            ),
        ),
        b.field(
            t,
            "$headcount",
            "Headcount",
            "SINGLE_SELECT",
            options=b.options(t, "$headcount", ["1-10", "11-50", "51-200", "201-1000", "1000+"]),
        ),
        b.field(t, "$primaryAddress", "Primary address", "ADDRESS"),
        b.field(t, "$linkedIn", "LinkedIn", "SOCIAL_HANDLE", handle_service="LINKEDIN"),
        b.field(
            t,
            "$accountStatus",
            "Account status",
            "SINGLE_SELECT",
            read_only=True,
            options=b.options(t, "$accountStatus", ["Prospect", "Customer", "Churned"]),
        ),
        b.field(t, "$howTheyMakeMoney", "How they make money", "MARKDOWN", read_only=True),
        b.field(
            t,
            "tier",
            "Tier",
            "SINGLE_SELECT",
            options=b.options(t, "tier", ["Enterprise", "Mid-market", "SMB"]),
        ),
    ]
    rels = [
        b.rel(t, "$owner", "Owner", "HAS_ONE", "member"),
        b.rel(t, "$contact", "Contacts", "HAS_MANY", "contact", inverse="$account"),
        b.rel(
            t,
            "$opportunity",
            "Opportunities",
            "HAS_MANY",
            "opportunity",
            read_only=True,
            inverse="$account",
            description=READ_ONLY_NOTE,
        ),
        *_maintained_elsewhere(b, t),
    ]
    return ObjectDefs(t, {f.key: f for f in fields}, {r.key: r for r in rels})


def _contact(b: _Builder) -> ObjectDefs:
    t = "contact"
    fields = [
        b.field(t, "$name", "Name", "FULL_NAME", has_history=False),
        b.field(t, "$email", "Email", "EMAIL", multiple=True, unique=True),
        b.field(t, "$title", "Title", "TEXT"),
        b.field(t, "$phone", "Phone", "TELEPHONE", multiple=True, unique=False),
        b.field(t, "doNotContact", "Do not contact", "CHECKBOX"),
    ]
    rels = [b.rel(t, "$account", "Account", "HAS_ONE", "account", inverse="$contact")]
    return ObjectDefs(t, {f.key: f for f in fields}, {r.key: r for r in rels})


def _member(b: _Builder) -> ObjectDefs:
    t = "member"
    fields = [
        b.field(t, "$email", "Email", "EMAIL", multiple=False),
        b.field(t, "$name", "Name", "FULL_NAME"),
        b.field(t, "$profileImage", "Profile image", "URL", multiple=False),
        b.field(t, "$role", "Role", "TEXT"),
    ]
    rels = [b.rel(t, "$user", "User", "HAS_ONE", "user", read_only=True)]
    return ObjectDefs(t, {f.key: f for f in fields}, {r.key: r for r in rels})


def build_definitions(org: str) -> dict[str, ObjectDefs]:
    """The definitions of every object type of ``org`` (same layout, org-specific ids)."""
    b = _Builder(org)
    return {d.object_type: d for d in (_opportunity(b), _account(b), _contact(b), _member(b))}


def stage_outcome(defs: ObjectDefs, stage_id: str | None) -> str:
    """The ``$opportunityStatus`` label a stage implies: Won, Lost or Open."""
    stage = defs.fields["$stage"].option_by_id(stage_id) if stage_id else None
    return stage.outcome if stage is not None and stage.outcome else "Open"
