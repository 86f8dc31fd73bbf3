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


def clean_env(bin_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The caller's environment without anything pointing at this source tree or at a target:
    what a user's shell or a fresh CI runner has."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIGHTFIELD_", "LFR_", "CI", "GITHUB_", "UV_", "PYTHON"))
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


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh virtualenv holding lfr from its built wheel: the sdist is built from
    the source tree and the wheel from the sdist (`uv build`), so a file missing from either
    is missing here. Dependencies are the lock's versions (`uv export --frozen`), from uv's
    cache when it has them."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    run([*uv(), "build", "--quiet", "--out-dir", str(dist), str(REPO)], cwd=work)
    (wheel,) = dist.glob("*.whl")
    requirements = work / "requirements.txt"
    exported = run(
        [
            *uv(),
            *("export", "--quiet", "--project", str(REPO), "--frozen", "--no-emit-project"),
            *("--no-hashes", "--no-header", "--output-file", str(requirements)),
        ],
        cwd=work,
    )
    assert "uvicorn" not in requirements.read_text(), exported.stdout  # an extra, not a default
    venv = work / "venv"
    run([*uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=work)
    python = venv / "bin" / "python"
    install = [*uv(), "pip", "install", "--quiet", "--python", str(python)]
    run([*install, "-r", str(requirements), str(wheel)], cwd=work)
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
