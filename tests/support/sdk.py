"""Helpers shared by the contract tests (imported by ``conftest.py`` and the test modules).

Owns the ``Served`` pair (emulator + loopback URL) with its SDK-client
factory, and small helpers that read the documented error envelope and create throw-away
records. Records and ids are always obtained through the API, as a real client would; only the
emulator's test knobs (faults, rate limits, logs) are used directly, by the tests that need them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lightfield import APIStatusError, AsyncLightfield, Lightfield
from lightfield.types import OpportunityCreateResponse

from reconciler.emulator import Emulator
from tests.support.demo import FULL_KEY


@dataclass(frozen=True)
class Served:
    """An emulator and the loopback URL of the uvicorn server in front of it."""

    emulator: Emulator
    base_url: str

    def client(self, api_key: str = FULL_KEY, **options: Any) -> Lightfield:
        """An official SDK client in strict mode that never retries unless told to."""
        options.setdefault("max_retries", 0)
        return Lightfield(
            api_key=api_key, base_url=self.base_url, _strict_response_validation=True, **options
        )

    def async_client(self, api_key: str = FULL_KEY, **options: Any) -> AsyncLightfield:
        options.setdefault("max_retries", 0)
        return AsyncLightfield(
            api_key=api_key, base_url=self.base_url, _strict_response_validation=True, **options
        )


@dataclass(frozen=True)
class Demo:
    """Ids of demo records the tests link to (read through the API, not from the seed code)."""

    account_ids: list[str]
    member_ids: list[str]
    contact_ids: list[str]


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def parse_timestamp(value: str | None) -> datetime:
    """An API timestamp: ISO 8601 UTC with milliseconds and a ``Z``, as every docs example."""
    assert value is not None, "timestamp missing"
    assert _TIMESTAMP.fullmatch(value), f"not an API timestamp: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def unique(prefix: str) -> str:
    """A record name no other test (or the seed) uses, so name filters match exactly one record."""
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def error_of(exc: APIStatusError) -> dict[str, Any]:
    """The ``error`` object of an API error body, checked against the documented envelope."""
    body = exc.body
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    error = body.get("error")
    assert isinstance(error, dict), f"error body lacks the 'error' envelope: {body!r}"
    assert isinstance(error.get("type"), str), f"error without a string 'type': {body!r}"
    assert isinstance(error.get("message"), str), f"error without a string 'message': {body!r}"
    assert error["message"], f"error with an empty message: {body!r}"
    return error


def linked(record: Any, key: str) -> list[str]:
    """The ids ``record`` links through ``key``; an absent block means none (lightfield-api.md
    §1.5)."""
    block = record.relationships.get(key)
    return [] if block is None else list(block.values)


def create_opportunity(
    client: Lightfield,
    account_id: str,
    *,
    name: str | None = None,
    fields: dict[str, Any] | None = None,
    relationships: dict[str, Any] | None = None,
    **options: Any,
) -> OpportunityCreateResponse:
    """Create an opportunity of the calling test's own on ``account_id``."""
    return client.opportunity.create(
        fields={"$name": name or unique("Contract opp"), **(fields or {})},
        relationships={"$account": account_id, **(relationships or {})},
        **options,
    )
