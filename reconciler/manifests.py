"""Reading manifest files: untrusted YAML in, plain values with ``file:line`` origins out.

Owns everything that touches YAML (the only user of ruamel.yaml besides export) and every
rule about YAML as hostile input (design §3): only regular files inside the manifest root (a
symlink may point to another manifest, nowhere else), a size cap checked before reading, strict
UTF-8, no control, bidirectional or invisible characters (raw or escaped), no custom tags, no
anchors / aliases / merge keys, no duplicate keys, bounded nesting.

It works on the parser's event stream rather than on composed nodes, for two reasons: the
C-backed parser is ~10x faster than the round-trip loader (design §10), and a hazard (an alias
bomb, 10,000 levels of nesting) is refused at the event that reveals it, before anything is
built from it. A file in the plain block style nearly every manifest is written in is first
offered to ``yaml_subset``, which reads it line by line, ~3x faster, into the same values and
lines, and declines anything else (including every hazard above), which then takes the event
path: so every problem is still found and worded here.

Called by ``pipeline.read_manifests`` and by export (the model layer then shape-checks the
documents); knows nothing of opportunities. Every problem in every
file is collected (never just the first), so a user fixes a whole PR in one pass.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ruamel.yaml.main
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import ScalarNode

from . import yaml_subset

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_PROBLEMS_PER_FILE = 50
MANIFEST_SUFFIXES = (".yaml", ".yml")

# Tags a plain YAML 1.2 document may spell out; anything else (``!!python/object``, ``!Ref``,
# ``!!binary``...) asks a loader to do more than build data, so it is refused.
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")}
# The characters refused anywhere in a manifest, whether written raw or as a YAML escape in a
# double-quoted scalar (`"\e"`, `"\x00"`, `"\u202e"`): ones a reviewer could not see in a diff,
# or would see in another order or on other lines than the loader reads them. The one list both
# checks are built from (README, "YAML is untrusted input").
_REFUSED_CHARACTERS: tuple[tuple[str, str, str], ...] = (
    # C0 except tab and line feed (a CR only in a CRLF line end, see _REFUSED_RAW), DEL, C1.
    ("control character", "\x00-\x08\x0b-\x1f\x7f-\x9f", "invisible in a review"),
    # Trojan Source: embeddings, overrides and isolates reorder the text a reviewer sees; the
    # marks (LRM, RLM, ALM) are invisible.
    (
        "bidirectional control",
        "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069",
        "it reorders or hides text in a review",
    ),
    # Zero-width and invisible format characters, and Unicode tags (text hidden in plain
    # sight). Not ZWNJ / ZWJ (U+200C, U+200D): Persian, Indic scripts and emoji need them.
    (
        "invisible character",
        "\xad\u180e\u200b\u2060-\u2064\ufeff\ufff9-\ufffb\U000e0000-\U000e007f",
        "invisible in a review",
    ),
    # Line breaks to YAML 1.1 (libyaml), not to most editors.
    ("line separator", "\u2028\u2029", "YAML and editors disagree on the lines around it"),
    # Only reachable as escapes (`"\ud800"`): no valid JSON string for the API.
    ("surrogate or noncharacter", "\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff", "it is not text"),
)
_REFUSED = re.compile("[" + "".join(ranges for _, ranges, _ in _REFUSED_CHARACTERS) + "]")
_REFUSED_KINDS = [(kind, re.compile(f"[{chars}]"), why) for kind, chars, why in _REFUSED_CHARACTERS]
# In the file itself a CR is allowed before a LF (files saved on Windows), never alone: YAML
# would count it as a line break, and lines would no longer match what a reviewer sees.
_REFUSED_RAW = re.compile(r"(?!\r\n)" + _REFUSED.pattern)
# A YAML escape in a double-quoted scalar, to find the line of one that wrote a refused
# character: `\\` is matched as one escape, so `\\x07` (a backslash, then `x07`) is not one.
_ESCAPE = re.compile(
    r'\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([0abtnvfre "/\\N_LP\t]))'
)
_SHORT_ESCAPES = dict(
    zip('0abtnvfre "/\\N_LP\t', '\0\a\b\t\n\v\f\r\x1b "/\\\x85\xa0\u2028\u2029\t', strict=True)
)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, at a place a user can jump to."""

    file: str
    line: int  # 1-based; 0 when the problem is the whole file
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line
            else f"{self.file}: {self.message}"
        )


@dataclass(frozen=True)
class Document:
    """One YAML document: its data as plain Python values, and the line of every path in it.

    ``lines[("spec", "fields", "$stage")]`` is the line of that key; ``line_of`` falls back to the
    nearest enclosing path, so an error about a missing key points at its parent mapping.
    """

    file: str
    index: int  # position of the document in its file, from 0
    line: int
    data: Any
    lines: dict[Path_, int] = field(repr=False)

    def line_of(self, path: Path_) -> int:
        line = self.lines.get(path)
        if line is not None:
            return line
        for end in range(len(path) - 1, -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.line


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


def load_tree(root: Path, display_base: Path | None = None) -> LoadResult:
    """Load every manifest file below ``root``; problems of all files are collected.

    Files are named relative to ``display_base`` when they are below it (as
    ``Path.relative_to`` would), else as found. The manifest root is ``root``, or the directory
    of ``root`` when it is a file: no file outside it is read (see ``_read``)."""
    result = LoadResult()
    digest = hashlib.sha256()
    top = root if root.is_dir() else root.parent
    base = _prefix(top)
    inside = _prefix(Path(os.path.realpath(top)))
    shown_base = None if display_base is None else _prefix(display_base)
    for path in _manifest_paths(root):
        shown = (path if shown_base is None else path.removeprefix(shown_base)).replace(os.sep, "/")
        raw = _read(path, inside)
        if isinstance(raw, str):
            result.problems.append(Problem(shown, 0, raw))
            continue
        # A file name need not be UTF-8 (it then holds surrogate escapes): fsencode gives its bytes.
        name = os.fsencode(path.removeprefix(base).replace(os.sep, "/"))
        for part in (name, b"\0", raw, b"\0"):
            digest.update(part)  # one part at a time: no copy of the file's bytes
        file_result = load_bytes(raw, shown)
        result.documents.extend(file_result.documents)
        result.problems.extend(file_result.problems)
    result.digest = digest.hexdigest()
    return result


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
    refused = _refused_character(text)  # once, for both paths
    if refused is not None:
        return _failed(file, *refused)
    return _simple(text, file) or _events_of(text, file)


def _refused_character(text: str) -> tuple[int, str] | None:
    """The line and message of the first character of ``text`` that no manifest may hold."""
    found = _REFUSED.search(text)
    if found is not None and found.group() == "\r":
        found = _REFUSED_RAW.search(text, found.start())  # CRLF files only: slower
    if found is None:
        return None
    return text.count("\n", 0, found.start()) + 1, _refused_message(found.group())


def refused_in(text: str) -> str | None:
    """Which character of ``text`` no manifest may hold (``U+202E (RIGHT-TO-LEFT OVERRIDE)``),
    or None: for writers of manifests (export), so they never write what the loader refuses."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    name = unicodedata.name(found.group(), "")
    return f"U+{ord(found.group()):04X}{f' ({name})' if name else ''}"


def _refused_message(character: str, written: str = "") -> str:
    """Which refused character, and why: ``written`` is the escape that wrote it, if any."""
    kind, why = next((kind, why) for kind, chars, why in _REFUSED_KINDS if chars.match(character))
    name = unicodedata.name(character, "")
    return (
        f"{kind} U+{ord(character):04X}{f' ({name})' if name else ''} is not allowed"
        f"{f' (written as {written})' if written else ''}: {why}"
    )


def load_simple(text: str, file: str) -> LoadResult | None:
    """The fast path: a one-document file in the plain subset ``yaml_subset`` reads, or None.

    A refused character (raw: the subset reads no escapes) is declined like any other hazard,
    for the event path to word."""
    return None if _refused_character(text) is not None else _simple(text, file)


def _simple(text: str, file: str) -> LoadResult | None:
    simple = yaml_subset.parse(text, _plain_or_value_error, MAX_DEPTH)
    if simple is None:
        return None
    data, lines = simple
    return LoadResult([Document(file, 0, lines[()], data, lines)], [])


def load_events(text: str, file: str) -> LoadResult:
    """Any YAML text, through libyaml's events: every hazard refused and every problem worded."""
    text = text.removeprefix("\ufeff")
    refused = _refused_character(text)  # raw; the escaped ones are the builder's
    return _events_of(text, file) if refused is None else _failed(file, *refused)


def _events_of(text: str, file: str) -> LoadResult:
    builder = _parse(text, file, pure=False)
    if builder.syntax_error:
        # libyaml speaks YAML 1.1, which refuses a few 1.2 spellings (a `:` inside a flow
        # scalar, as in `[https://x.io]`); the pure parser decides those, at its own speed.
        builder = _parse(text, file, pure=True)
    if not builder.documents and not builder.problems:
        builder.problems.append(Problem(file, 0, "file is empty: expected a manifest document"))
    if builder.problems:
        return LoadResult([], sorted(builder.problems))
    return LoadResult(builder.documents, [])


def _parse(text: str, file: str, *, pure: bool) -> _Builder:
    builder = _Builder(file, text)
    try:
        for event in _events(text, pure=pure):
            builder.feed(event)
            if builder.fatal:
                break
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        builder.problems.append(Problem(file, line, f"invalid YAML: {exc.problem or exc}"))
        builder.syntax_error = True
    except YAMLError as exc:
        builder.problems.append(Problem(file, 0, f"invalid YAML: {exc}"))
        builder.syntax_error = True
    return builder


def _events(text: str, *, pure: bool) -> Iterator[Event]:
    """The parse events of ``text``. libyaml's parser is driven directly: ``YAML().parse``
    would build a loader class, look for plug-ins on disk and keep a record per call (3x the
    time of the parse itself); the pure parser is the fallback and the YAML 1.2 second opinion."""
    if pure or _CParser is None:
        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = _CParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _failed(file: str, line: int, message: str) -> LoadResult:
    return LoadResult([], [Problem(file, line, message)])


class _Frame:
    """A mapping or sequence under construction."""

    def __init__(self, container: dict[Any, Any] | list[Any], path: Path_) -> None:
        self.container = container
        self.path = path
        self.pending_key: Any = _NO_KEY
        self.pending_key_line = 0


_NO_KEY = object()
_YAML = YAML(typ="safe", pure=False)
# libyaml's parser (ruamel.yaml.clib, on CPython); None without it, and the pure parser then
# yields the same events. ruamel.yaml.main does the looking.
_CParser: Any = getattr(ruamel.yaml.main, "CParser", None)


class _Builder:
    """Turns parse events into plain values, recording lines and refusing hazards."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.documents: list[Document] = []
        self.problems: list[Problem] = []
        self.fatal = False  # stop reading the file: going on would only cost time or memory
        self.syntax_error = False
        self._stack: list[_Frame] = []
        self._lines: dict[Path_, int] = {}
        self._root: Any = None
        self._doc_line = 0
        self._doc_problems = 0

    def feed(self, event: Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, DocumentStartEvent):
            self._stack, self._lines, self._root = [], {}, _NO_KEY
            self._doc_line, self._doc_problems = line, len(self.problems)
        elif isinstance(event, DocumentEndEvent):
            self._end_document()
        elif isinstance(event, AliasEvent):
            self._problem(line, f"alias '*{event.anchor}' is not allowed: write the value out")
            self._value(None, line)
        elif isinstance(event, MappingStartEvent | SequenceStartEvent | ScalarEvent):
            if event.anchor is not None:
                self._problem(line, f"anchor '&{event.anchor}' is not allowed: write values out")
            if (
                event.tag is not None
                and event.tag not in _ALLOWED_TAGS
                and not (
                    isinstance(event, MappingStartEvent | SequenceStartEvent)
                    and event.tag in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
                )
            ):
                shown = event.tag.replace("tag:yaml.org,2002:", "!!")
                self._problem(line, f"tag '{shown}' is not allowed in a manifest")
            if isinstance(event, ScalarEvent):
                self._scalar(event, line)
            else:
                self._open({} if isinstance(event, MappingStartEvent) else [], line)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            frame = self._stack.pop()
            if not self._stack:
                self._root = frame.container

    def _problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))
        if len(self.problems) >= MAX_PROBLEMS_PER_FILE:
            self.problems.append(Problem(self.file, line, "too many problems; stopped reading"))
            self.fatal = True

    def _open(self, container: dict[Any, Any] | list[Any], line: int) -> None:
        path = self._value(container, line)
        if len(self._stack) >= MAX_DEPTH:
            self._problem(line, f"nesting deeper than {MAX_DEPTH} levels")
            self.fatal = True
            return
        self._stack.append(_Frame(container, path))

    def _scalar(self, event: ScalarEvent, line: int) -> None:
        if event.style == '"':  # the only style with escapes; raw text was checked before
            self._refuse_escapes(event)
        frame = self._stack[-1] if self._stack else None
        if frame is not None and isinstance(frame.container, dict) and frame.pending_key is _NO_KEY:
            if event.value == "<<" and event.implicit[0]:
                self._problem(line, "merge key '<<' is not allowed: write the keys out")
                frame.pending_key = "<<"
            else:
                frame.pending_key = self._construct(event, line)
            frame.pending_key_line = line
            return
        self._value(self._construct(event, line), line)

    def _refuse_escapes(self, event: ScalarEvent) -> None:
        """Refuse a character refused raw (``_refused_character``) written as an escape
        (`"\\e"`), at the line of the escape: a double-quoted scalar may span several lines."""
        found = _REFUSED.search(event.value)
        if found is None:
            return
        start, end = event.start_mark, event.end_mark
        source = self.text[start.index : end.index]  # marks count characters, from 0
        for escape in _ESCAPE.finditer(source):
            code = escape.group(1) or escape.group(2) or escape.group(3)
            character = chr(int(code, 16)) if code else _SHORT_ESCAPES[escape.group(4)]
            if _REFUSED.match(character):
                line = start.line + 1 + source.count("\n", 0, escape.start())
                self._problem(line, _refused_message(character, escape.group()))
                return
        self._problem(start.line + 1, _refused_message(found.group()))  # not found: still refused

    def _construct(self, event: ScalarEvent, line: int) -> Any:
        try:
            return _construct(event)
        # ruamel's constructors fail with these on a text their type cannot read: `0b_`, `+_`
        # or 5,000 digits (YAML's number pattern matched, int() did not), `!!bool maybe`.
        except (ValueError, KeyError, IndexError):
            shown = event.value if len(event.value) <= 40 else event.value[:37] + "..."
            if event.tag is None:
                message = f"cannot read {shown!r} as a number; quote it if it is text"
            else:
                tag = event.tag.replace("tag:yaml.org,2002:", "!!")
                message = f"cannot read {shown!r} as {tag}; remove the tag or fix the value"
            self._problem(line, message)
            return event.value

    def _value(self, value: Any, line: int) -> Path_:
        """Place ``value`` in the current container; return its path."""
        if not self._stack:
            self._root = value
            self._lines[()] = line
            return ()
        frame = self._stack[-1]
        if isinstance(frame.container, list):
            path = (*frame.path, len(frame.container))
            frame.container.append(value)
            self._lines[path] = line
            return path
        key = frame.pending_key
        if key is _NO_KEY:
            # A collection used as a mapping key: legal YAML, never a manifest.
            self._problem(line, "mapping keys must be plain scalars")
            frame.pending_key = f"<complex key at line {line}>"
            return (*frame.path, frame.pending_key)
        frame.pending_key = _NO_KEY
        if not isinstance(key, str | int | float | bool) and key is not None:
            key = str(key)
        path = (*frame.path, key)
        if key in frame.container:
            self._problem(frame.pending_key_line, self._same_key(frame, key, path))
        else:
            frame.container[key] = value
            self._lines[path] = frame.pending_key_line
        return path

    def _same_key(self, frame: _Frame, key: Any, path: Path_) -> str:
        """The problem with a key equal to one before it in its mapping."""
        first = self._lines.get(path, "?")
        # The earlier key itself, of its own type (`is`: a NaN key is not equal to itself).
        earlier = next(k for k in frame.container if k is key or k == key)
        if type(earlier) is type(key):
            return f"duplicate key {_shown_key(key)} (first at line {first})"
        # `1:` and `true:` (or `1.0:`, `0:` and `false:`) are distinct YAML keys that Python
        # holds equal (1 == True == 1.0): they cannot both be kept.
        kinds = [_KINDS.get(type(k), "text") for k in (key, earlier)]
        return (
            f"key {_shown_key(key)} ({kinds[0]}) and key {_shown_key(earlier)} ({kinds[1]}, "
            f"line {first}) are read as the same key; quote keys that are text"
        )

    def _end_document(self) -> None:
        if len(self.problems) > self._doc_problems:
            return
        root = self._root
        if root is _NO_KEY or root is None:
            self._problem(self._doc_line, "empty document: expected a manifest mapping")
        elif not isinstance(root, dict):
            kind = "a list" if isinstance(root, list) else f"a {type(root).__name__} value"
            self._problem(self._doc_line, f"document is {kind}; a manifest must be a mapping")
        else:
            self.documents.append(
                Document(self.file, len(self.documents), self._lines[()], root, self._lines)
            )


def _shown_key(key: Any) -> str:
    """A key in a message, as YAML writes it: `'name'`, `1`, `true`, `null`."""
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    return repr(key)


_KINDS = {bool: "a boolean", int: "an integer", float: "a float"}


def _construct(event: ScalarEvent) -> Any:
    """A scalar's value under YAML 1.2 core rules; timestamps stay text for the schema layer."""
    if event.tag is not None:
        if event.tag not in _ALLOWED_TAGS:
            return event.value  # already reported; keep the text so building goes on
        return _typed(event.tag, event.value)
    if not event.implicit[0]:
        return event.value  # quoted: always a string
    return _plain(event.value)


def _plain(text: str) -> Any:
    """The value of a plain (unquoted, untagged) scalar: ``123``, ``true``, ``~``, text."""
    # A plain scalar's value depends on its text alone, and the same texts come back in every
    # file (each key, `lfr/v1`, `Opportunity`, option labels): resolving them was half the
    # load time. Every value cached is immutable (str, int, float, bool or None).
    try:
        return _plain_values[text]
    except KeyError:
        pass
    value: Any = text
    # ruamel's ``resolver.resolve``, minus its per-call version lookup: the first character
    # selects the candidate patterns, and most texts (names, ids) start with one that has none.
    for tag, pattern in (*_IMPLICIT.get(text[:1], ()), *_IMPLICIT.get(None, ())):
        if pattern.match(text):
            value = _typed(tag, text)
            break
    if len(_plain_values) < _PLAIN_CACHE_SIZE:
        _plain_values[text] = value
    return value


def _plain_or_value_error(text: str) -> Any:
    value = _plain_values.get(text, _NO_KEY)  # the cache first: one call less per scalar
    if value is not _NO_KEY:
        return value
    try:
        return _plain(text)
    except YAMLError as exc:  # `<<` or `=` as a value: the event path reports it
        raise ValueError(str(exc)) from exc


_PLAIN_CACHE_SIZE = 4096
_plain_values: dict[str, Any] = {}
# YAML 1.2's implicit types (int, float, bool, null, timestamp...) by first character.
_IMPLICIT: dict[str | None, list[tuple[str, re.Pattern[str]]]] = _YAML.resolver.versioned_resolver


def _typed(tag: str, text: str) -> Any:
    if tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:str"):
        return text
    # Not ``construct_object``: it remembers every node it ever built (for anchors), which
    # kept every scalar of every file alive for the life of the process.
    return _YAML.constructor.construct_non_recursive_object(ScalarNode(tag, text))
