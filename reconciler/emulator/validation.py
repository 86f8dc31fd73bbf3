"""What a write or a query may say: body members, field values, integer parameters.

Owns the checks that turn a request's body into stored field values, before anything is written:
the members a create or update body accepts, required and uncleared fields, each field's value
(values.py for the value types; select options by id or label, and the ``$stage`` /
``$pipeline`` rules here), and the integer query parameters (``limit``, ``offset``). Every
refusal is an ``ApiError`` naming the parameter. Called by operations.py, listing.py and
history.py.
"""

from __future__ import annotations

from typing import Any

from .definitions import FieldDef, ObjectDefs, Option, stage_candidates
from .errors import ApiError, bad_request, invalid_type, unprocessable
from .normalising import normalised
from .values import coerce

# Create bodies: which top-level members each type accepts, and which fields are required.
CREATE_MEMBERS = {
    "opportunity": {"fields", "relationships"},
    "account": {"fields", "relationships", "skipEnrichment"},
    "contact": {"fields", "relationships", "skipEnrichment"},
    "note": {"fields", "relationships"},
}
UPDATE_MEMBERS = {"fields", "relationships"}
REQUIRED_FIELDS = {
    "opportunity": ("$name",),
    "account": ("$name",),
    "contact": (),
    "note": ("$title",),  # lightfield-api.md §5: "$title required"
}


def create_body(object_type: str, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``fields`` and ``relationships`` of a create body, after its shape checks."""
    body = _object_body(body)
    _no_unknown_member(body, CREATE_MEMBERS[object_type])
    if "skipEnrichment" in body and not isinstance(body["skipEnrichment"], bool):
        raise invalid_type("'skipEnrichment' must be a boolean.", "skipEnrichment")
    if "fields" not in body:
        raise unprocessable("'fields' is required.", code="parameter_missing", param="fields")
    return _member_object(body, "fields"), _member_object(body, "relationships")


def update_body(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``fields`` and ``relationships`` of an update body, after its shape checks."""
    body = _object_body(body)
    _no_unknown_member(body, UPDATE_MEMBERS)
    return _member_object(body, "fields"), _member_object(body, "relationships")


def _no_unknown_member(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(
            f"Unrecognized parameter '{unknown[0]}'.",
            code="unknown_parameter",
            param=unknown[0],
        )


def check_required(defs: ObjectDefs, values: dict[str, Any]) -> None:
    """A create gives every required field a non-blank value."""
    for key in REQUIRED_FIELDS[defs.object_type]:
        value = values.get(key)
        if value is None or _blank(value):
            raise unprocessable(
                f"'{key}' is required to create a record in '{defs.plural}'.",
                code="parameter_missing",
                param=f"fields.{key}",
            )


def check_not_cleared(defs: ObjectDefs, values: dict[str, Any]) -> None:
    """An update may not clear a required field (nor an opportunity's ``$stage``)."""
    object_type = defs.object_type
    for key in REQUIRED_FIELDS[object_type] + (("$stage",) if object_type == "opportunity" else ()):
        # Blank is no name, as on create: "CrmAccount requires name field" (lightfield-api.md §1.2).
        if key in values and (values[key] is None or _blank(values[key])):
            raise invalid_type(f"'{key}' cannot be cleared.", f"fields.{key}")


def coerce_fields(
    defs: ObjectDefs, fields_in: dict[str, Any], current: dict[str, Any], *, normalise: bool = False
) -> dict[str, Any]:
    """Stored values for the written keys (``None`` = clear), after every check; ``normalise``:
    rewritten as a normalising server stores them (normalising.py)."""
    values: dict[str, Any] = {}
    for key, raw in fields_in.items():
        f = defs.fields.get(key)
        if f is None:
            raise bad_request(
                f"Unrecognized field '{key}' for '{defs.plural}'.",
                code="unknown_field",
                param=f"fields.{key}",
            )
        if f.read_only:
            raise bad_request(
                f"Field '{key}' is read-only and cannot be written.",
                code="read_only_field",
                param=f"fields.{key}",
            )
        if key in ("$pipeline", "$stage"):
            continue
        if f.value_type == "SINGLE_SELECT":
            values[key] = None if raw is None else _select(f, raw)
        elif f.value_type == "MULTI_SELECT":
            values[key] = _multi_select(f, raw)
        else:
            values[key] = coerce(f, raw, current.get(key))
            if normalise:
                values[key] = normalised(f, values[key])
    if "$stage" in fields_in or "$pipeline" in fields_in:
        values["$stage"] = _stage(defs, fields_in)
    return values


def _select(f: FieldDef, raw: Any) -> str:
    if not isinstance(raw, str):
        raise invalid_type(
            f"Invalid value for '{f.key}': expected an option id or label.", f"fields.{f.key}"
        )
    if f.option_by_id(raw) is not None:
        return raw
    matches = f.options_by_label(raw)
    if len(matches) == 1:
        return matches[0].id
    labels = ", ".join(o.label for o in f.options)
    raise invalid_type(
        f"'{raw}' is not an option of '{f.key}'; options: {labels}.", f"fields.{f.key}"
    )


def _multi_select(f: FieldDef, raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise invalid_type(
            f"Invalid value for '{f.key}' (MULTI_SELECT): expected an array of option ids "
            "or labels.",
            f"fields.{f.key}",
        )
    chosen: list[str] = []
    for item in raw:
        option_id = _select(f, item)
        if option_id not in chosen:
            chosen.append(option_id)
    return chosen or None


def _stage(defs: ObjectDefs, fields_in: dict[str, Any]) -> str | None:
    """``$stage`` by id or label, with ``$pipeline`` as an optional hint
    (lightfield-api.md §2.6)."""
    stage_def = defs.fields["$stage"]
    pipeline_def = defs.fields["$pipeline"]
    hint = fields_in.get("$pipeline")
    if "$stage" not in fields_in:
        raise unprocessable(
            "'$pipeline' is only a hint for '$stage'; send it together with '$stage'.",
            code="parameter_missing",
            param="fields.$stage",
        )
    raw = fields_in["$stage"]
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise invalid_type(
            "Invalid value for '$stage': expected an option id or label.", "fields.$stage"
        )
    pipeline: Option | None = None
    if hint is not None:
        if not isinstance(hint, str):
            raise invalid_type(
                "Invalid value for '$pipeline': expected a pipeline id or name.",
                "fields.$pipeline",
            )
        pipeline = pipeline_def.option_by_id(hint) or next(
            iter(pipeline_def.options_by_label(hint)), None
        )
        if pipeline is None:
            raise ApiError(
                422,
                f"Unknown pipeline '{hint}'.",
                code="unknown_pipeline",
                param="fields.$pipeline",
                extra={"activePipelineIds": [o.id for o in pipeline_def.options]},
            )
    by_id = stage_def.option_by_id(raw)
    candidates = [by_id] if by_id is not None else stage_def.options_by_label(raw)
    if pipeline is not None:
        in_pipeline = [c for c in candidates if c.parent_id == pipeline.id]
        if len(in_pipeline) != 1:
            raise ApiError(
                422,
                f"Stage '{raw}' is not exactly one active stage of pipeline '{pipeline.label}'.",
                code="stage_unresolved_in_pipeline",
                param="fields.$stage",
                extra={
                    "pipelineId": pipeline.id,
                    "candidates": stage_candidates(
                        defs, [o for o in stage_def.options if o.parent_id == pipeline.id]
                    ),
                },
            )
        return in_pipeline[0].id
    if len(candidates) == 1:
        return candidates[0].id
    if not candidates:
        labels = ", ".join(o.label for o in stage_def.options)
        raise invalid_type(f"'{raw}' is not a stage; stages: {labels}.", "fields.$stage")
    raise ApiError(
        422,
        f"Stage label '{raw}' exists in several pipelines; send a stage option id or a "
        "'$pipeline' hint.",
        code="ambiguous_stage_label",
        param="fields.$stage",
        extra={"candidates": stage_candidates(defs, candidates)},
    )


def int_param(value: str, name: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(
            f"'{name}' must be an integer {bounds}.", code="invalid_parameter", param=name
        )
    return number


def _object_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body


def _member_object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_type(f"'{name}' must be an object.", name)
    return value


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()
