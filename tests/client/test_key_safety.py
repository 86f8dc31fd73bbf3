"""The API key stays where it belongs: never sent to another host, never in reprs, exception
messages or log records (httpx / httpcore included, over a real loopback server too)."""

from __future__ import annotations

import logging
import random

import httpx
import pytest

from reconciler.client import LightfieldClient, RetryPolicy
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig, FaultRule
from reconciler.emulator.server import running_server
from reconciler.errors import LfrError, RetryBudgetExhausted, TransportError

from .conftest import ClientFactory
from .support import FULL_KEY, READ_KEY, RecordingTransport

LOGGERS = ("httpx", "httpcore", "reconciler.client", "reconciler")


def assert_key_free(text: str) -> None:
    for key in (FULL_KEY, READ_KEY):
        assert key not in text


def assert_exception_key_free(error: BaseException) -> None:
    seen: BaseException | None = error
    while seen is not None:  # the whole chain a traceback would print
        assert_key_free(str(seen))
        assert_key_free(repr(seen))
        if isinstance(seen, RetryBudgetExhausted):
            assert_key_free(repr(seen.last_error))
        seen = seen.__cause__ or seen.__context__


@pytest.mark.anyio
async def test_a_redirect_is_not_followed_and_names_the_host(
    client: LightfieldClient, emu: Emulator, wire: RecordingTransport, opp_id: str
) -> None:
    emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(
                    action="redirect", status=307, location="https://collector.evil.example/steal"
                )
            ]
        )
    )
    with pytest.raises(TransportError) as caught:
        await client.retrieve("opportunities", opp_id)
    assert "collector.evil.example" in str(caught.value)
    assert "not followed" in str(caught.value)
    assert [r.url.host for r in wire.requests] == ["emulator.test"]
    assert len(emu.requests()) == 1
    assert_exception_key_free(caught.value)


@pytest.mark.anyio
async def test_a_relative_redirect_is_refused_too(
    client: LightfieldClient, emu: Emulator, wire: RecordingTransport, opp_id: str
) -> None:
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="redirect", status=302, location="/v1/other")])
    )
    with pytest.raises(TransportError, match="redirect"):
        await client.update("opportunities", opp_id, {"fields": {}}, idempotency_key="k")
    assert len(wire.requests) == 1


@pytest.mark.anyio
async def test_no_key_in_exceptions_or_debug_logs_in_process(
    make_client: ClientFactory,
    emu: Emulator,
    opp_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    raised: list[LfrError] = []
    full = make_client(retry=RetryPolicy(max_attempts=2, rng=random.Random(3)))
    read = make_client(READ_KEY)
    emu.faults.configure(
        FaultConfig(
            rules=[
                FaultRule(action="status", status=503, path="/v1/opportunities/.*", times=None),
            ]
        )
    )
    for call in (
        lambda: full.retrieve("opportunities", opp_id),
        lambda: make_client("sk_lf_demo_wrong").validate_auth(),
    ):
        with pytest.raises(LfrError) as caught:
            await call()
        raised.append(caught.value)
    emu.faults.configure(FaultConfig(rules=[FaultRule(action="drop", times=None)]))
    with pytest.raises(LfrError) as caught:
        await full.validate_auth()
    raised.append(caught.value)
    emu.faults.configure(FaultConfig())
    with pytest.raises(LfrError) as caught:
        await read.update("opportunities", opp_id, {"fields": {}}, idempotency_key="k")
    raised.append(caught.value)
    with pytest.raises(LfrError) as caught:
        await full.update("opportunities", opp_id, {"fields": {"bogus": 1}}, idempotency_key="k")
    raised.append(caught.value)

    assert [type(e).__name__ for e in raised] == [
        "RetryBudgetExhausted",
        "Unauthorized",
        "RetryBudgetExhausted",
        "Forbidden",
        "BadRequest",
    ]
    for error in raised:
        assert_exception_key_free(error)
    assert any(r.name == "reconciler.client" for r in caplog.records)
    assert_key_free(caplog.text)
    for record in caplog.records:
        assert_key_free(record.getMessage())
        assert_key_free(repr(record.args))
    for client in (full, read):
        assert_key_free(repr(client))
        assert_key_free(str(client))
    assert all("sk_lf_" not in str(r) for r in emu.requests())


@pytest.mark.anyio
async def test_no_key_in_debug_logs_over_a_real_loopback_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    emu = Emulator(db=":memory:", seed="demo")
    emu.faults.configure(
        FaultConfig(rules=[FaultRule(action="status", status=503, retry_after=0.01, times=1)])
    )
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        async with LightfieldClient(FULL_KEY, base_url=base_url) as client:
            page = await client.list_page("opportunities", limit=2)
            record = await client.retrieve("opportunities", page.data[0].id)
            with pytest.raises(LfrError) as caught:
                await client.retrieve("opportunities", "opp_missing0000000")
    assert record.id == page.data[0].id
    assert client.stats.retries == 1
    assert_exception_key_free(caught.value)
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # the wire was logged
    assert_key_free(caplog.text)
    for log_record in caplog.records:
        assert_key_free(log_record.getMessage())
        assert_key_free(repr(log_record.args))
        assert_key_free(repr(log_record.__dict__))


@pytest.mark.anyio
async def test_the_key_travels_only_in_the_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"active": True, "scopes": []})

    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator.test", transport=httpx.MockTransport(handler)
    ) as client:
        await client.validate_auth()
    request = seen[0]
    assert_key_free(str(request.url))
    assert_key_free(repr(request))
    assert_key_free(repr(request.headers))  # httpx masks Authorization in reprs
    carrying = [name for name, value in request.headers.items() if FULL_KEY in value]
    assert carrying == ["authorization"]
