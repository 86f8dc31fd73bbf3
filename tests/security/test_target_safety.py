"""Where the key may go, through the CLI (issues 7 and 12): plain ``http://`` only for loopback,
no credentials or query in a base URL, never echoed; every unusable key or URL (bad scheme, host
or port, whitespace, control characters, an empty key), through the environment or a flag, is
one clean ``Error:`` line (exit 1, no traceback, nothing sent) before the target line is printed.

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


# Every way a target can be wrong, each refused the same way (issue 12): exit 1, one line,
# "Error: ..." on stderr, nothing else printed, no traceback, the secret nowhere.
SECRET = "hunter2secret"
BAD_BASE_URLS = [
    # ports
    "https://api.lightfield.app:99999",
    "https://api.lightfield.app:65536",
    "https://api.lightfield.app:0",
    "https://api.lightfield.app:-1",
    "https://api.lightfield.app:abc",
    "https://api.lightfield.app:+443",
    "https://api.lightfield.app:4_43",
    "https://api.lightfield.app:\u0664\u0664\u0663",  # Arabic-Indic digits, which int() reads
    "http://[::1]:70000",
    "http://127.0.0.1:0",
    # scheme and host
    "ftp://api.lightfield.app",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "api.lightfield.app",
    "//api.lightfield.app",
    "https://",
    "https:///v1",
    "https:api.lightfield.app",
    "https://[::1",
    "https://api..lightfield.app",
    "https://api.light<b>field</b>.app",
    "https://api%00.lightfield.app",
    "https://xn--.lightfield.app",
    "https://api.lightfield.app\\.evil.example",
    # credentials, wherever a parser might or might not find them
    f"https://admin:{SECRET}@api.lightfield.app",
    f"https://{SECRET}@api.lightfield.app",
    f"https://:{SECRET}@api.lightfield.app",
    f"https:/admin:{SECRET}@api.lightfield.app",
    f"admin:{SECRET}@api.lightfield.app",
    f"https://api.lightfield.app\\@{SECRET}.example",
    f"http://admin:{SECRET}@127.0.0.1:8787",
    # a query, a fragment, the key itself
    f"https://api.lightfield.app/?token={SECRET}",
    f"https://api.lightfield.app/#{SECRET}",
    f"https://api.lightfield.app/{CANARY}",
    f"https://api.lightfield.app/v1/{CANARY.upper()}",
    # whitespace and control characters
    "https://api.light field.app",
    " https://api.lightfield.app",
    "https://api.lightfield.app/\t",
    "https://api.lightfield.app/\x1b[31mred",
    "https://api.lightfield.app/\u202egro.live",
    "https://api.lightfield.app/\u200b",
    # plain http off loopback
    "http://api.lightfield.app",
    "http://localhost.evil.example",
]
# What a flag can carry but an environment variable cannot.
FLAG_ONLY_BASE_URLS = [
    "https://api.lightfield.app\x00.evil.example",
    "https://api.lightfield.app\n",
]
BAD_KEYS = [
    "",
    "   ",
    "\n",
    "sk_lf_canary target",
    "sk_lf_canary\u00e9",
    "sk_lf_a\r\nX-Evil: canary",
    "sk_lf_\x1b[2Jcanary",
    "sk_lf_canary\tx",
    "sk_lf_\u202ecanary",
    "sk_lf_canary\u200b",
]
TARGET_COMMANDS = [["whoami"], ["plan", "manifests"], ["drift", "manifests"], ["schema", "--org"]]


def assert_one_clean_error(result: Result, *secrets: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), "a traceback, not a clean error"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    for secret in secrets:
        assert secret not in result.output


def run_with(
    command: list[str], via: str, *, key: str | None = CANARY, base_url: str | None = None
) -> Result:
    """``command`` with the key and base URL passed through the environment or as flags."""
    env: dict[str, str | None] = {
        "LIGHTFIELD_API_KEY": None,
        "LIGHTFIELD_BASE_URL": None,
        "CI": None,
    }
    args = list(command)
    if via == "env":
        env |= {"LIGHTFIELD_API_KEY": key, "LIGHTFIELD_BASE_URL": base_url}
    else:
        args += [] if key is None else ["--api-key", key]
        args += [] if base_url is None else ["--base-url", base_url]
    return CliRunner(env=env).invoke(app, args)


@pytest.mark.parametrize("via", ["env", "flag"])
def test_every_bad_base_url_is_one_clean_error(via: str, manifest_dir: Path) -> None:
    urls = BAD_BASE_URLS + (FLAG_ONLY_BASE_URLS if via == "flag" else [])
    runs = 0
    for base_url in urls:
        for command in TARGET_COMMANDS:
            result = run_with(command, via, base_url=base_url)
            assert_one_clean_error(result, CANARY, CANARY.upper(), SECRET)
            assert "(LIGHTFIELD_BASE_URL / --base-url)" in result.stderr, base_url
            runs += 1
        # Without a key the URL is still checked first, and not echoed either.
        assert_one_clean_error(run_with(["whoami"], via, key=None, base_url=base_url), SECRET)
        runs += 1
    print(f"bad base URLs via {via}: {len(urls)} URLs, {runs} CLI runs, one clean error each")


@pytest.mark.parametrize("via", ["env", "flag"])
def test_every_bad_key_is_one_clean_error_that_does_not_echo_it(via: str, server: str) -> None:
    for key in BAD_KEYS:
        for base_url in (server, None):
            result = run_with(["whoami"], via, key=key, base_url=base_url)
            assert_one_clean_error(result, "canary")
            assert "API key" in result.stderr


def test_an_empty_key_variable_is_refused_not_taken_for_no_key(manifest_dir: Path) -> None:
    # A CI secret that came out empty must not quietly plan against the demo workspace.
    result = run_with(["plan", "manifests"], "env", key="")
    assert_one_clean_error(result)
    assert "LIGHTFIELD_API_KEY" in result.stderr
    assert not (manifest_dir.parent / ".lfr").exists()
