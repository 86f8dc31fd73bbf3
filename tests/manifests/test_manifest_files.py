"""Manifest files as untrusted input: only regular files inside the manifest root are read, and
the size cap is checked before reading (issue 12, item 6). Real files, symlinks and FIFOs in tmp
directories; nothing outside the root is ever quoted back."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from reconciler.adapters.loader import MAX_FILE_BYTES, _read_capped, load_tree
from reconciler.runs.validate import read_manifests
from tests.support.demo import opportunity

SECRET = "sk_live_outside_the_root_9f8e7d"
GOOD = opportunity("good", "opp_cmgood0000001", "fields:\n  $amount: 1\n")


def _problems(root: Path) -> list[str]:
    return sorted(str(p) for p in load_tree(root, display_base=root).problems)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file next to the manifest root, holding what a manifest would have quoted back."""
    secret = tmp_path / "secret.yaml"
    # Valid YAML with a wrong kind, which the shape check quotes back.
    secret.write_text(f"apiVersion: lfr/v1\nkind: {SECRET}\nmetadata: {{name: x}}\n")
    return secret


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD, encoding="utf-8")
    return root


def test_a_symlink_to_a_file_outside_the_root_is_refused_and_not_quoted(
    root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "team").mkdir()
    (root / "team" / "leak.yaml").symlink_to(outside)
    (root / "relative.yaml").symlink_to(Path("..") / outside.name)
    (root / "environ.yaml").symlink_to("/proc/self/environ")
    # The whole offline pipeline, whose shape checks quote values: nothing of a target shows.
    monkeypatch.chdir(root)
    read = read_manifests(Path("."))
    assert SECRET not in "\n".join(str(p) for p in read.problems)
    assert [m.origin.file for m in read.manifests] == ["good.yaml"]
    assert _problems(root) == [
        f"{name}: is a symbolic link to a file outside the manifest directory; not read"
        for name in ("environ.yaml", "relative.yaml", "team/leak.yaml")
    ]


def test_a_root_named_as_a_symlinked_file_is_held_to_its_directory(
    root: Path, outside: Path
) -> None:
    (root / "link.yaml").symlink_to(outside)
    result = load_tree(root / "link.yaml", display_base=root)
    assert [str(p) for p in result.problems] == [
        "link.yaml: is a symbolic link to a file outside the manifest directory; not read"
    ]


def test_symlinks_inside_the_root_are_read_and_symlinked_directories_are_not_followed(
    root: Path, outside: Path, tmp_path: Path
) -> None:
    (root / "same.yaml").symlink_to(root / "good.yaml")  # another manifest: read (twice)
    (root / "nested").mkdir()
    (root / "nested" / "up.yaml").symlink_to(Path("..") / "good.yaml")
    (root / "out-dir").symlink_to(tmp_path, target_is_directory=True)  # holds secret.yaml
    (root / "in-dir").symlink_to(root / "nested", target_is_directory=True)
    result = load_tree(root, display_base=root)
    assert result.problems == []
    assert [d.file for d in result.documents] == ["good.yaml", "nested/up.yaml", "same.yaml"]


def test_a_root_reached_through_a_symlink_still_reads_its_own_symlinks(
    root: Path, tmp_path: Path
) -> None:
    (root / "same.yaml").symlink_to(root / "good.yaml")
    (tmp_path / "via").symlink_to(root, target_is_directory=True)
    result = load_tree(tmp_path / "via", display_base=tmp_path / "via")
    assert result.problems == []
    assert [d.file for d in result.documents] == ["good.yaml", "same.yaml"]


def test_dangling_and_looping_symlinks_are_reported_not_skipped(root: Path) -> None:
    (root / "gone.yaml").symlink_to(root / "missing.yaml")
    (root / "loop.yaml").symlink_to(root / "loop.yaml")
    (root / "ping.yml").symlink_to(root / "pong.yml")
    (root / "pong.yml").symlink_to(root / "ping.yml")
    assert _problems(root) == [
        "gone.yaml: is a symbolic link to nothing (its target does not exist); not read",
        "loop.yaml: is a symbolic link that loops; not read",
        "ping.yml: is a symbolic link that loops; not read",
        "pong.yml: is a symbolic link that loops; not read",
    ]


def test_a_fifo_is_refused_without_opening_it(root: Path) -> None:
    # Opened for reading, a FIFO with no writer would block the run forever.
    os.mkfifo(root / "pipe.yaml")
    (root / "to-pipe.yaml").symlink_to(root / "pipe.yaml")
    expected = "is a named pipe (FIFO); only regular files are read as manifests"
    assert _problems(root) == [f"pipe.yaml: {expected}", f"to-pipe.yaml: {expected}"]
    assert [str(p) for p in load_tree(root / "pipe.yaml", display_base=root).problems] == [
        f"pipe.yaml: {expected}"
    ]


def test_a_200_mb_file_is_refused_before_it_is_read(root: Path) -> None:
    big = root / "big.yaml"
    with big.open("wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.write(b"a: ")
        handle.truncate(200 * 2**20)
    tracemalloc.start()
    try:
        result = load_tree(root, display_base=root)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [str(p) for p in result.problems] == [
        f"big.yaml: file is {200 * 2**20:,} bytes; manifests are limited to {MAX_FILE_BYTES:,}"
    ]
    # Read whole, as before, it cost 600 MiB (the bytes, and two copies for the digest).
    print(f"200 MB manifest refused; peak traced memory {peak / 2**20:.2f} MiB")
    assert peak < 50 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_no_more_than_one_byte_over_the_cap_is_read_whatever_the_file_claims(
    tmp_path: Path,
) -> None:
    # A file that grows after its size was taken, or a `/proc` file that says 0 bytes: the
    # stated size is only where reading starts, the cap is where it stops.
    path = tmp_path / "growing.yaml"
    path.write_bytes(b"x" * (2 * MAX_FILE_BYTES))
    fd = os.open(path, os.O_RDONLY)
    try:
        for stated in (0, 10, MAX_FILE_BYTES):
            os.lseek(fd, 0, os.SEEK_SET)
            assert _read_capped(fd, stated) == (
                f"file is more than {MAX_FILE_BYTES:,} bytes; "
                f"manifests are limited to {MAX_FILE_BYTES:,}"
            )
            assert os.lseek(fd, 0, os.SEEK_CUR) == MAX_FILE_BYTES + 1
        path.write_bytes(b"a: 1\n")
        os.lseek(fd, 0, os.SEEK_SET)
        assert _read_capped(fd, 0) == b"a: 1\n"  # a file that said 0 bytes is read whole
    finally:
        os.close(fd)


def test_a_file_exactly_at_the_cap_is_read(root: Path) -> None:
    text = b"a: 1\n"
    (root / "full.yaml").write_bytes(text + b"#" * (MAX_FILE_BYTES - len(text) - 1) + b"\n")
    result = load_tree(root / "full.yaml", display_base=root)
    assert result.problems == []
    assert result.documents[0].data == {"a": 1}
