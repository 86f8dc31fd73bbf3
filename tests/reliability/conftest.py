"""Fixtures of the reliability tests, and the ``--slow`` option.

Quick by default (the whole directory stays within seconds); ``pytest tests/reliability --slow``
runs every fault scenario under more seeds, kills apply at every write boundary of the 20-record
plan, and gives the stateful test more examples.

In-process scenarios share one ``ManualClock`` between the emulator and the client
(``tests.client.support.FakeClock``): backoff, ``Retry-After`` and rate limits run on simulated
time, so a 429 storm costs no real seconds. Scenarios that need a socket (a read timeout, a
redirect to another host, the CLI) use a real uvicorn emulator on loopback.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.adapters.client import LightfieldClient
from reconciler.adapters.retry import RetryPolicy
from reconciler.emulator import Emulator
from reconciler.emulator.clock import ManualClock
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.client import FakeClock
from tests.support.demo import FULL_KEY
from tests.support.emulator import demo_emulator

from .harness import write_manifests

QUICK_SEEDS = 2
SLOW_SEEDS = 10

ClientFactory = Callable[..., LightfieldClient]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="reliability: more seeds, every crash point, a longer stateful run",
    )


def is_slow(config: pytest.Config) -> bool:
    # getoption with a default: when this conftest is not an initial one (plain `pytest` from
    # the repository root), the option was registered after parsing and has no value.
    return bool(config.getoption("--slow", default=False))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only tests that name `seed` themselves run once per seed; fixtures that use it (the
    # client's jitter) get the default otherwise.
    if "seed" in inspect.signature(metafunc.function).parameters:
        count = SLOW_SEEDS if is_slow(metafunc.config) else QUICK_SEEDS
        metafunc.parametrize("seed", range(1, count + 1), ids=lambda s: f"seed{s}")


@pytest.fixture
def seed() -> int:
    return 1  # replaced by pytest_generate_tests wherever a test takes `seed`


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clock(manual_clock: ManualClock) -> FakeClock:
    return FakeClock(manual_clock)


@pytest.fixture
def emu(manual_clock: ManualClock) -> Emulator:
    """A demo emulator on simulated time, rate limiter off unless a test turns it on."""
    return demo_emulator(
        clock=manual_clock,
        rate_limits=RateLimitConfig(enabled=False),
    )


@pytest.fixture
async def make_client(emu: Emulator, clock: FakeClock, seed: int) -> AsyncIterator[ClientFactory]:
    """Clients on the in-process emulator, on simulated time, jitter seeded by ``seed``."""
    made: list[LightfieldClient] = []

    def factory(api_key: str = FULL_KEY, **overrides: Any) -> LightfieldClient:
        options: dict[str, Any] = {
            "base_url": "http://emulator",
            "transport": httpx.ASGITransport(app=emu.app),
            "clock": clock,
            "rates": None,
            "retry": RetryPolicy(rng=random.Random(seed)),
        }
        options.update(overrides)
        client = LightfieldClient(api_key, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> LightfieldClient:
    return make_client()


@pytest.fixture
def bench_dir(manifest_dir: Path) -> Path:
    """manifests/ holding the bench's six manifests (harness.MANIFESTS)."""
    write_manifests(manifest_dir)
    return manifest_dir


@pytest.fixture
def live_emu() -> Emulator:
    """A demo emulator on real time, for the scenarios served over a socket."""
    return demo_emulator(rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
def server(live_emu: Emulator) -> Iterator[str]:
    with running_server(live_emu, host="127.0.0.1", port=0) as base_url:
        yield base_url


OVERSIZE = Path(__file__).resolve().parents[1] / "data" / "bad" / "yaml-oversize.yaml"


@pytest.fixture(scope="session", autouse=True)
def oversize_manifest() -> Iterator[Path]:
    """The corpus's over-1-MiB file, made for the run rather than kept in git (it is only
    padding); .gitignore keeps it out of commits."""
    head = (
        "apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: big\n"
        "  id: opp_cmr3idcbxmiev5v\nspec:\n  fields:\n    $amount: 1\n"
    )
    padding = "# padding to push the file over the 1 MiB cap\n" * 23_000
    OVERSIZE.write_text(head + padding, encoding="utf-8")
    yield OVERSIZE
    OVERSIZE.unlink(missing_ok=True)
