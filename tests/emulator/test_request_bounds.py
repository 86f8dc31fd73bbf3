"""Hostile request bodies (body.py): size, streaming, malformed JSON; every refusal is the error
envelope, never a bare 500 or a trace, and nothing past the limit is read."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from reconciler.emulator import Emulator
from reconciler.emulator.body import MAX_BODY_BYTES, MAX_JSON_DEPTH, read_body
from reconciler.emulator.errors import ApiError

from .conftest import acc, client_for, error, opp

pytestmark = pytest.mark.anyio

OPP = opp("acme-expansion")
CHUNK = 64 * 1024
HUGE = 200 * 1024 * 1024
JSON = {"Content-Type": "application/json"}


def _refused_as_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert error(response) == {
        "type": "content_too_large",
        "message": f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        "code": "body_too_large",
    }
    assert response.headers["connection"] == "close"  # the unread rest cannot be skipped


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(HUGE // CHUNK):
            pulled += 1
            yield b" " * CHUNK

    response = await api.post(
        f"/v1/opportunities/{OPP}", content=body(), headers={**JSON, "Content-Length": str(HUGE)}
    )
    _refused_as_too_large(response)
    # httpx hands the app the first chunk with the request; the app asks for no more.
    assert pulled <= 1
    logged = emu.requests()[-1]
    assert (logged["status"], logged["body"]) == (413, None)


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:  # no length: sent chunked
        nonlocal pulled
        for _ in range(HUGE // CHUNK):
            pulled += 1
            yield b'"' + b"a" * (CHUNK - 2) + b'"'

    response = await api.post(f"/v1/opportunities/{OPP}", content=body(), headers=JSON)
    _refused_as_too_large(response)
    assert pulled <= MAX_BODY_BYTES // CHUNK + 2  # 18 of the 3200 chunks
    print(f"streamed 200 MB body: refused after {pulled} of {HUGE // CHUNK} chunks of 64 KiB")
    assert emu.mutations() == []


async def test_a_body_of_exactly_the_limit_is_accepted(api: httpx.AsyncClient) -> None:
    head = b'{"fields":{"$nextSteps":"'
    tail = b'"}}'
    raw = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(raw) == MAX_BODY_BYTES
    response = await api.post(f"/v1/opportunities/{OPP}", content=raw, headers=JSON)
    assert response.status_code == 200, response.text[:200]
    assert len(response.json()["fields"]["$nextSteps"]["value"]) > MAX_BODY_BYTES - 100


async def test_a_non_numeric_content_length_is_a_bad_request(emu: Emulator) -> None:
    # uvicorn's h11 refuses this itself; in-process the app is the only guard.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator"
    ) as raw:
        response = await raw.post(
            f"/v1/opportunities/{OPP}",
            content=b"{}",
            headers={
                "Authorization": "Bearer sk_lf_demo_full",
                "Lightfield-Version": "2026-03-01",
                "Content-Type": "application/json",
                "Content-Length": "12abc",
            },
        )
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request"


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


DEPTHS = [MAX_JSON_DEPTH + 1, 100, 1_000, 2_000, 10_000, 100_000, 500_000]

MALFORMED: dict[str, bytes] = {
    **{f"array nested {d}": _nested(d, "array") for d in DEPTHS},
    **{f"object nested {d}": _nested(d, "object") for d in DEPTHS if d <= 100_000},
    "fields nested 1000": b'{"fields":{"priority":' + _nested(1000, "array") + b"}}",
    "invalid UTF-8": b'{"fields":{"$name":"\xff\xfe"}}',
    "overlong UTF-8": b'{"fields":{"$name":"\xc0\xaf"}}',
    "UTF-16": '{"fields":{"$name":"x"}}'.encode("utf-16"),
    "UTF-8 BOM": b'\xef\xbb\xbf{"fields":{}}',
    "unpaired surrogate value": b'{"fields":{"$nextSteps":"\\ud800"}}',
    "unpaired surrogate key": b'{"fields":{"\\udc00":"x"}}',
    "5000-digit integer": b'{"fields":{"priority":' + b"9" * 5000 + b"}}",
    "NaN": b'{"fields":{"priority":NaN}}',
    "Infinity": b'{"fields":{"priority":Infinity}}',
    "-Infinity": b'{"fields":{"priority":-Infinity}}',
    "1e999": b'{"fields":{"priority":1e999}}',
    "-1e400": b'{"fields":{"priority":-1e400}}',
    "truncated": b'{"fields":{"priority":',
    "trailing garbage": b'{"fields":{}} {}',
    "NUL byte": b'{"fields":{}}\x00',
    "single quotes": b"{'fields':{}}",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_bodies_answer_invalid_json_never_a_500(
    emu: Emulator, api: httpx.AsyncClient, raw: bytes
) -> None:
    assert len(raw) <= MAX_BODY_BYTES
    response = await api.post(f"/v1/opportunities/{OPP}", content=raw, headers=JSON)
    assert response.status_code == 400, response.text[:300]
    assert error(response)["code"] == "invalid_json"
    assert "Traceback" not in response.text
    assert emu.requests()[-1]["status"] == 400
    assert emu.mutations() == []


async def test_nesting_up_to_the_limit_reaches_the_value_rules(api: httpx.AsyncClient) -> None:
    deep = b'{"fields":{"priority":' + _nested(MAX_JSON_DEPTH - 2, "array") + b"}}"
    response = await api.post(f"/v1/opportunities/{OPP}", content=deep, headers=JSON)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_type"  # parsed; the NUMBER rule refused it


async def test_an_unpaired_surrogate_never_reaches_the_store(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    body = (
        b'{"fields":{"$name":"x\\udfff"},"relationships":{"$account":"'
        + acc("globex").encode()
        + b'"}}'
    )
    response = await api.post("/v1/opportunities", content=body, headers=JSON)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_json"


async def test_admin_bodies_have_the_same_bounds(api: httpx.AsyncClient) -> None:
    deep = await api.put("/_emulator/faults", content=_nested(5_000, "array"), headers=JSON)
    assert deep.status_code == 400
    assert error(deep)["code"] == "invalid_json"
    huge = await api.put("/_emulator/faults", content=b" " * (MAX_BODY_BYTES + 1), headers=JSON)
    assert huge.status_code == 413
    since = await api.get("/_emulator/requests", params={"since": "abc"})
    assert since.status_code == 400
    assert error(since)["param"] == "since"


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "FOO"])
async def test_any_method_gets_the_envelope(api: httpx.AsyncClient, method: str) -> None:
    response = await api.request(method, "/v1/opportunities")
    assert response.status_code == 404
    assert error(response)["type"] == "not_found"


def _request(messages: list[dict[str, Any]], never_ends: bool) -> Request:
    """A real Starlette request whose body arrives as ``messages``, then (``never_ends``) stalls
    the way a client dripping its body would."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if never_ends:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    return Request(scope, receive)


async def test_a_body_that_stops_arriving_times_out() -> None:
    request = _request([{"type": "http.request", "body": b"{", "more_body": True}], True)
    with pytest.raises(ApiError) as refused:
        await read_body(request, within=0.2)
    assert (refused.value.status, refused.value.code) == (408, "request_timeout")


async def test_a_client_gone_mid_body_is_a_bad_request() -> None:
    request = _request([{"type": "http.request", "body": b"{", "more_body": True}], False)
    with pytest.raises(ApiError) as refused:
        await read_body(request)
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")


async def test_an_unexpected_failure_answers_the_envelope_without_a_trace(
    tmp_path: Path,
) -> None:
    db = tmp_path / "emulator.sqlite"
    emu = Emulator(db=str(db))
    with sqlite3.connect(db) as other:  # a damaged file, as an outside writer could leave it
        other.execute("UPDATE field_history SET value = '{not json' WHERE record_id = ?", (OPP,))
    async with client_for(emu) as api:
        response = await api.get(f"/v1/opportunities/{OPP}/fields/$stage/history")
    assert response.status_code == 500
    assert error(response) == {
        "type": "internal_server_error",
        "message": "The emulator failed on this request.",
    }
    assert "Traceback" not in response.text
    assert emu.requests()[-1]["status"] == 500
    emu.close()
