"""Fault injection for the emulator: the test bench for reliability and benchmarks (design §7).

INTERFACE STUB written by the lead; the emulator-infra helper fills in the bodies and may extend
the dataclasses (keep these names and methods). app.py asks ``Faults.before`` once a request is
authenticated and rate-limited (an injected response short-circuits it), and ``Faults.after``
once the operation has committed (it may replace or damage the real response).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal[
    "status",  # answer ``status`` (429 / 500 / 503 ...) without running the operation
    "commit_then_status",  # run and commit the operation, then answer ``status``
    "commit_then_drop",  # run and commit, then break the connection mid-response
    "drop",  # break the connection without running the operation
    "malformed_body",  # run and commit, answer 200 with a body that is not JSON
    "truncate_body",  # run and commit, answer with a cut-off body
    "redirect",  # answer 307 to ``location`` without running the operation
]


@dataclass
class FaultRule:
    action: Action
    method: str | None = None  # e.g. "POST"; None matches any
    path: str | None = None  # regex matched against the path; None matches any
    status: int = 500
    retry_after: float | None = None  # seconds, for 429/503
    should_retry: bool | None = None  # sets ``x-should-retry``
    location: str | None = None  # for "redirect"
    skip: int = 0  # let this many matching requests through first
    times: int | None = 1  # fire this many times; None = every matching request


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    list_lag_seconds: float = 0.0  # lists are served from a snapshot this old
    rules: list[FaultRule] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        raise NotImplementedError

    @classmethod
    def from_file(cls, path: str) -> FaultConfig:
        """JSON or YAML spec (the same shape as ``from_dict``)."""
        raise NotImplementedError


class Faults:
    """Mutable at run time: tests and ``PUT /_emulator/faults`` replace the config."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        raise NotImplementedError

    @property
    def config(self) -> FaultConfig:
        raise NotImplementedError

    def configure(self, config: FaultConfig) -> None:
        raise NotImplementedError

    def before(self, method: str, path: str) -> FaultRule | None:
        """The rule to apply to this request, if any (counts it as fired)."""
        raise NotImplementedError
