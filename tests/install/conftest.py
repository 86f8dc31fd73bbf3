"""lfr as a user installs it: the built wheel in a fresh virtualenv outside the source tree,
once per session; and a runner for the workflows `lfr init` generates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.emulator.ratelimit import RateLimitConfig
from reconciler.emulator.server import running_server

REPO = Path(__file__).resolve().parents[2]


def uv() -> list[str]:
    """The uv that runs this suite (`uv run` sets $UV), else `python3 -m uv` as .ci/run has it."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [shutil.which("python3") or "python3", "-m", "uv"]


def clean_env(bin_dir: Path | None = None, /, **extra: str) -> dict[str, str]:
    """The caller's environment without anything pointing at this source tree or at a target:
    what a user's shell or a fresh CI runner has."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIGHTFIELD_", "LFR_", "CI", "GITHUB_", "PYTHON"))
        and k not in ("VIRTUAL_ENV", "PYTEST_CURRENT_TEST")
    }
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(
    command: list[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=dict(env or clean_env()), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def run_uv(args: list[str], cwd: Path, **env: str) -> None:
    """``uv ARGS`` from uv's cache alone (`--offline`), else with the network: the suite's own
    `uv sync` filled the cache with the lock's wheels, but a fresh CI cache may lack the build
    backend."""
    environment = clean_env(**env)
    offline = subprocess.run(
        [*uv(), *args, "--offline"], cwd=cwd, env=environment, capture_output=True, timeout=300
    )
    if offline.returncode != 0:
        run([*uv(), *args], cwd=cwd, env=environment)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh virtualenv outside the source tree holding lfr from its built wheel.

    `uv build` builds the sdist from the source tree and the wheel from the sdist, so a file
    missing from either is missing here. The virtualenv gets the lock's runtime dependencies
    (no extras, no test tools: `uv sync --no-dev --no-install-project` into it), then the
    wheel without dependencies; `uv pip check` then proves the wheel's declared requirements
    are all there, so nothing it needs is only installed by the lock."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    run_uv(["build", "--quiet", "--out-dir", str(dist), str(REPO)], cwd=work)
    (wheel,) = dist.glob("*.whl")
    venv = work / "venv"
    sync = ["sync", "--quiet", "--frozen", "--no-dev", "--no-install-project"]
    run_uv(
        [*sync, "--project", str(REPO), "--python", sys.executable],
        cwd=work,
        UV_PROJECT_ENVIRONMENT=str(venv),
    )
    python = venv / "bin" / "python"
    run_uv(["pip", "install", "--quiet", "--no-deps", "--python", str(python), str(wheel)], work)
    checked = run([*uv(), "pip", "check", "--python", str(python)], cwd=work)
    assert "All installed packages are compatible" in checked.stdout + checked.stderr
    frozen = run([*uv(), "pip", "freeze", "--python", str(python)], cwd=work).stdout
    assert "uvicorn" not in frozen  # the emulator extra's server is not a default dependency
    return venv / "bin"


@pytest.fixture
def orgs() -> Iterator[dict[str, tuple[Emulator, str]]]:
    """Two demo orgs, each served on its own port: the sandbox and production of lfr.yaml."""
    sandbox = Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))
    production = Emulator(db=":memory:", seed="demo", rate_limits=RateLimitConfig(enabled=False))
    with (
        running_server(sandbox, host="127.0.0.1", port=0) as sandbox_url,
        running_server(production, host="127.0.0.1", port=0) as production_url,
    ):
        yield {"sandbox": (sandbox, sandbox_url), "production": (production, production_url)}
