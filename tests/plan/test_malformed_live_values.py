"""A live value of the wrong shape for its type (a malformed or hostile server answer: an
ADDRESS that is text, a MULTI_SELECT holding objects) is a value that differs from the
manifest: the plan shows it, renders it and, when it is green, sends only what the API accepts.
Never a traceback. Served by a tiny ASGI wrapper that rewrites one record's field in every
opportunity response of the real emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.core.errors import ApiError
from reconciler.core.org import OrgSchema
from reconciler.emulator import Emulator
from reconciler.render import markdown as markdown_render
from reconciler.render import text as text_render
from reconciler.runs.plan import run_plan
from tests.support.demo import ACME_RENEWAL, FULL_KEY, WriteManifest, opportunity

# A manifest value for a writable field of every value type of the demo org.
WANTED = {
    "$nextSteps": "Call Ada",
    "$amount": 12,
    "priority": 3,
    "strategic": True,
    "$closeDate": "2027-03-31",
    "billingEmails": ["ada@acme.com"],
    "legalEmail": "ada@acme.com",
    "phone": "+12025551234",
    "supportPhones": ["+12025551234"],
    "docsUrl": "https://acme.com",
    "competitorUrls": ["https://acme.com"],
    "twitter": "https://x.com/jack",
    "region": "North America",
    "products": ["Platform"],
    "shippingAddress": {"city": "Oslo"},
    "signatory": {"firstName": "Ada"},
}
SHAPES: list[Any] = [
    "Oslo", "", ["Oslo"], [1, "a"], [[1]], [{"a": 1}], {"city": 1}, {"a": [1]}, {}, 7, 1.5,
    True, False, None,
]  # fmt: skip


def _malformed(app: Any, key: str, value: Any) -> Any:
    """``app`` answering every opportunity read with ``value`` as ``key`` of ACME_RENEWAL."""

    def rewrite(record: Any) -> None:
        if isinstance(record, dict) and record.get("id") == ACME_RENEWAL:
            record.setdefault("fields", {}).setdefault(key, {})["value"] = value

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if scope["path"].startswith("/v1/opportunities") and start["status"] == 200:
                data = json.loads(body)
                for record in [data, *(data.get("data") or [])]:
                    rewrite(record)
                body = json.dumps(data).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, capture)

    return wrapped


@pytest.mark.anyio
async def test_a_live_value_of_the_wrong_shape_is_a_change_never_a_traceback(
    emu: Emulator, client: LightfieldClient, schema: OrgSchema, write: WriteManifest,
    manifest_dir: Path,
) -> None:  # fmt: skip
    cases = sent = 0
    types: set[str] = set()
    for key, want in WANTED.items():
        types.add(schema.definitions.field_definitions[key].value_type)
        spec = f"fields:\n  {key}: {json.dumps(want)}"
        write("case.yaml", opportunity("case", ACME_RENEWAL, spec))
        for shape in SHAPES:
            cases += 1
            app = _malformed(emu.app, key, shape)
            async with LightfieldClient.for_asgi_app(app, FULL_KEY, rates=None) as hostile:
                outcome = await run_plan(hostile, manifest_dir, target="t")
            assert outcome.plan is not None, (key, shape, outcome.problems)
            text_render.render_plan(outcome.plan, color=False)
            markdown_render.render_plan(outcome.plan)
            for change in outcome.plan.records:
                for request in change.requests:
                    sent += 1
                    try:  # the real API takes what lfr would send
                        await client.update("opportunities", ACME_RENEWAL, request.body,
                                            idempotency_key=None)  # fmt: skip
                    except ApiError as exc:
                        pytest.fail(f"{key}={shape!r}: sent {request.body} → {exc}")
    print(f"malformed live values: {cases} cases, {sent} writes accepted")
    assert len(types) == 13  # every writable value type of the demo org
    assert cases == len(WANTED) * len(SHAPES)
