"""Fixtures shared by every test directory: the anyio backend and a manifests/ directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.demo import WriteManifest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def manifest_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty manifests/ directory; the cwd is its parent so problems read manifests/x.yaml."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "manifests"
    directory.mkdir()
    return directory


@pytest.fixture
def write(manifest_dir: Path) -> WriteManifest:
    def write_manifest(name: str, text: str) -> Path:
        path = manifest_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write_manifest
