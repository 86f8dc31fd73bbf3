"""Reading manifest files: untrusted YAML in, plain values with ``file:line`` origins out.

Owns the files: only regular files inside the manifest root (a symlink may point to another
manifest, nowhere else), a size cap checked before reading, strict UTF-8, no refused character
(architecture.md §3), and the digest of every path and byte read (the revision of a tree outside
git). A file in the plain block style nearly every manifest is written in is first offered to
``yaml_subset``, which reads it line by line, ~3x faster, into the same values and lines, and
declines anything else (including every hazard), which then takes ``yaml_events``: so every
problem is still found and worded.

Called by ``runs.validate`` (``read_tree``: a file at a time, so that ``lfr validate`` holds
one file's documents, not every file's) and by export (the model layer then shape-checks the
documents); knows nothing of opportunities. Every problem in every
file is collected (never just the first), so a user fixes a whole PR in one pass.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.vocabulary import MAX_DEPTH, Document, Origin, Problem
from . import yaml_subset
from .yaml_events import parse_events, plain_or_value_error, refused_character

MAX_FILE_BYTES = 1024 * 1024
MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # sha256 of every file's path (relative to the root) and bytes, as read: the revision of a
    # tree outside git names exactly the bytes that were planned from.
    digest: str = ""


def find_manifest_files(root: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` below ``root`` (or ``root`` itself), in a stable order."""
    return [Path(path) for path in _manifest_paths(root)]


def _manifest_paths(root: Path) -> list[str]:
    """``find_manifest_files`` as strings (10,000 ``Path`` objects cost more than the walk):
    ordered by path components, as ``sorted`` orders ``Path``s. Symlinked directories are not
    followed. Every other entry with a manifest's name is listed, whatever it is (a symlink,
    a FIFO, a dangling link): ``_read`` decides, so that none is skipped without a word."""
    top = str(root)  # normalised by Path: no `./`, no trailing or doubled separators
    if not root.is_dir():
        return [top]
    found: list[tuple[list[str], str]] = []
    for directory, _, names in os.walk(top):
        for name in names:
            if os.path.splitext(name)[1] in MANIFEST_SUFFIXES:
                path = os.path.join(directory, name)
                if top == os.curdir:
                    path = path[len(os.curdir + os.sep) :]  # `x.yaml`, as pathlib says
                found.append((path.split(os.sep), path))
    found.sort()
    return [path for _, path in found]


def load_tree(
    root: Path,
    display_base: Path | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    ignore: Callable[[str], bool] | None = None,
) -> LoadResult:
    """Load every manifest file below ``root``; problems of all files are collected.

    ``read_tree``'s files gathered into one result (every document held at once)."""
    result = LoadResult()
    digest = hashlib.sha256()
    for file_result in read_tree(root, digest, display_base, progress=progress, ignore=ignore):
        result.documents.extend(file_result.documents)
        result.problems.extend(file_result.problems)
    result.digest = digest.hexdigest()
    return result


def read_tree(
    root: Path,
    digest: hashlib._Hash,
    display_base: Path | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    ignore: Callable[[str], bool] | None = None,
) -> Iterator[LoadResult]:
    """Each manifest file below ``root``, loaded, one ``LoadResult`` a file as it is read: a
    caller that checks and drops each file's documents holds one file at a time, not 100,000.
    ``digest`` is fed every path and byte read (complete once the files are exhausted).

    Files are named relative to ``display_base`` when they are below it (as
    ``Path.relative_to`` would), else as found. The manifest root is ``root``, or the directory
    of ``root`` when it is a file: no file outside it is read (see ``_read``). ``progress``
    hears (files read, files found) every 100 files and at the end. A file for which
    ``ignore(path)`` is true (lfr.yaml's ignore globs: YAML in the tree that is not a manifest)
    is neither read nor part of the digest."""
    top = root if root.is_dir() else root.parent
    base = _prefix(top)
    inside = _prefix(Path(os.path.realpath(top)))
    shown_base = None if display_base is None else _prefix(display_base)
    paths = [p for p in _manifest_paths(root) if ignore is None or not ignore(p)]
    for done, path in enumerate(paths):
        if progress is not None and done % 100 == 0:
            progress(done, len(paths))
        shown = (path if shown_base is None else path.removeprefix(shown_base)).replace(os.sep, "/")
        raw = _read(path, inside)
        if isinstance(raw, str):
            yield LoadResult([], [Problem(Origin(shown, 0), raw)])
            continue
        # A file name need not be UTF-8 (it then holds surrogate escapes): fsencode gives its bytes.
        name = os.fsencode(path.removeprefix(base).replace(os.sep, "/"))
        for part in (name, b"\0", raw, b"\0"):
            digest.update(part)  # one part at a time: no copy of the file's bytes
        yield load_bytes(raw, shown)
    if progress is not None:
        progress(len(paths), len(paths))


def read_file(path: Path) -> bytes | str:
    """The bytes of one file read under the same rules as a manifest (a regular file, the size
    cap; a symlink only to a file in the same directory tree), or why it is not read: for
    other YAML lfr reads, such as ``lfr.yaml``."""
    return _read(str(path), _prefix(Path(os.path.realpath(path.parent))))


def _read(path: str, inside: str) -> bytes | str:
    """The bytes of the manifest file at ``path``, or why it is not read.

    ``inside`` is the manifest root, its own symlinks resolved, with a trailing separator.
    Only a regular file is read: a FIFO would block the run, a device never end. A symlink is
    followed only to a file inside the root (another manifest): one to ``/proc/self/environ``
    or ``~/.netrc`` would have that file's content quoted back in error messages. The size is
    checked on the opened file, before reading, and at most one byte over the cap is read, so a
    file that grows (or a ``/proc`` file that claims 0 bytes) cannot get past the cap."""
    found = path
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            path = os.path.realpath(path, strict=True)
            if not path.startswith(inside):
                return "is a symbolic link to a file outside the manifest directory; not read"
            info = os.stat(path)
        refused = _refuse_stat(info)
        if refused:
            return refused  # before opening: opening a device can have effects of its own
        # O_NOFOLLOW / O_NONBLOCK: should the file have become a symlink or a FIFO since it was
        # looked at, opening fails or returns at once instead of following it or waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return _unreadable(found, exc)
    try:
        info = os.fstat(fd)  # what was opened, not what was looked at
        refused = _refuse_stat(info)
        if refused:
            return refused
        return _read_capped(fd, info.st_size)
    except OSError as exc:
        return _unreadable(found, exc)
    finally:
        os.close(fd)


def _read_capped(fd: int, size: int) -> bytes | str:
    """At most ``MAX_FILE_BYTES`` + 1 bytes of ``fd``: its stated ``size`` and one more at
    first (not a 1 MiB buffer per file: most manifests are 1 KiB), then more while it grows."""
    limit = MAX_FILE_BYTES + 1
    parts, got, want = [], 0, size + 1
    while got < limit:
        part = os.read(fd, min(want, limit - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
        want = 64 * 1024  # longer than it said: growing, or a `/proc` file that says 0
    if got > MAX_FILE_BYTES:
        return _too_large(f"more than {MAX_FILE_BYTES:,}")
    return b"".join(parts)


def _refuse_stat(info: os.stat_result) -> str | None:
    """Why a file with this ``stat`` is not read, or None to read it."""
    if not stat.S_ISREG(info.st_mode):
        mode = info.st_mode
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        return f"is {kind}; only regular files are read as manifests"
    if info.st_size > MAX_FILE_BYTES:
        return _too_large(f"{info.st_size:,}")
    return None


def _unreadable(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is a symbolic link that loops; not read"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "is a symbolic link to nothing (its target does not exist); not read"
    return f"cannot be read: {exc.strerror}"


def _too_large(size: str) -> str:
    return f"file is {size} bytes; manifests are limited to {MAX_FILE_BYTES:,}"


def _prefix(directory: Path) -> str:
    """``directory`` as the string that starts the paths below it."""
    text = str(directory)
    return text if text.endswith(os.sep) else text + os.sep


def load_bytes(raw: bytes, file: str) -> LoadResult:
    """Parse one file's bytes; ``file`` is the name used in ``Problem``s and ``Document``s."""
    if len(raw) > MAX_FILE_BYTES:
        return _failed(file, 0, _too_large(f"{len(raw):,}"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return _failed(file, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save as UTF-8")
    text = text.removeprefix("\ufeff")
    if _printable_ascii(text):
        # Nearly every manifest: no character to refuse, none outside the subset's set.
        return _simple(text, file, printable=True) or _events_of(text, file)
    refused = refused_character(text)  # once, for both paths
    if refused is not None:
        return _failed(file, *refused)
    return _simple(text, file) or _events_of(text, file)


def _printable_ascii(text: str) -> bool:
    """Only printable ASCII and line feeds: two C loops over the text, a third of the cost of
    the two character-class searches (refused characters; the subset's) it spares."""
    return text.isascii() and text.replace("\n", "").isprintable()


def load_simple(text: str, file: str) -> LoadResult | None:
    """The fast path: a one-document file in the plain subset ``yaml_subset`` reads, or None.

    A refused character (raw: the subset reads no escapes) is declined like any other hazard,
    for the event path to word."""
    return None if refused_character(text) is not None else _simple(text, file)


def _simple(text: str, file: str, *, printable: bool = False) -> LoadResult | None:
    simple = yaml_subset.parse(text, plain_or_value_error, MAX_DEPTH, printable=printable)
    if simple is None:
        return None
    data, lines = simple
    return LoadResult([Document(file, 0, lines[()], data, lines)], [])


def load_events(text: str, file: str) -> LoadResult:
    """Any YAML text, through libyaml's events: every hazard refused and every problem worded."""
    text = text.removeprefix("\ufeff")
    refused = refused_character(text)  # raw; the escaped ones are the builder's
    return _events_of(text, file) if refused is None else _failed(file, *refused)


def _events_of(text: str, file: str) -> LoadResult:
    builder = parse_events(text, file, pure=False)
    if builder.syntax_error:
        # libyaml speaks YAML 1.1, which refuses a few 1.2 spellings (a `:` inside a flow
        # scalar, as in `[https://x.io]`); the pure parser decides those, at its own speed.
        builder = parse_events(text, file, pure=True)
    if not builder.documents and not builder.problems:
        builder.problems.append(
            Problem(Origin(file, 0), "file is empty: expected a manifest document")
        )
    if builder.problems:
        return LoadResult([], sorted(builder.problems))
    return LoadResult(builder.documents, [])


def _failed(file: str, line: int, message: str) -> LoadResult:
    return LoadResult([], [Problem(Origin(file, line), message)])
