"""Construction rules that protect the key: TLS outside loopback, no credentials in URLs, and a
key that never shows in reprs."""

from __future__ import annotations

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy

KEY = "sk_lf_0_constructionsecret"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.lightfield.app",
        "http://10.0.0.5:8080",
        "http://localhost.evil.example",
        "http://128.0.0.1",
    ],
)
def test_plain_http_is_refused_for_non_loopback_hosts(base_url: str) -> None:
    with pytest.raises(ValueError, match="http") as caught:
        LightfieldClient(KEY, base_url=base_url)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8321", "http://127.8.9.10", "http://[::1]:9000", "http://localhost:1234"],
)
@pytest.mark.anyio
async def test_plain_http_is_allowed_on_loopback(base_url: str) -> None:
    async with LightfieldClient(KEY, base_url=base_url) as client:
        assert client.base_url == base_url


@pytest.mark.anyio
async def test_plain_http_is_allowed_with_an_injected_transport() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    # The same URL without a transport is refused (see below): the in-process exception is
    # what lets the local workspace and tests use plain http.
    async with LightfieldClient(
        KEY, base_url="http://emulator.test", transport=transport
    ) as client:
        assert client.base_url == "http://emulator.test"
    with pytest.raises(ValueError, match="http"):
        LightfieldClient(KEY, base_url="http://emulator.test")


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://api.lightfield.app",
        "api.lightfield.app",
        "https://user:pw@api.lightfield.app",
        "https://api.lightfield.app/?x=1",
    ],
)
def test_malformed_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        LightfieldClient(KEY, base_url=base_url)


@pytest.mark.parametrize("key", ["", "sk_lf_abc\r\nX-Evil: 1", "sk_lf abc", "sk_lf_é"])
def test_keys_that_could_break_the_header_are_refused_without_echo(key: str) -> None:
    with pytest.raises(ValueError, match="API key must be") as caught:
        LightfieldClient(key)
    if key:
        assert key not in str(caught.value)


@pytest.mark.anyio
async def test_repr_and_str_never_show_the_key() -> None:
    async with LightfieldClient(KEY) as client:
        for text in (repr(client), str(client), repr(vars(client))):
            assert KEY not in text
            assert "constructionsecret" not in text
        assert "sk_lf_…(redacted)" in repr(client)


def test_retry_policy_validates() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


@pytest.mark.anyio
async def test_ids_cannot_escape_their_path_segment() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "x"})

    async with LightfieldClient(
        KEY, base_url="http://emulator.test", transport=httpx.MockTransport(handler)
    ) as client:
        await client.retrieve("opportunities", "../accounts/acc_1?x=1")
        await client.retrieve("opportunities", "..")
        with pytest.raises(ValueError, match="must not be empty"):
            await client.retrieve("opportunities", "")
        with pytest.raises(ValueError, match="unknown object type"):
            await client.retrieve("widgets", "x")  # type: ignore[arg-type]
    assert seen[0].url.raw_path == b"/v1/opportunities/..%2Faccounts%2Facc_1%3Fx%3D1"
    assert seen[1].url.raw_path == b"/v1/opportunities/%2E%2E"
