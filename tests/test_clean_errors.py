"""Bad local state and bad `lfr emulator serve` options end in one ``Error:`` line and exit 1,
never a traceback: a port out of range, a --db that is no database file, a local workspace
whose .lfr is a file or whose database is not one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app


def _one_error_line(args: list[str], env: dict[str, str | None] | None = None) -> str:
    runner = CliRunner(env={"CI": None, "LIGHTFIELD_API_KEY": None, **(env or {})})
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


@pytest.mark.parametrize("port", ["70000", "-1", "65536"])
def test_serve_on_a_port_out_of_range_is_one_error_line(port: str) -> None:
    assert port in _one_error_line(["emulator", "serve", "--port", port])


def test_serve_with_a_db_that_is_a_directory_is_one_error_line(tmp_path: Path) -> None:
    assert str(tmp_path) in _one_error_line(["emulator", "serve", "--db", str(tmp_path)])


def test_serve_with_a_db_that_is_not_a_database_is_one_error_line(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    db.write_text("not a database\n" * 100)
    assert "state.sqlite3" in _one_error_line(["emulator", "serve", "--db", str(db), "--port", "0"])


def test_a_local_workspace_whose_dot_lfr_is_a_file_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".lfr").write_text("")
    (tmp_path / "manifests").mkdir()
    assert ".lfr" in _one_error_line(["plan"])


def test_a_local_workspace_whose_database_is_not_one_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".lfr").mkdir()
    (tmp_path / ".lfr" / "workspace.sqlite3").write_text("garbage " * 1000)
    (tmp_path / "manifests").mkdir()
    assert "workspace.sqlite3" in _one_error_line(["plan"])
