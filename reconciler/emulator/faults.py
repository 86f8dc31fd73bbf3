"""Fault injection for the emulator: the test bench for reliability and benchmarks
(architecture.md §7).

Owns the fault configuration (``FaultConfig``: global latency, list lag, an ordered list of
``FaultRule``) and the run-time state that decides which request a rule hits (``Faults``).
app.py asks ``Faults.before`` once a request is authenticated and rate-limited (an injected
response short-circuits it, or, for the ``commit_then_*`` / body-damaging actions, replaces the
response once the operation has committed), reads ``latency_ms`` / ``list_lag_seconds`` from
``Faults.config``, and ``PUT /_emulator/faults`` replaces the config via ``configure``.

Rule matching: ``method`` compares case-insensitively; ``path`` is a regular expression that
must match the *whole* request path (``re.fullmatch``, no query string), so ``/v1/opportunities``
means the collection only and ``/v1/opportunities/.*`` every sub-path. Rules are tried in order
and the first one that fires wins. For each rule a request passes by, the rule counts it: the
first ``skip`` matching requests go through untouched, then the rule fires ``times`` times (or
forever with ``times=None``), each time only with chance ``probability``, drawn from a
``random.Random(seed)`` so storms are reproducible. ``configure`` resets every counter.
``FaultConfig.from_file`` reads ``.json`` as JSON and anything else as YAML (safe loader only).

A 429 storm of three is just a rule::

    {"action": "status", "status": 429, "retry_after": 1, "times": 3}
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

Action = Literal[
    "status",  # answer ``status`` (429 / 500 / 503 ...) without running the operation
    "commit_then_status",  # run and commit the operation, then answer ``status``
    "commit_then_drop",  # run and commit, then break the connection mid-response
    "drop",  # break the connection without running the operation
    "malformed_body",  # run and commit, answer 200 with a body that is not JSON
    "truncate_body",  # run and commit, answer with a cut-off body
    "redirect",  # answer 307 to ``location`` without running the operation
]

ACTIONS: tuple[str, ...] = get_args(Action)
# Actions that let the operation run and commit before the response is damaged or replaced.
COMMITTING_ACTIONS = frozenset(
    {"commit_then_status", "commit_then_drop", "malformed_body", "truncate_body"}
)
REDIRECT_STATUS = 307


@dataclass
class FaultRule:
    action: Action
    method: str | None = None  # e.g. "POST"; None matches any
    path: str | None = None  # regex matched (fullmatch) against the path; None matches any
    status: int = 500
    retry_after: float | None = None  # seconds, for 429/503
    should_retry: bool | None = None  # sets ``x-should-retry``
    location: str | None = None  # for "redirect"
    skip: int = 0  # let this many matching requests through first
    times: int | None = 1  # fire this many times; None = every matching request
    probability: float = 1.0  # chance that an eligible request is hit (storms)

    def __post_init__(self) -> None:
        _check_rule(self)
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():  # upper-cased on init
            return False
        # ``re`` caches compiled patterns, and reading ``self.path`` here keeps edits live.
        return self.path is None or re.fullmatch(self.path, path) is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "rule") -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(known)}"
            )
        if "action" not in data:
            raise ValueError(f"{where}: 'action' is required (one of {', '.join(ACTIONS)})")
        values = dict(data)
        if values["action"] == "redirect":
            values.setdefault("status", REDIRECT_STATUS)
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check_rule(rule: FaultRule) -> None:
    if rule.action not in ACTIONS:
        raise ValueError(f"unknown action {rule.action!r}; expected one of {', '.join(ACTIONS)}")
    if rule.method is not None and (not isinstance(rule.method, str) or not rule.method.isalpha()):
        raise ValueError(f"'method' must be an HTTP method name like 'POST', got {rule.method!r}")
    if rule.path is not None:
        if not isinstance(rule.path, str):
            raise ValueError(f"'path' must be a regular expression string, got {rule.path!r}")
        try:
            re.compile(rule.path)
        except re.error as exc:
            raise ValueError(
                f"'path' is not a valid regular expression ({exc}): {rule.path!r}"
            ) from None
    if not _is_int(rule.status) or not 100 <= rule.status <= 599:
        raise ValueError(f"'status' must be an HTTP status code 100-599, got {rule.status!r}")
    if rule.retry_after is not None and not (
        _is_number(rule.retry_after) and rule.retry_after >= 0
    ):
        raise ValueError(
            f"'retry_after' must be a number of seconds >= 0, got {rule.retry_after!r}"
        )
    if rule.should_retry is not None and not isinstance(rule.should_retry, bool):
        raise ValueError(f"'should_retry' must be true or false, got {rule.should_retry!r}")
    if rule.action == "redirect":
        if not isinstance(rule.location, str) or not rule.location:
            raise ValueError("a 'redirect' rule needs a 'location'")
        if not 300 <= rule.status <= 399:
            raise ValueError(f"a 'redirect' rule needs a 3xx 'status', got {rule.status!r}")
    elif rule.location is not None:
        raise ValueError(f"'location' only applies to 'redirect', not {rule.action!r}")
    if not _is_int(rule.skip) or rule.skip < 0:
        raise ValueError(f"'skip' must be an integer >= 0, got {rule.skip!r}")
    if rule.times is not None and (not _is_int(rule.times) or rule.times < 0):
        raise ValueError(f"'times' must be an integer >= 0 or null (always), got {rule.times!r}")
    if not _is_number(rule.probability) or not 0 <= rule.probability <= 1:
        raise ValueError(f"'probability' must be between 0 and 1, got {rule.probability!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    list_lag_seconds: float = 0.0  # lists are served from a snapshot this old
    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None  # seeds the draws of ``probability`` rules; None = unpredictable

    def __post_init__(self) -> None:
        for name in ("latency_ms", "list_lag_seconds"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name!r} must be a number >= 0, got {value!r}")
        if not isinstance(self.rules, list):
            raise ValueError(f"'rules' must be a list, got {type(self.rules).__name__}")
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"'seed' must be an integer or null, got {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build and validate a config; rules may be dicts or ``FaultRule`` objects.

        Raises ``ValueError`` naming the offending key or rule (``rules[2]: ...``).
        """
        if not isinstance(data, dict):
            raise ValueError(f"fault config must be a mapping, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        # ``counters`` is the read-only part of ``Faults.to_dict``: accepted so that what
        # ``GET /_emulator/faults`` shows can be sent back with ``PUT``.
        unknown = sorted(set(data) - {*known, "counters"})
        if unknown:
            raise ValueError(
                f"unknown fault config key(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(known)}"
            )
        raw_rules = data.get("rules", [])
        if raw_rules is None:
            raw_rules = []
        if not isinstance(raw_rules, list):
            raise ValueError(f"'rules' must be a list, got {type(raw_rules).__name__}")
        rules = [
            rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule, where=f"rules[{i}]")
            for i, rule in enumerate(raw_rules)
        ]
        return cls(
            latency_ms=data.get("latency_ms", 0.0),
            list_lag_seconds=data.get("list_lag_seconds", 0.0),
            rules=rules,
            seed=data.get("seed"),
        )

    @classmethod
    def from_file(cls, path: str) -> FaultConfig:
        """JSON or YAML spec (the same shape as ``from_dict``)."""
        file = Path(path)
        text = file.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if file.suffix.lower() == ".json" else _load_yaml(text)
        except ValueError as exc:  # json.JSONDecodeError and ruamel's errors below
            raise ValueError(f"{path}: not a valid fault spec: {exc}") from None
        try:
            return cls.from_dict(data if data is not None else {})
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``from_dict(to_dict())`` gives an equal config."""
        return {
            "latency_ms": self.latency_ms,
            "list_lag_seconds": self.list_lag_seconds,
            "rules": [rule.to_dict() for rule in self.rules],
            "seed": self.seed,
        }


def _load_yaml(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ValueError(str(exc)) from None


@dataclass
class _Counter:
    seen: int = 0  # matching requests this rule looked at
    fired: int = 0  # of which it hit


class Faults:
    """Mutable at run time: tests and ``PUT /_emulator/faults`` replace the config."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._counters: list[_Counter] = []
        self._random = random.Random()
        self.configure(config if config is not None else FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the config and reset every rule's counters and the random draws."""
        with self._lock:
            self._config = config
            self._counters = [_Counter() for _ in config.rules]
            self._random = random.Random(config.seed)

    def before(self, method: str, path: str) -> FaultRule | None:
        """The rule to apply to this request, if any (counts it as fired)."""
        path = path.split("?", 1)[0]
        with self._lock:
            for rule, counter in zip(self._config.rules, self._counters, strict=True):
                if not rule.matches(method, path):
                    continue
                counter.seen += 1
                if counter.seen <= rule.skip:
                    continue
                if rule.times is not None and counter.fired >= rule.times:
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                counter.fired += 1
                return rule
        return None

    def counters(self) -> list[dict[str, int]]:
        """Per rule, in order: how many matching requests it saw and how many it hit."""
        with self._lock:
            return [{"seen": c.seen, "fired": c.fired} for c in self._counters]

    def to_dict(self) -> dict[str, Any]:
        """The config plus the counters, for ``GET /_emulator/faults``."""
        return {**self._config.to_dict(), "counters": self.counters()}
