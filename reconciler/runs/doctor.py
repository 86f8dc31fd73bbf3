"""``lfr doctor``: a read-only probe of what lfr depends on in an org's API (README "Against a
real org"; docs/api-contract.md).

Owns the probes and what each finding means for lfr: the key and its scopes, the opportunity
definitions (every value type lfr reads; unknown types listed; fields marked required on
create), list paging and the filters lfr's ``match`` uses, the shape of an error body (a 404 for
an id no record has), the rate-limit headers and the version header. Every probe is a GET: no
write is ever sent, so the list index lag (which needs a write to measure) is not measured.

The result says which contract variants were found and which client tolerances apply, and
whether anything is ``fail``: something lfr cannot work with (the CLI then exits 1). Never
prints; the CLI renders ``Diagnosis``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..adapters.client import API_VERSION, LightfieldClient, ProbeAnswer
from ..core.errors import ApiError, LfrError
from ..core.records import Definitions, ListPage, MalformedResponse, Record, from_json

Level = Literal["ok", "note", "fail", "skip"]

# Every value type lfr reads and writes (core/org.normalize_desired, core/value_types).
KNOWN_VALUE_TYPES = frozenset(
    {
        "TEXT",
        "MARKDOWN",
        "HTML",
        "NUMBER",
        "CURRENCY",
        "CHECKBOX",
        "DATETIME",
        "EMAIL",
        "URL",
        "TELEPHONE",
        "SOCIAL_HANDLE",
        "SINGLE_SELECT",
        "MULTI_SELECT",
        "ADDRESS",
        "FULL_NAME",
    }
)
# What plan needs (reads) and what apply needs besides (writes); empty scopes = full access.
READ_SCOPES = ("opportunities:read", "accounts:read", "contacts:read", "members:read")
WRITE_SCOPES = ("opportunities:create", "opportunities:update")
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
# An id of the right shape that no record has: the harmless 404 of the error-shape probe.
MISSING_ID = "opp_cmlfrdoctor00000"

# Tolerances the client applies whatever the probes find (docs/api-contract.md says why).
TOLERANCES = (
    "error bodies read enveloped {error: {...}} or at the top level {type, message, code, param}",
    "a 409 to a write is retried under the same Idempotency-Key, with or without code "
    "idempotency_conflict",
    "HAS_MANY links written as add, then remove (one verb per operation), or a one-id replace "
    "(valid under every reading of replace and of 'one of add, remove, or replace'); an "
    "id-array replace only with --array-replace, falling back to add/remove when refused",
    "reads accept unset fields and empty relationships as null or absent, and unknown members",
    "a record returned with a trash marker (trashed, status: trashed, deletedAt, ...) is "
    "treated as gone, never updated",
    "URLs compared by their canonical form (https:// when none, scheme and host in any case, "
    "no trailing /), TEXT without surrounding whitespace; other rewrites reported by apply",
    "Retry-After / retry-after-ms honoured; without rate-limit headers the client paces itself "
    "at 25 requests/s per category",
)


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    message: str


@dataclass
class Diagnosis:
    findings: list[Finding] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    tolerances: tuple[str, ...] = TOLERANCES

    @property
    def failed(self) -> bool:
        return any(f.level == "fail" for f in self.findings)

    def add(self, level: Level, topic: str, message: str) -> None:
        self.findings.append(Finding(level, topic, message))


async def diagnose(client: LightfieldClient) -> Diagnosis:
    """Every probe, in order; a probe that cannot run is a finding, never an exception (an
    authentication failure stops the rest: nothing else can be read)."""
    result = Diagnosis()
    if not await _key(client, result):
        return result
    await _definitions(client, result)
    first = await _paging(client, result)
    await _filters(client, result, first)
    await _error_shape(client, result)
    result.add(
        "skip",
        "index lag",
        "not measured: only a write shows how long the list index lags (lfr confirms every "
        "match on a fresh read, and a create's idempotency key survives new commits, so a "
        "lagging list cannot make a duplicate)",
    )
    return result


async def _key(client: LightfieldClient, result: Diagnosis) -> bool:
    answer = await _probe(client, result, "key", "/v1/auth/validate")
    if answer is None:
        return False
    if answer.error is not None:
        result.add("fail", "key", f"GET /v1/auth/validate answered {_describe(answer.error)}")
        return False
    usable = _scopes(answer, result)
    _headers(answer, result)
    return usable


def _scopes(answer: ProbeAnswer, result: Diagnosis) -> bool:
    scopes = answer.body.get("scopes") if isinstance(answer.body, dict) else None
    if not isinstance(answer.body, dict) or answer.body.get("active") is not True:
        result.add("fail", "key", "the key is not active: create a new key in Lightfield")
        return False
    if not scopes:
        result.add("ok", "key", "active; scopes: full access")
        return True
    granted = {s for s in scopes if isinstance(s, str)}
    missing_reads = [s for s in READ_SCOPES if s not in granted]
    missing_writes = [s for s in WRITE_SCOPES if s not in granted]
    if missing_reads:
        result.add("fail", "key", f"plan needs {', '.join(missing_reads)}; the key lacks it")
    elif missing_writes:
        result.add(
            "note",
            "key",
            f"read-only for lfr: plan and drift work; apply needs {', '.join(missing_writes)}",
        )
    else:
        result.add("ok", "key", "active; scopes cover plan and apply")
    return not missing_reads


def _headers(answer: ProbeAnswer, result: Diagnosis) -> None:
    present = [h for h in RATE_HEADERS if h in answer.headers]
    if len(present) == len(RATE_HEADERS):
        limit = answer.headers["x-ratelimit-limit"]
        result.add("ok", "rate limits", f"X-RateLimit-Limit/-Remaining/-Reset sent (limit {limit})")
        result.variants.append("rate-limit headers on every answer")
    else:
        result.add(
            "note",
            "rate limits",
            "no X-RateLimit-* headers: the client paces itself (25 requests/s per category) "
            "and waits out 429s by Retry-After",
        )
        result.variants.append("no rate-limit headers")
    echoed = answer.headers.get("lightfield-version")
    if echoed is not None and echoed != API_VERSION:
        result.add(
            "note",
            "version",
            f"lfr sends Lightfield-Version {API_VERSION}; the server says {echoed}",
        )
    else:
        result.add("ok", "version", f"Lightfield-Version {API_VERSION} accepted")


async def _definitions(client: LightfieldClient, result: Diagnosis) -> None:
    for object_type in ("opportunities", "accounts", "contacts"):
        answer = await _probe(client, result, "definitions", f"/v1/{object_type}/definitions")
        if answer is None:
            continue
        if answer.error is not None:
            level: Level = "fail" if object_type == "opportunities" else "note"
            result.add(level, "definitions", f"{object_type}: {_describe(answer.error)}")
            continue
        try:
            definitions = from_json(Definitions, _bytes(answer.body))
        except MalformedResponse as exc:
            result.add(
                "fail", "definitions", f"{object_type}: not definitions lfr can read ({exc})"
            )
            continue
        if object_type != "opportunities":
            continue
        fields = definitions.field_definitions
        unknown = sorted(
            (key, d.value_type)
            for key, d in fields.items()
            if d.value_type not in KNOWN_VALUE_TYPES
        )
        summary = (
            f"opportunities: {len(fields)} fields, "
            f"{len(definitions.relationship_definitions)} relationships"
        )
        if unknown:
            listed = ", ".join(f"{key} ({kind})" for key, kind in unknown)
            result.add(
                "note",
                "definitions",
                f"{summary}; value types lfr does not know (a manifest cannot set them): {listed}",
            )
        else:
            result.add("ok", "definitions", f"{summary}; every value type is one lfr reads")
        required = [key for key, d in fields.items() if d.required]
        if required:
            result.add(
                "note",
                "definitions",
                f"required on create: {', '.join(required)} (plan refuses a create without them)",
            )
            result.variants.append(f"definitions mark {', '.join(required)} required on create")
        else:
            result.variants.append("definitions mark no field required")


async def _paging(client: LightfieldClient, result: Diagnosis) -> ListPage | None:
    pages: list[ListPage] = []
    for offset in (0, 2):
        params = [("limit", "2"), ("offset", str(offset))]
        answer = await _probe(client, result, "paging", "/v1/opportunities", params)
        if answer is None:
            return None
        if answer.error is not None:
            result.add("fail", "paging", f"GET /v1/opportunities: {_describe(answer.error)}")
            return None
        try:
            pages.append(from_json(ListPage, _bytes(answer.body)))
        except MalformedResponse as exc:
            result.add("fail", "paging", f"a list page lfr cannot read ({exc})")
            return None
    first, second = pages
    if len(first.data) > 2 or len(second.data) > 2:
        result.add("fail", "paging", "limit=2 answered more than 2 records: lfr pages by limit")
        return first
    overlap = {r.id for r in first.data} & {r.id for r in second.data}
    if overlap:
        result.add("fail", "paging", "offset=2 repeated records of offset=0: lfr pages by offset")
        return first
    total = (
        f"totalCount {first.total_count}"
        if first.total_count is not None
        else "no totalCount (lfr pages until a short page)"
    )
    result.add("ok", "paging", f"limit/offset pages; {total}")
    result.variants.append("list totalCount given" if first.total_count is not None else total)
    return first


async def _filters(client: LightfieldClient, result: Diagnosis, first: ListPage | None) -> None:
    sample: Record | None = first.data[0] if first is not None and first.data else None
    name = sample.value("$name") if sample is not None else None
    account = sample.related_ids("$account") if sample is not None else []
    probes: list[tuple[str, list[tuple[str, str]]]] = [
        ("$name[equal]", [("$name[equal]", name if isinstance(name, str) else "lfr doctor")]),
    ]
    if account:
        probes.append(("$account (relationship)", [("$account", account[0])]))
    answered: list[str] = []
    for label, filters in probes:
        params = [("limit", "25"), *filters]
        answer = await _probe(client, result, "filters", "/v1/opportunities", params)
        if answer is None:
            return
        if answer.error is not None:
            result.add(
                "fail",
                "filters",
                f"{label}: {_describe(answer.error)}; metadata.match uses this filter",
            )
            return
        try:
            page = from_json(ListPage, _bytes(answer.body))
        except MalformedResponse as exc:
            result.add("fail", "filters", f"{label}: a list page lfr cannot read ({exc})")
            return
        if sample is not None and sample.id not in {r.id for r in page.data}:
            # Not fatal: lfr confirms every match on a fresh read and re-lists without text
            # filters before it plans a create.
            result.add(
                "note",
                "filters",
                f"{label} did not return the record it was taken from (a lagging index, or a "
                "server that compares differently); lfr re-checks matches on fresh reads",
            )
            return
        answered.append(label)
    result.add("ok", "filters", f"answered: {', '.join(answered)}")


async def _error_shape(client: LightfieldClient, result: Diagnosis) -> None:
    answer = await _probe(client, result, "errors", f"/v1/opportunities/{MISSING_ID}")
    if answer is None:
        return
    if answer.status != 404 or answer.error is None:
        result.add(
            "fail",
            "errors",
            f"GET of an id no record has answered {answer.status}, not 404: lfr reads a "
            "missing record as 404",
        )
        return
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        shape = "enveloped {error: {type, message, ...}}"
    elif isinstance(body, dict) and "type" in body:
        shape = "un-enveloped {type, message, code, param}"
    else:
        result.add(
            "note",
            "errors",
            "a 404 without a JSON error body: lfr reports the status and an excerpt",
        )
        result.variants.append("error bodies not JSON")
        return
    result.add("ok", "errors", f"404 body {shape}; read as type {answer.error.type!r}")
    result.variants.append(f"error bodies {shape}")


async def _probe(
    client: LightfieldClient,
    result: Diagnosis,
    topic: str,
    path: str,
    params: list[tuple[str, str]] | None = None,
) -> ProbeAnswer | None:
    try:
        return await client.probe(path, params or ())
    except LfrError as exc:
        result.add("fail", topic, f"GET {path}: {exc}")
        return None


def _describe(error: ApiError) -> str:
    code = f" {error.code}" if error.code else ""
    return f"{error.status} {error.type}{code}: {error.message}".rstrip(": ")


def _bytes(body: Any) -> bytes:
    """A probed JSON body again as bytes, for the same models a normal call validates with."""
    return json.dumps(body).encode()
