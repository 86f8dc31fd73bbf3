"""Where the key may go, through the CLI (issue 7): plain ``http://`` only for loopback, no
credentials or query in a base URL, never echoed; an unusable key or URL is a clean error (exit
1, no traceback, nothing sent) before the target line is even printed.

The client's own construction rules are unit-tested in tests/client/test_construction.py; these
tests hold the CLI to them end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli import app
from reconciler.emulator import Emulator
from reconciler.emulator.seed import DEMO_ORG

CANARY = "sk_lf_canary_target_4f1d2b7e9a"


def lfr(args: list[str], *, key: str = CANARY, base_url: str | None = None) -> Result:
    env = {"LIGHTFIELD_API_KEY": key, "LIGHTFIELD_BASE_URL": base_url, "CI": None}
    return CliRunner(env=env).invoke(app, args)


@pytest.mark.parametrize(
    ("base_url", "hidden"),
    [
        ("http://api.lightfield.app", None),
        ("http://10.0.0.5:8080", None),
        ("http://127.0.0.1.nip.io:8787", None),
        ("http://localhost.evil.example", None),
        ("https://admin:hunter2@api.lightfield.app", "hunter2"),
        ("ftp://admin:hunter2@api.lightfield.app", "hunter2"),
        ("https://api.lightfield.app/?token=sk_lf_other_secret", "sk_lf_other_secret"),
        ("https://api.lightfield.app/#sk_lf_other_secret", "sk_lf_other_secret"),
        ("api.lightfield.app", None),
    ],
)
@pytest.mark.parametrize("command", [["whoami"], ["plan", "manifests"], ["drift", "manifests"]])
def test_an_unsafe_base_url_is_a_clean_error_before_anything_is_sent(
    command: list[str], base_url: str, hidden: str | None, manifest_dir: Path
) -> None:
    result = lfr(command, base_url=base_url)
    assert result.exit_code == 1
    assert not isinstance(result.exception, ValueError), "a traceback, not a clean error"
    assert result.stderr.startswith("Error: "), result.output
    assert "base URL" in result.stderr or "http://" in result.stderr
    assert CANARY not in result.output
    if hidden is not None:
        assert hidden not in result.output


@pytest.mark.parametrize(
    "key", ["sk_lf_canary target", "sk_lf_canary\u00e9", "sk_lf_a\r\nX-Evil: 1"]
)
def test_an_unusable_key_is_a_clean_error_that_does_not_echo_it(key: str, server: str) -> None:
    result = lfr(["whoami"], key=key, base_url=server)
    assert result.exit_code == 1
    assert not isinstance(result.exception, ValueError), "a traceback, not a clean error"
    assert result.stderr.startswith("Error: ")
    assert key not in result.output and "canary" not in result.output


def test_a_key_pasted_with_a_trailing_newline_still_works(server: str, emu: Emulator) -> None:
    emu.add_key(DEMO_ORG, CANARY, [])
    result = lfr(["whoami"], key=CANARY + "\n", base_url=server)
    assert result.exit_code == 0, result.output
    assert "Key is active" in result.stdout
    assert CANARY not in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_works_on_loopback(host: str, server: str, emu: Emulator) -> None:
    emu.add_key(DEMO_ORG, CANARY, [])
    port = server.rsplit(":", 1)[1]
    result = lfr(["whoami"], base_url=f"http://{host}:{port}")
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
