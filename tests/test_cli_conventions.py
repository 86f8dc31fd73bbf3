"""The conventions a Terraform or kubectl user takes for granted (issue 13, item 7): usage errors
exit 1 (2 is "changes present"), the commands listed as a run goes, NO_COLOR on a terminal, whoami
on the local workspace, `lfr show` of a saved plan, and the progress display naming its phase."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.cli.output import ProgressLine
from reconciler.emulator import Emulator
from reconciler.emulator.faults import FaultConfig
from reconciler.render.review import SAVED
from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, FULL_KEY, READ_KEY, WriteManifest, opportunity

NO_SERVER = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--bogus"],
        ["plan", "--format", "xml"],
        ["no-such-command"],
        ["apply", "--rate", "fast"],
        ["emulator", "serve", "--port", "many"],
        [],
    ],
)
def test_usage_errors_exit_1_never_the_changes_code(args: list[str]) -> None:
    result = lfr(args, NO_SERVER)
    assert result.exit_code == 1, result.output


def test_help_lists_the_commands_in_the_order_a_user_meets_them() -> None:
    """`lfr --help` lists the commands in the order their modules are imported
    (``cli/__init__.py``): the plan commands as a run goes, not in the alphabetical order of
    their module names (apply, drift, plan, show)."""
    result = lfr(["--help"], NO_SERVER)
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed if line.strip()] == [
        *("version", "whoami", "doctor", "envs", "init"),
        *("validate", "export", "pin", "schema"),
        *("plan", "apply", "drift", "show"),
        "emulator",
    ]


def test_changes_still_exit_2(server: str, write: WriteManifest, manifest_dir: Path) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    assert lfr(["plan", str(manifest_dir), "--detailed-exitcode"], server).exit_code == 2


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """``lfr ARGS`` with stdout and stderr on a pseudo-terminal (as in a user's shell)."""
    leader, follower = pty.openpty()
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("LIGHTFIELD_", "CI"))}
    variables.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", *args],
        cwd=cwd,
        env={**variables, **env},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=120)
    os.close(leader)
    return output.decode()


def test_no_color_is_honoured_on_a_terminal(write: WriteManifest, manifest_dir: Path) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    coloured = _on_a_terminal(["plan", "manifests"], manifest_dir.parent, {})
    assert "\x1b[33m~ a" in coloured  # the local workspace's demo record changes
    plain = _on_a_terminal(["plan", "manifests"], manifest_dir.parent, {"NO_COLOR": "1"})
    assert "~ a (opp_" in plain
    assert "\x1b[" not in plain
    no_color = {"NO_COLOR": "1"}
    forced = _on_a_terminal(["plan", "manifests", "--color"], manifest_dir.parent, no_color)
    assert "\x1b[33m~ a" in forced  # a flag still wins (no-color.org)


def test_whoami_on_the_local_workspace_says_so_and_names_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = lfr(["whoami"], NO_SERVER, key=None, env={"LIGHTFIELD_BASE_URL": ""})
    assert result.exit_code == 0, result.output
    assert "This is the local workspace (.lfr/workspace.sqlite3, demo data), not Lightfield" in (
        result.stdout
    )
    assert "built-in full-access user key, not LIGHTFIELD_API_KEY" in result.stdout
    assert "sk_lf_" not in result.output  # named, never printed


def test_whoami_on_an_api_names_the_target(server: str) -> None:
    result = lfr(["whoami"], server, key=READ_KEY)
    assert result.exit_code == 0, result.output
    assert f"Key is active (user key) at {server}." in result.stdout
    assert "Scopes: " in result.stdout


def test_show_renders_a_saved_plan_in_every_format_without_a_target(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    saved = tmp_path / "plan.json"
    planned = lfr(["plan", str(manifest_dir), "--out", str(saved)], server)
    assert planned.exit_code == 0, planned.output
    # No key, no server: show reads the file only, whatever target it was planned against.
    text = lfr(["show", str(saved)], NO_SERVER, key=None)
    assert text.exit_code == 0, text.output
    # The plan as planned, with the review saved with it under the line saying so.
    records, review = planned.stdout.split("Pipeline impact:\n", 1)
    assert text.stdout == f"{records}{SAVED}\nPipeline impact:\n{review}"
    assert f"planned against {server}" in text.stderr
    as_json = lfr(["show", str(saved), "-f", "json"], NO_SERVER, key=None)
    # The plan as saved, its guardrails' review (policy, impact) included.
    assert json.loads(as_json.stdout) == json.loads(saved.read_text())
    markdown = lfr(["show", str(saved), "-f", "markdown"], NO_SERVER, key=None)
    assert "<!-- lfr-plan -->" in markdown.stdout


def test_show_refuses_a_forged_plan(
    server: str, write: WriteManifest, manifest_dir: Path, tmp_path: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    saved = tmp_path / "plan.json"
    assert lfr(["plan", str(manifest_dir), "--out", str(saved)], server).exit_code == 0
    data = json.loads(saved.read_text())
    data["records"][0]["requests"][0]["body"]["fields"]["$amount"] = 999  # sends what it hides
    saved.write_text(json.dumps(data))
    result = lfr(["show", str(saved)], NO_SERVER, key=None)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"Error: {saved}: " in result.stderr
    assert "not a plan as `lfr plan --out` writes it" in result.stderr


def test_progress_names_each_phase_with_done_and_total() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    progress = ProgressLine(True, delay=0, console=console)
    progress("reading", 40, 40)
    progress("fetching", 7, 12)
    progress.close()
    progress("writing", 2, 5)  # a later phase draws anew
    progress.close()
    drawn = screen.getvalue()
    assert "Reading manifests" in drawn and "40/40" in drawn
    assert "Fetching live state" in drawn and "7/12" in drawn
    assert "Writing" in drawn and "2/5" in drawn


def test_a_slow_run_on_a_terminal_shows_each_phase(
    server: str, emu: Emulator, write: WriteManifest, manifest_dir: Path
) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    # Every answer takes 0.6 s, so the run is past the display's half-second wait before the
    # live state comes back (slower machines only make it more so).
    emu.faults.configure(FaultConfig(latency_ms=600))
    remote = {"LIGHTFIELD_API_KEY": FULL_KEY, "LIGHTFIELD_BASE_URL": server}
    applied = _on_a_terminal(["apply", "manifests", "--auto-approve"], manifest_dir.parent, remote)
    assert "Fetching live state" in applied and "1/1" in applied
    assert "Writing" in applied
    assert "/100" not in applied  # each bar starts at its own total
    assert "Apply: 1 applied." in applied


def test_no_progress_off_a_terminal(server: str, write: WriteManifest, manifest_dir: Path) -> None:
    write("a.yaml", opportunity("a", ACME_RENEWAL, "fields:\n  $amount: 5"))
    result = lfr(["plan", str(manifest_dir)], server)
    assert "Fetching" not in result.stderr and "Reading" not in result.stderr
