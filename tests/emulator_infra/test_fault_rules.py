"""Fault rules (architecture.md §7): matching, skip/times windows, seeded probability, config
files."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.faults import FaultConfig, FaultRule, Faults


def _fired(
    faults: Faults, n: int, method: str = "POST", path: str = "/v1/opportunities"
) -> list[bool]:
    return [faults.before(method, path) is not None for _ in range(n)]


def test_no_rules_no_faults() -> None:
    faults = Faults()
    assert faults.before("POST", "/v1/opportunities") is None
    assert faults.config == FaultConfig()


def test_a_429_burst_fires_times_then_stops() -> None:
    config = FaultConfig.from_dict(
        {"rules": [{"action": "status", "status": 429, "retry_after": 1, "times": 3}]}
    )
    faults = Faults(config)
    rule = faults.before("GET", "/v1/opportunities")
    assert rule is not None
    assert (rule.action, rule.status, rule.retry_after) == ("status", 429, 1)
    assert _fired(faults, 4) == [True, True, False, False]


def test_skip_lets_requests_through_first() -> None:
    faults = Faults(FaultConfig(rules=[FaultRule(action="drop", skip=2, times=2)]))
    assert _fired(faults, 6) == [False, False, True, True, False, False]
    assert faults.counters() == [{"seen": 6, "fired": 2}]


def test_times_none_fires_on_every_matching_request() -> None:
    faults = Faults(FaultConfig(rules=[FaultRule(action="status", status=503, times=None)]))
    assert all(_fired(faults, 50))


def test_times_zero_never_fires() -> None:
    faults = Faults(FaultConfig(rules=[FaultRule(action="status", times=0)]))
    assert not any(_fired(faults, 5))


def test_matching_by_method_and_full_path_regex() -> None:
    rule = FaultRule(action="status", method="post", path=r"/v1/opportunities/opp_\w+", times=None)
    faults = Faults(FaultConfig(rules=[rule]))
    assert faults.before("POST", "/v1/opportunities/opp_1") is rule
    assert faults.before("post", "/v1/opportunities/opp_1?x=1") is rule  # query is ignored
    assert faults.before("GET", "/v1/opportunities/opp_1") is None  # other method
    assert faults.before("POST", "/v1/opportunities") is None  # collection: no id
    assert faults.before("POST", "/v1/opportunities/opp_1/restore") is None  # fullmatch
    assert rule.method == "POST"


def test_first_firing_rule_wins_and_exhausted_rules_fall_through() -> None:
    first = FaultRule(action="status", status=500, times=1)
    second = FaultRule(action="status", status=503, times=1)
    third = FaultRule(action="drop", method="GET", times=None)
    faults = Faults(FaultConfig(rules=[first, second, third]))
    assert faults.before("POST", "/v1/x") is first
    assert faults.before("POST", "/v1/x") is second
    assert faults.before("POST", "/v1/x") is None
    assert faults.before("GET", "/v1/x") is third


def test_probability_is_reproducible_with_a_seed() -> None:
    spec = {"seed": 42, "rules": [{"action": "status", "probability": 0.3, "times": None}]}
    first = _fired(Faults(FaultConfig.from_dict(spec)), 1000)
    second = _fired(Faults(FaultConfig.from_dict(spec)), 1000)
    assert first == second
    assert 230 < sum(first) < 370  # about 30 %
    other_seed = _fired(Faults(FaultConfig.from_dict({**spec, "seed": 7})), 1000)
    assert other_seed != first


def test_probability_bounds() -> None:
    never = Faults(FaultConfig(rules=[FaultRule(action="status", probability=0.0, times=None)]))
    always = Faults(FaultConfig(rules=[FaultRule(action="status", probability=1.0, times=None)]))
    assert not any(_fired(never, 100))
    assert all(_fired(always, 100))


def test_configure_resets_counters_and_draws() -> None:
    config = FaultConfig(seed=1, rules=[FaultRule(action="status", probability=0.5, times=None)])
    faults = Faults(config)
    first = _fired(faults, 20)
    faults.configure(config)
    assert faults.counters() == [{"seen": 0, "fired": 0}]
    assert _fired(faults, 20) == first

    faults.configure(FaultConfig(rules=[FaultRule(action="status", times=1)]))
    assert _fired(faults, 2) == [True, False]
    faults.configure(faults.config)
    assert _fired(faults, 2) == [True, False]


def test_concurrent_requests_fire_exactly_times() -> None:
    faults = Faults(FaultConfig(rules=[FaultRule(action="status", times=100)]))
    hits: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        results = _fired(faults, 50)
        with lock:
            hits.extend(results)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hits.count(True) == 100


def test_redirect_defaults_to_307() -> None:
    config = FaultConfig.from_dict(
        {"rules": [{"action": "redirect", "location": "http://127.0.0.1:1/v1/x"}]}
    )
    assert config.rules[0].status == 307


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"latency": 5}, "unknown fault config key(s) 'latency'"),
        ({"latency_ms": -1}, "'latency_ms' must be a number >= 0"),
        ({"list_lag_seconds": "soon"}, "'list_lag_seconds' must be a number >= 0"),
        ({"seed": 1.5}, "'seed' must be an integer"),
        ({"rules": {"action": "drop"}}, "'rules' must be a list"),
        ({"rules": ["drop"]}, "rules[0]: expected a mapping"),
        ({"rules": [{"status": 500}]}, "rules[0]: 'action' is required"),
        ({"rules": [{"action": "explode"}]}, "rules[0]: unknown action 'explode'"),
        ({"rules": [{"action": "drop", "bogus": 1}]}, "rules[0]: unknown key(s) 'bogus'"),
        ({"rules": [{"action": "drop", "path": "("}]}, "'path' is not a valid regular expression"),
        ({"rules": [{"action": "status", "status": 99}]}, "'status' must be an HTTP status"),
        ({"rules": [{"action": "status", "status": True}]}, "'status' must be an HTTP status"),
        ({"rules": [{"action": "status", "retry_after": -1}]}, "'retry_after' must be"),
        ({"rules": [{"action": "status", "should_retry": "yes"}]}, "'should_retry' must be"),
        ({"rules": [{"action": "redirect"}]}, "a 'redirect' rule needs a 'location'"),
        (
            {"rules": [{"action": "redirect", "location": "/x", "status": 500}]},
            "a 'redirect' rule needs a 3xx",
        ),
        ({"rules": [{"action": "drop", "location": "/x"}]}, "'location' only applies"),
        ({"rules": [{"action": "drop", "skip": -1}]}, "'skip' must be an integer >= 0"),
        ({"rules": [{"action": "drop", "times": 1.5}]}, "'times' must be an integer"),
        ({"rules": [{"action": "drop", "probability": 2}]}, "'probability' must be between"),
        ({"rules": [{"action": "drop", "method": "GET /x"}]}, "'method' must be an HTTP method"),
        ({"rules": [{}, {"action": "drop", "times": -1}]}, "rules[0]: 'action' is required"),
    ],
)
def test_from_dict_rejects_bad_specs_with_a_clear_message(spec: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        FaultConfig.from_dict(spec)


def test_the_second_bad_rule_is_named_by_index() -> None:
    with pytest.raises(ValueError, match=r"rules\[1\]: 'times'"):
        FaultConfig.from_dict({"rules": [{"action": "drop"}, {"action": "drop", "times": -1}]})


FULL_SPEC: dict[str, Any] = {
    "latency_ms": 25,
    "list_lag_seconds": 2.5,
    "seed": 3,
    "rules": [
        {"action": "status", "status": 429, "retry_after": 1, "times": 3},
        {
            "action": "commit_then_drop",
            "method": "POST",
            "path": "/v1/opportunities/.*",
            "skip": 1,
            "times": None,
            "probability": 0.25,
        },
        {"action": "redirect", "location": "http://127.0.0.1:9/v1/accounts", "status": 308},
        {"action": "status", "status": 503, "should_retry": False},
    ],
}


def test_to_dict_round_trips() -> None:
    config = FaultConfig.from_dict(FULL_SPEC)
    assert FaultConfig.from_dict(config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    # what the admin GET shows (config + counters) can be PUT back as is
    faults = Faults(config)
    faults.before("GET", "/v1/opportunities")
    shown = faults.to_dict()
    assert shown["counters"][0] == {"seen": 1, "fired": 1}
    assert FaultConfig.from_dict(shown) == config


def test_from_file_json(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(FULL_SPEC), encoding="utf-8")
    config = FaultConfig.from_file(str(path))
    assert config == FaultConfig.from_dict(FULL_SPEC)
    assert config.rules[1].path == "/v1/opportunities/.*"
    assert config.rules[1].times is None


def test_from_file_yaml(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(
        """\
# a storm bench
latency_ms: 25
list_lag_seconds: 2.5
seed: 3
rules:
  - {action: status, status: 429, retry_after: 1, times: 3}
  - action: commit_then_drop
    method: POST
    path: /v1/opportunities/.*
    skip: 1
    times: null
    probability: 0.25
  - action: redirect
    location: http://127.0.0.1:9/v1/accounts
    status: 308
  - action: status
    status: 503
    should_retry: false
""",
        encoding="utf-8",
    )
    assert FaultConfig.from_file(str(path)) == FaultConfig.from_dict(FULL_SPEC)


def test_from_file_empty_yaml_is_no_faults(tmp_path: Path) -> None:
    path = tmp_path / "faults.yml"
    path.write_text("# nothing\n", encoding="utf-8")
    assert FaultConfig.from_file(str(path)) == FaultConfig()


def test_from_file_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("!!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"faults\.yaml: not a valid fault spec"):
        FaultConfig.from_file(str(path))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", "{not json", "bad.json: not a valid fault spec"),
        ("bad.yaml", "rules: [\n", "bad.yaml: not a valid fault spec"),
        ("list.yaml", "- action: drop\n", "list.yaml: fault config must be a mapping"),
        ("rule.json", '{"rules": [{"action": "nope"}]}', "rule.json: rules[0]: unknown action"),
    ],
)
def test_from_file_errors_name_the_file(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        FaultConfig.from_file(str(path))
