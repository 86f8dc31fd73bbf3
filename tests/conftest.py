"""Fixtures shared by every test directory: the anyio backend, a manifests/ directory, and a
demo emulator, in-process with a client on it or served over loopback (directories override
these where they need a different emulator or client)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.core.org import OrgSchema
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.demo import FULL_KEY, WriteManifest
from tests.support.emulator import demo_emulator


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def manifest_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty manifests/ directory; the cwd is its parent so problems read manifests/x.yaml."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "manifests"
    directory.mkdir()
    return directory


@pytest.fixture
def write(manifest_dir: Path) -> WriteManifest:
    def write_manifest(name: str, text: str) -> Path:
        path = manifest_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write_manifest


@pytest.fixture
def emu() -> Emulator:
    """The demo org, rate limits off (tests that want them turn them on)."""
    return demo_emulator(rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
def server(emu: Emulator) -> Iterator[str]:
    """``emu`` served over loopback HTTP (uvicorn), for CLI and subprocess tests."""
    with running_server(emu, host="127.0.0.1", port=0) as base_url:
        yield base_url


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[LightfieldClient]:
    async with LightfieldClient.for_asgi_app(
        emu.app, FULL_KEY, base_url="http://emulator", rates=None
    ) as c:
        yield c


@pytest.fixture
async def schema(client: LightfieldClient) -> OrgSchema:
    return OrgSchema(await client.definitions("opportunities"))
