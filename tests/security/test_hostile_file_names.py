"""A manifest file name is fork-controlled, and on Linux it is bytes: one that is not valid
UTF-8 is read (as surrogate escapes) and named in every output as an escape, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cli import lfr
from tests.support.demo import ACME_RENEWAL, opportunity


@pytest.mark.parametrize(
    "command",
    [["validate"], ["plan", "-f", "text"], ["plan", "-f", "markdown"], ["plan", "-f", "json"]],
)
def test_a_file_name_that_is_not_utf8_is_one_escaped_problem(
    manifest_dir: Path, server: str, command: list[str]
) -> None:
    name = os.fsencode(manifest_dir) + b"/\xffx.yaml"
    text = opportunity("x", ACME_RENEWAL, "fields:\n  bogusKey: 1").encode()
    with open(name, "wb") as f:
        f.write(text)
    result = lfr([*command, "manifests"], server)
    assert result.exit_code == 1, result.output
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown
    problem = [line for line in shown.splitlines() if "bogusKey" in line]
    assert len(problem) == 1, shown
    # The undecodable byte shows as the escape of its surrogate, never raw.
    assert "\\udcff" in problem[0] and "\udcff" not in shown


def test_a_file_name_that_is_not_utf8_is_an_escaped_annotation_under_github_actions(
    manifest_dir: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(os.fsencode(manifest_dir) + b"/\xff::x.yaml", "wb") as f:
        f.write(opportunity("x", ACME_RENEWAL, "fields:\n  bogusKey: 1").encode())
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = lfr(["validate", "manifests"], server)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "\udcff" not in result.stdout + result.stderr
    assert "\\udcff" in result.stdout + result.stderr
