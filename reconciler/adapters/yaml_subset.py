"""The fast path of manifest reading: the plain block-style YAML most manifests are written in.

Owns ``parse``: a line-by-line reader of a strict subset of YAML (one document; block mappings
and sequences indented with spaces; plain, single- and double-quoted scalars without escapes
or line folding; one-line flow sequences and mappings; comments). It returns the document's
data and the line of every path in it, exactly as ``loader`` builds them from libyaml's
events, or None for anything outside the subset, and the caller then parses the file with
libyaml. So the subset never decides that a file is invalid, and never words a problem: it only
reads, about 3x faster, the files that are certainly plain. Whatever it is unsure of (tabs,
anchors, tags, block scalars, multi-line values, escapes, duplicate keys, odd indentation) it
declines. ``tests/manifests/test_yaml_subset.py`` checks it against libyaml on generated
documents, each read twice: once line by line, and once from the lines it remembers (what a
line says, apart from where it sits, is worked out once a run: the same lines come back in
every file of a tree).

How a plain scalar's text becomes a value (``123``, ``true``, a date) is not decided here: the
caller passes its own resolver, the one the event path uses, so both paths agree by
construction. Knows nothing of manifests or ruamel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Path_ = tuple[str | int, ...]
# A plain scalar's text → its value; raises ValueError for a text it cannot read.
Resolve = Callable[[str], Any]

_MAX_FLOW_DEPTH = 8
# libyaml refuses an implicit key longer than 1024 characters (counted up to its `:`): a longer
# key line, or flow collection, is left to it.
_MAX_KEY = 1000

# Anything libyaml might read differently from a plain reading: tabs, CR and the other YAML
# line breaks (NEL, LS, PS), a BOM inside the text, and characters outside YAML's printable set.
_OUTSIDE = re.compile(
    r"[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_KEY = re.compile(rf"([A-Za-z_$][A-Za-z0-9_$./-]{{0,{_MAX_KEY}}}):(?: +|$)")
# A character that cannot start a plain scalar (YAML indicators), or a quote we read elsewhere.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_TOKEN = re.compile(
    r" *(?:"
    r"(?P<punct>[\[\]{},])"
    r"|(?P<colon>:(?= ))"
    r'|"(?P<dq>[^"\\]*)"'
    r"|'(?P<sq>[^']*)'(?!')"
    r"|(?P<plain>[^ \[\]{},:#\"'!&*|>%@`?-][^\[\]{},:#\"']*?)(?= *(?:[\[\]{},]|: |$))"
    r") *"
)
_PLAIN_LIST = re.compile(r"\[([^\[\]{}:#']*)\]")
# Legal in a block plain scalar, but close enough to structure that libyaml should judge.
_UNSURE_PLAIN = re.compile(r": |:$|[\[\]{}]")
_EMPTY = object()
# What ``_Reader._scan`` says of a line (see there).
_SKIP, _SCALAR, _LIST, _NONE, _TEXT = (object() for _ in range(5))
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
# Lines remembered per resolver: the common lines of a tree (each key, `kind: Opportunity`,
# the usual select labels) are read once a run, not once a file; the first lines seen fill it.
LINE_CACHE_SIZE = 8192
_line_caches: dict[Resolve, dict[str, Any]] = {}


def forget_lines() -> None:
    """Empty the remembered lines (the next file is read as if it were the first)."""
    _line_caches.clear()


def _line_cache(resolve: Resolve) -> dict[str, Any]:
    cache = _line_caches.get(resolve)
    if cache is None:
        cache = _line_caches[resolve] = {}
    return cache


class _Declined(Exception):
    """Outside the subset: the caller parses the file with libyaml instead."""


def parse(
    text: str, resolve: Resolve, max_depth: int, *, printable: bool = False
) -> tuple[dict[str, Any], dict[Path_, int]] | None:
    """``(data, lines)`` of a one-document manifest in the subset, or None to decline.

    ``max_depth`` is the caller's nesting limit (collections on one path, the root included):
    a document that nears it is declined, so that the caller refuses it in its own words.
    ``printable``: the caller has found ``text`` to be printable ASCII and line feeds only,
    so no character needs looking for here."""
    if not printable and _OUTSIDE.search(text):
        return None
    try:
        return _Reader(resolve, max_depth).read(text)
    except (_Declined, ValueError):
        # ValueError: a text ``resolve`` cannot read (`0b_`, `<<`), which the event path words.
        # It would also hide a ValueError bug of this reader, as a decline: slower, never wrong.
        return None


class _Reader:
    def __init__(self, resolve: Resolve, max_depth: int) -> None:
        self.resolve = resolve
        self.max_depth = max_depth
        self.lines: dict[Path_, int] = {}

    def read(self, text: str) -> tuple[dict[str, Any], dict[Path_, int]]:
        root: dict[str, Any] = {}
        lines = self.lines
        value_of, cache = self._value, _line_cache(self.resolve)
        # Open blocks, innermost last: (column, container, path, is_sequence). The innermost
        # one is also kept unpacked in locals, as almost every line belongs to it.
        stack: list[tuple[int, Any, Path_, bool]] = [(0, root, (), False)]
        column, container, path, is_sequence = stack[-1]
        pending: tuple[int, dict[str, Any], str, Path_] | None = None  # `key:` awaiting its block
        for number, line in enumerate(text.split("\n"), 1):
            entry = cache.get(line)
            if entry is None:
                entry = self._scan(line)
                if len(cache) < LINE_CACHE_SIZE:
                    cache[line] = entry
            if entry is _SKIP:
                continue
            indent, dash, key, kind, payload = entry
            if pending is not None:
                key_column, parent, parent_key, key_path = pending
                pending = None
                # A sequence may sit in its key's column; a mapping must be indented.
                if (dash and indent >= key_column) or (not dash and indent > key_column):
                    parent[parent_key] = [] if dash else {}
                    stack.append((indent, parent[parent_key], key_path, dash))
                    column, container, path, is_sequence = stack[-1]
                    if len(stack) > self.max_depth:
                        raise _Declined
            elif not lines:
                if indent or dash:
                    raise _Declined  # an indented or non-mapping root: the event path words it
                lines[()] = number
            while indent != column or dash is not is_sequence:
                if indent > column or len(stack) == 1:
                    raise _Declined  # a continuation line, or indentation libyaml must judge
                stack.pop()
                column, container, path, is_sequence = stack[-1]
            if is_sequence:
                child: Path_ = (*path, len(container))
            elif key in container:
                raise _Declined  # a duplicate key: the event path reports it
            else:
                child = (*path, key)
            lines[child] = number
            if kind is _SCALAR:
                value = payload
            elif kind is _LIST:
                if len(child) + 1 + _MAX_FLOW_DEPTH >= self.max_depth:
                    raise _Declined  # as ``_value`` declines a flow too deep
                value = list(payload)
                for index in range(len(payload)):
                    lines[(*child, index)] = number
            elif kind is _NONE:
                value = _EMPTY
            else:
                value = value_of(payload, child, number)
            if is_sequence:
                if value is _EMPTY:
                    raise _Declined
                container.append(value)
            elif value is _EMPTY:
                container[key] = None  # stays None unless an indented block follows
                pending = (indent, container, key, child)
            else:
                container[key] = value
        if not lines:
            raise _Declined  # no content: the event path says the file is empty
        return root, lines

    def _scan(self, line: str) -> Any:
        """What one line says, apart from where it sits: ``_SKIP`` (blank or a comment), or
        (indent, dash, key, kind, payload), where ``key`` is the mapping key (None on a
        ``- `` line) and the value is ``payload`` itself (``_SCALAR``), a simple flow list of
        the items in ``payload`` (``_LIST``), none (``_NONE``: a block may follow), or the text
        ``payload`` that ``_value`` reads in place (``_TEXT``). A pure function of the line's
        text, so that ``read`` may remember it: the same lines come back in every file."""
        body = line.lstrip(" ")
        if not body or body[0] == "#":
            return _SKIP
        indent = len(line) - len(body)
        dash = body[:2] == "- " or body == "-"
        key: str | None = None
        if dash:
            text = body[2:].lstrip(" ")
        else:
            match = _KEY.match(body)
            if match is None:
                raise _Declined
            key = self.resolve(match.group(1))
            if key.__class__ is not str:
                raise _Declined  # a non-text key: the event path reports it
            text = body[match.end() :]
        if not text or text[0] == "#":
            return indent, dash, key, _NONE, None
        first = text[0]
        # A scalar or a simple list: its value depends on the text alone, not on its path.
        if first not in _INDICATORS or first in "\"'":
            value = self._scalar(text)
            if value.__class__ in _IMMUTABLE:
                return indent, dash, key, _SCALAR, value
        elif first == "[" and len(text) <= _MAX_KEY:
            items = self._items(text)
            if items is not None and all(item.__class__ in _IMMUTABLE for item in items):
                return indent, dash, key, _LIST, tuple(items)
        return indent, dash, key, _TEXT, text

    def _value(self, text: str, path: Path_, number: int) -> Any:
        """The value written after `key: ` or `- `, or ``_EMPTY`` when there is none."""
        self.lines[path] = number
        if not text:
            return _EMPTY
        first = text[0]
        if first not in _INDICATORS or first in "\"'":  # a scalar: the common case
            return self._scalar(text)
        if first == "#":
            return _EMPTY
        if first in "[{" and (
            len(text) > _MAX_KEY or len(path) + 1 + _MAX_FLOW_DEPTH >= self.max_depth
        ):
            raise _Declined  # a flow's keys could be too long, or its levels too deep
        if first == "[" and (items := self._items(text)) is not None:
            for index in range(len(items)):
                self.lines[(*path, index)] = number
            return items
        if first in "[{":
            value, end = self._flow(text, 0, path, number, 0)
            _comment_only(text, end)
            return value
        raise _Declined

    def _scalar(self, text: str) -> Any:
        """A plain, double- or single-quoted scalar (``text`` starts with one), with what may
        follow it on its line."""
        first = text[0]
        if first == '"':
            end = text.find('"', 1)
            if end < 0 or "\\" in text[1:end]:
                raise _Declined
            _comment_only(text, end + 1)
            return text[1:end]
        if first == "'":
            end = text.find("'", 1)
            if end < 0 or text[end + 1 : end + 2] == "'":
                raise _Declined
            _comment_only(text, end + 1)
            return text[1:end]
        comment = text.find(" #")
        if comment >= 0:
            text = text[:comment]
        if text[-1] == " ":
            text = text.rstrip(" ")
        if _UNSURE_PLAIN.search(text):
            raise _Declined
        return self.resolve(text)

    def _items(self, text: str) -> list[Any] | None:
        """`[a, "b c", 3]`: plain or double-quoted items, split without the tokenizer (a comma
        inside quotes leaves an unbalanced item, which is declined); None for another flow."""
        simple = _PLAIN_LIST.match(text)
        if simple is None:
            return None
        inner = simple.group(1)
        items = [item.strip(" ") for item in inner.split(",")] if inner.strip(" ") else []
        values = []
        for item in items:
            if not item:
                raise _Declined
            if item[0] == '"':
                if len(item) < 2 or item[-1] != '"' or '"' in item[1:-1] or "\\" in item:
                    raise _Declined
                values.append(item[1:-1])
            elif item[0] in _INDICATORS or '"' in item:
                raise _Declined
            else:
                values.append(self.resolve(item))
        _comment_only(text, simple.end())
        return values

    def _flow(self, text: str, pos: int, path: Path_, number: int, depth: int) -> tuple[Any, int]:
        """One flow node starting at ``pos``: its value and the position after it."""
        if depth > _MAX_FLOW_DEPTH:
            raise _Declined
        token = _FLOW_TOKEN.match(text, pos)
        if token is None:
            raise _Declined
        self.lines[path] = number
        punct = token.group("punct")
        if punct is None:
            if token.group("plain") is not None:
                return self.resolve(token.group("plain")), token.end()
            if token.group("dq") is not None:
                return token.group("dq"), token.end()
            if token.group("sq") is not None:
                return token.group("sq"), token.end()
            raise _Declined
        if punct not in "[{":
            raise _Declined
        closing = "]" if punct == "[" else "}"
        pos = token.end()
        container: Any = [] if punct == "[" else {}
        while True:
            token = _FLOW_TOKEN.match(text, pos)
            if token is None:
                raise _Declined
            if token.group("punct") == closing and not container:
                return container, token.end()  # `[]` or `{}`
            if isinstance(container, list):
                item, pos = self._flow(text, pos, (*path, len(container)), number, depth + 1)
                container.append(item)
            else:
                key_text = token.group("plain")
                key = self.resolve(key_text) if key_text is not None else None
                if not isinstance(key, str) or key in container:
                    raise _Declined
                colon = _FLOW_TOKEN.match(text, token.end())
                if colon is None or colon.group("colon") is None:
                    raise _Declined
                container[key], pos = self._flow(text, colon.end(), (*path, key), number, depth + 1)
            separator = _FLOW_TOKEN.match(text, pos)
            if separator is None:
                raise _Declined
            mark = separator.group("punct")
            if mark == closing:
                return container, separator.end()
            if mark != ",":
                raise _Declined
            pos = separator.end()
            after = _FLOW_TOKEN.match(text, pos)
            if after is not None and after.group("punct") in ("]", "}", ","):
                raise _Declined  # a trailing or doubled comma


def _comment_only(text: str, end: int) -> None:
    """What follows a value on its line (from ``end``): nothing, or a comment after a space."""
    rest = text[end:]
    body = rest.lstrip(" ")
    if body and not (body[0] == "#" and body != rest):
        raise _Declined
