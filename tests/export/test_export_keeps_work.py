"""`lfr export` never loses work, through the CLI against a served emulator: `--dry-run` shows
the diff and writes nothing, `--only-new` leaves managed records' manifests alone, a manifest
with uncommitted git changes is not rewritten without `--force`; and `--all` reads the list's
pages, re-reading by id only the records whose manifest the list would change."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, INITECH

DEMO_OPPORTUNITIES = 17


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit, holding nothing yet."""
    root = tmp_path / "repo"
    root.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "start"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    return root


def commit_all(root: Path) -> None:
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", "export"], check=True)


def set_amount(server: str, record_id: str, amount: int) -> None:
    api("POST", server, f"/v1/opportunities/{record_id}", {"fields": {"$amount": amount}})


def test_dry_run_shows_each_file_diff_and_writes_nothing(tmp_path: Path, server: str) -> None:
    out = tmp_path / "m"
    assert lfr(["export", "--id", ACME_RENEWAL, "--dir", str(out)], server).exit_code == 0
    path = out / "acme-renewal-2027.yaml"
    before = path.read_text()
    set_amount(server, ACME_RENEWAL, 130000)
    result = lfr(["export", "--all", "--dir", str(out), "--dry-run"], server)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"--- a/{path.as_posix()}" in lines
    assert "-    $amount: 120000" in lines
    assert "+    $amount: 130000" in lines
    assert f"+++ b/{(out / 'initech-analytics.yaml').as_posix()}" in lines  # a new file, in full
    assert lines[-1] == (
        "Export (dry run, nothing written): 17 records; files would be: 16 created, "
        "1 updated, 0 unchanged."
    )
    assert path.read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["acme-renewal-2027.yaml"]


def test_only_new_adds_unmanaged_records_and_leaves_managed_manifests_alone(
    tmp_path: Path, server: str
) -> None:
    out = tmp_path / "m"
    assert lfr(["export", "--id", ACME_RENEWAL, "--dir", str(out)], server).exit_code == 0
    path = out / "acme-renewal-2027.yaml"
    # An edit not applied yet, which a plain re-export would overwrite with the CRM's value.
    edited = path.read_text().replace("$amount: 120000", "$amount: 150000  # to apply")
    path.write_text(edited)
    result = lfr(["export", "--all", "--dir", str(out), "--only-new"], server)
    assert result.exit_code == 0, result.output
    assert path.read_text() == edited
    assert result.stdout.splitlines()[-1] == (
        "Export: 16 records; 1 already managed, left alone; files: 16 created, 0 updated, "
        "0 unchanged."
    )
    assert len(list(out.iterdir())) == DEMO_OPPORTUNITIES


def test_a_manifest_with_uncommitted_changes_is_not_rewritten_without_force(
    repo: Path, server: str
) -> None:
    out = repo / "manifests"
    assert lfr(["export", "--id", ACME_RENEWAL, "--dir", str(out)], server).exit_code == 0
    commit_all(repo)
    path = out / "acme-renewal-2027.yaml"
    edited = path.read_text().replace("$amount: 120000", "$amount: 150000")
    path.write_text(edited)
    result = lfr(["export", "--all", "--dir", str(out)], server)
    assert result.exit_code == 1
    assert "1 manifest file(s) the export would rewrite have uncommitted changes" in result.stderr
    assert f"  {path.as_posix()}" in result.stderr.splitlines()
    # Nothing at all was written: not the edited file, not the new ones.
    assert path.read_text() == edited
    assert sorted(p.name for p in out.iterdir()) == ["acme-renewal-2027.yaml"]
    # An unrelated export (nothing to rewrite in that file) is not refused.
    assert lfr(["export", "--id", INITECH, "--dir", str(out)], server).exit_code == 0
    forced = lfr(["export", "--all", "--dir", str(out), "--force"], server)
    assert forced.exit_code == 0, forced.output
    assert "$amount: 120000" in path.read_text()


def test_an_untracked_manifest_counts_as_uncommitted_work(repo: Path, server: str) -> None:
    out = repo / "manifests"
    assert lfr(["export", "--id", ACME_RENEWAL, "--dir", str(out)], server).exit_code == 0
    path = out / "acme-renewal-2027.yaml"
    path.write_text(path.read_text().replace("$amount: 120000", "$amount: 1"))
    result = lfr(["export", "--id", ACME_RENEWAL, "--dir", str(out)], server)
    assert result.exit_code == 1
    assert f"  {path.as_posix()}" in result.stderr.splitlines()


def test_export_all_reads_list_pages_and_rereads_only_what_would_change_a_file(
    tmp_path: Path, server: str, emu: Emulator
) -> None:
    emu.seed_bulk(opportunities=200)
    out = tmp_path / "m"
    emu.reset_logs()
    first = lfr(["export", "--all", "--dir", str(out)], server)
    assert first.exit_code == 0, first.output
    total = DEMO_OPPORTUNITIES + 200
    pages = [r for r in emu.requests() if r["path"] == "/v1/opportunities"]
    reads = [r for r in emu.requests() if r["path"].startswith("/v1/opportunities/opp_")]
    assert (len(pages), len(reads)) == (-(-total // 25), 0)
    # Two records change in the CRM: the list shows it, and only those two are read afresh
    # (the list index may lag) before their manifests are rewritten.
    set_amount(server, ACME_RENEWAL, 130000)
    set_amount(server, INITECH, 1)
    emu.reset_logs()
    again = lfr(["export", "--all", "--dir", str(out)], server)
    assert again.exit_code == 0, again.output
    paths = [str(r["path"]) for r in emu.requests()]
    assert sorted(p for p in paths if p.startswith("/v1/opportunities/opp_")) == sorted(
        [f"/v1/opportunities/{ACME_RENEWAL}", f"/v1/opportunities/{INITECH}"]
    )
    assert again.stdout.splitlines()[-1] == (
        f"Export: {total} records; files: 0 created, 2 updated, {total - 2} unchanged."
    )
    assert "$amount: 130000" in (out / "acme-renewal-2027.yaml").read_text()
