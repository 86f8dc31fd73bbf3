"""YAML text → manifest documents through the parser's event stream, every hazard refused.

Owns every rule about YAML as hostile input below the file (architecture.md §3): no control,
bidirectional or invisible characters (raw or escaped), no custom tags, no anchors / aliases /
merge keys, no duplicate keys, bounded nesting, at most ``MAX_PROBLEMS_PER_FILE`` problems per
file. It works on events rather than composed nodes, for two reasons: the C-backed parser is
~10x faster than the round-trip loader (architecture.md §10), and a hazard (an alias bomb,
10,000 levels of nesting) is refused at the event that reveals it, before anything is built
from it. libyaml speaks YAML 1.1; the pure parser is the YAML 1.2 second opinion.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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

from ..core.characters import REFUSED, refused_message
from ..core.vocabulary import MAX_DEPTH, Document, Origin, Path_, Problem

MAX_PROBLEMS_PER_FILE = 50


# Tags a plain YAML 1.2 document may spell out; anything else (``!!python/object``, ``!Ref``,
# ``!!binary``...) asks a loader to do more than build data, so it is refused.
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")}


# In the file itself a CR is allowed before a LF (files saved on Windows), never alone: YAML
# would count it as a line break, and lines would no longer match what a reviewer sees.
_REFUSED_RAW = re.compile(r"(?!\r\n)" + REFUSED.pattern)


# A YAML escape in a double-quoted scalar, to find the line of one that wrote a refused
# character: `\\` is matched as one escape, so `\\x07` (a backslash, then `x07`) is not one.
_ESCAPE = re.compile(
    r'\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([0abtnvfre "/\\N_LP\t]))'
)


_SHORT_ESCAPES = dict(
    zip('0abtnvfre "/\\N_LP\t', '\0\a\b\t\n\v\f\r\x1b "/\\\x85\xa0\u2028\u2029\t', strict=True)
)


def refused_character(text: str) -> tuple[int, str] | None:
    """The line and message of the first character of ``text`` that no manifest may hold."""
    found = REFUSED.search(text)
    if found is not None and found.group() == "\r":
        found = _REFUSED_RAW.search(text, found.start())  # CRLF files only: slower
    if found is None:
        return None
    return text.count("\n", 0, found.start()) + 1, refused_message(found.group())


def parse_events(text: str, file: str, *, pure: bool) -> _Builder:
    builder = _Builder(file, text)
    try:
        for event in _events(text, pure=pure):
            builder.feed(event)
            if builder.fatal:
                break
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # The column too: a syntax error is at a character (a tab, a stray quote), not a key.
        where = (
            Origin(file, mark.line + 1, mark.column + 1) if mark is not None else Origin(file, 0)
        )
        builder.problems.append(Problem(where, f"invalid YAML: {exc.problem or exc}"))
        builder.syntax_error = True
    except YAMLError as exc:
        builder.problems.append(Problem(Origin(file, 0), f"invalid YAML: {exc}"))
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


class _Frame:
    """A mapping or sequence under construction."""

    def __init__(self, container: dict[Any, Any] | list[Any], path: Path_) -> None:
        self.container = container
        self.path = path
        self.pending_key: Any = _NO_KEY
        self.pending_key_line = 0


_NO_KEY = object()


_YAML = YAML(typ="safe", pure=False)


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
        self.problems.append(Problem(Origin(self.file, line), message))
        if len(self.problems) >= MAX_PROBLEMS_PER_FILE:
            self.problems.append(
                Problem(Origin(self.file, line), "too many problems; stopped reading")
            )
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
        """Refuse a character refused raw (``refused_character``) written as an escape
        (`"\\e"`), at the line of the escape: a double-quoted scalar may span several lines."""
        found = REFUSED.search(event.value)
        if found is None:
            return
        start, end = event.start_mark, event.end_mark
        source = self.text[start.index : end.index]  # marks count characters, from 0
        for escape in _ESCAPE.finditer(source):
            code = escape.group(1) or escape.group(2) or escape.group(3)
            character = chr(int(code, 16)) if code else _SHORT_ESCAPES[escape.group(4)]
            if REFUSED.match(character):
                line = start.line + 1 + source.count("\n", 0, escape.start())
                self._problem(line, refused_message(character, escape.group()))
                return
        self._problem(start.line + 1, refused_message(found.group()))  # not found: still refused

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


def plain_or_value_error(text: str) -> Any:
    value = _plain_values.get(text, _NO_KEY)  # the cache first: one call less per scalar
    if value is not _NO_KEY:
        return value
    try:
        return _plain(text)
    except YAMLError as exc:  # `<<` or `=` as a value: the event path reports it
        raise ValueError(str(exc)) from exc


_PLAIN_CACHE_SIZE = 4096


def _typed(tag: str, text: str) -> Any:
    if tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:str"):
        return text
    # Not ``construct_object``: it remembers every node it ever built (for anchors), which
    # kept every scalar of every file alive for the life of the process.
    return _YAML.constructor.construct_non_recursive_object(ScalarNode(tag, text))


# libyaml's parser (ruamel.yaml.clib, on CPython); None without it, and the pure parser then
# yields the same events. ruamel.yaml.main does the looking.
_CParser: Any = getattr(ruamel.yaml.main, "CParser", None)


_plain_values: dict[str, Any] = {}


# YAML 1.2's implicit types (int, float, bool, null, timestamp...) by first character.
_IMPLICIT: dict[str | None, list[tuple[str, re.Pattern[str]]]] = _YAML.resolver.versioned_resolver
