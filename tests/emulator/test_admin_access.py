"""Who may read the logs and turn the fault knobs (/_emulator/*, admin.py): loopback clients
when no admin token is set, and only the admin token's bearer when one is; never an API key."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.admin import is_loopback, new_admin_token
from reconciler.emulator.server import running_server
from tests.support.demo import FULL_KEY, READ_KEY

from .conftest import error, headers

pytestmark = pytest.mark.anyio

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the exposure under test
ADMIN_CALLS = [
    ("GET", "/_emulator/requests"),
    ("GET", "/_emulator/mutations"),
    ("GET", "/_emulator/faults"),
    ("PUT", "/_emulator/faults"),
    ("POST", "/_emulator/clock/advance"),
    ("POST", "/_emulator/reset-logs"),
]


def _client(emu: Emulator, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=emu.app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://emulator")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
async def test_without_a_token_loopback_clients_keep_todays_access(host: str) -> None:
    emu = Emulator()
    async with _client(emu, host) as admin:
        assert (await admin.get("/_emulator/requests")).status_code == 200


@pytest.mark.parametrize("host", ["203.0.113.9", "10.0.0.2", "::ffff:10.0.0.2", "2001:db8::1"])
async def test_without_a_token_other_clients_are_refused(host: str) -> None:
    emu = Emulator()
    async with _client(emu, host) as remote:
        for method, path in ADMIN_CALLS:
            response = await remote.request(method, path, headers=headers())
            assert response.status_code == 401, (method, path)
            assert error(response)["type"] == "unauthorized"
        # the API itself still answers that client
        assert (await remote.get("/v1/auth/validate", headers=headers())).status_code == 200
    assert emu.faults.to_dict()["rules"] == []


async def test_with_a_token_only_its_bearer_gets_in_and_api_keys_never_do() -> None:
    token = new_admin_token()
    emu = Emulator(admin_token=token)
    async with _client(emu, "127.0.0.1") as local:
        for auth in [
            None,
            f"Bearer {FULL_KEY}",
            f"Bearer {READ_KEY}",
            token,
            f"Basic {token}",
            f"Bearer {token}x",
            f"Bearer {token[:-1]}",
        ]:
            extra = {} if auth is None else {"Authorization": auth}
            for method, path in ADMIN_CALLS:
                response = await local.request(method, path, headers=extra)
                assert response.status_code == 401, (auth, method, path)
                assert token not in response.text
        good = {"Authorization": f"Bearer {token}"}
        assert (await local.get("/_emulator/requests", headers=good)).status_code == 200
        # the admin token is no API key
        as_key = await local.get(
            "/v1/auth/validate", headers={**headers(), "Authorization": f"Bearer {token}"}
        )
        assert as_key.status_code == 401
    assert token not in str(emu.requests())


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert not is_loopback(ALL_INTERFACES)
    assert not is_loopback("::")
    assert not is_loopback("localhost")  # a name is judged by what it resolved to, not here
    assert not is_loopback("testclient")


def test_serving_beyond_loopback_needs_a_token_and_then_requires_it() -> None:
    with (
        pytest.raises(ValueError, match="admin token"),
        running_server(Emulator(), host=ALL_INTERFACES),
    ):
        pass
    token = new_admin_token()
    emu = Emulator(admin_token=token)
    with running_server(emu, host=ALL_INTERFACES) as base_url:
        local = base_url.replace(ALL_INTERFACES, "127.0.0.1")
        with httpx.Client(base_url=local) as http:
            assert http.get("/_emulator/requests").status_code == 401
            assert http.get("/_emulator/requests", headers=headers()).status_code == 401
            auth = {"Authorization": f"Bearer {token}"}
            assert http.get("/_emulator/requests", headers=auth).status_code == 200
            assert http.get("/v1/auth/validate", headers=headers()).status_code == 200
