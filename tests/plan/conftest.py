"""Fixtures of the plan tests: a demo emulator in-process and a client on it.

The demo seed's ids are deterministic, so tests name records by id (``DEMO`` below) and by the
emails and names the seed documents.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from reconciler.client import LightfieldClient
from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.schema import OrgSchema

FULL_KEY = "sk_lf_demo_full"
# Demo records the tests rely on (see reconciler/emulator/seed.py).
ACME_RENEWAL = "opp_cmr3idcbxmiev5v"  # $amount 120000, $stage Proposal (Sales), $contact [alex]
INITECH = "opp_cm2imngqfhyz8fv"
ALEX = "con_cm0bffyv0gam2nv"
NINA = "con_cmsel1g7rwmrfyv"
SAM = "con_cm2ubefpt7wdfxt"
JANE = "mem_cmc1u2x5v2x4ljb"
PRIYA = "mem_cmbc9vx9tsac0mp"
ACME_COM = "acc_cmt2omrddfwb9ej"
INITECH_ACCOUNT = "acc_cm1x15pik34mdzo"

WriteManifest = Callable[[str, str], Path]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[LightfieldClient]:
    transport = httpx.ASGITransport(app=emu.app)
    async with LightfieldClient(
        FULL_KEY, base_url="http://emulator", transport=transport, rates=None
    ) as c:
        yield c


@pytest.fixture
async def schema(client: LightfieldClient) -> OrgSchema:
    return OrgSchema(await client.definitions("opportunities"))


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


def opportunity(name: str, record_id: str, spec: str) -> str:
    """A manifest document for an id-addressed opportunity; ``spec`` is YAML under spec:."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (
        f"apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: {name}\n"
        f"  id: {record_id}\nspec:\n{body}\n"
    )
