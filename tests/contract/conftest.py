"""Fixtures of the contract suite: the emulator behind a real uvicorn server, spoken to by the SDK.

The contract tests prove that ``reconciler.emulator`` speaks the real Lightfield API by driving it
with the official ``lightfield`` SDK (0.20.0a2) in strict response-validation mode: a response the
SDK's pydantic models reject raises ``APIResponseValidationError`` and fails the test. Every test
talks HTTP over loopback to a uvicorn server started in a thread (``running_server``).

Two kinds of server:

- ``served`` (session scope): one demo-seeded emulator shared by the read-mostly tests. Tests that
  write to it create their own records (with unique names) so they never depend on each other.
  Its rate limiter is off, because the suite sends far more than 25 requests a second.
- ``serve`` / ``fresh`` (function scope): a private demo emulator per test (``serve(**options)``
  passes ``Emulator`` options such as a ``ManualClock``), for tests that configure faults or rate
  limits, or that count mutations and requests in the emulator's logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from lightfield import Lightfield
from lightfield.types import OpportunityDefinitionsResponse

from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server
from tests.support.demo import READ_KEY
from tests.support.sdk import Demo, Served


def _start(stack: ExitStack, **options: Any) -> Served:
    emulator = Emulator(db=":memory:", seed="demo", **options)
    stack.callback(emulator.close)
    base_url = stack.enter_context(running_server(emulator, host="127.0.0.1", port=0))
    return Served(emulator, base_url)


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    with ExitStack() as stack:
        yield _start(stack, rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start a private demo emulator with ``Emulator(**options)``; stopped after the test."""
    with ExitStack() as stack:
        yield lambda **options: _start(stack, **options)


@pytest.fixture
def fresh(serve: Callable[..., Served]) -> Served:
    return serve()


@pytest.fixture(scope="session")
def sdk(served: Served) -> Iterator[Lightfield]:
    with served.client() as sdk:
        yield sdk


@pytest.fixture(scope="session")
def read_sdk(served: Served) -> Iterator[Lightfield]:
    with served.client(READ_KEY) as sdk:
        yield sdk


@pytest.fixture(scope="session")
def definitions(sdk: Lightfield) -> OpportunityDefinitionsResponse:
    return sdk.opportunity.definitions()


@pytest.fixture(scope="session")
def demo(sdk: Lightfield) -> Demo:
    accounts = sdk.account.list(limit=25).data
    members = sdk.member.list(limit=25).data
    contacts = sdk.contact.list(limit=25).data
    assert len(accounts) >= 2, "the demo seed should hold at least two accounts"
    assert len(members) >= 2, "the demo seed should hold at least two members"
    assert len(contacts) >= 3, "the demo seed should hold at least three contacts"
    return Demo(
        account_ids=[a.id for a in accounts],
        member_ids=[m.id for m in members],
        contact_ids=[c.id for c in contacts],
    )
