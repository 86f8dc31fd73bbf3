"""The fast path of writing a new manifest: the plain block style, without ruamel's emitter.

Owns ``plain_dump``: the text of a new export document (the tree ``adapters.nodes.as_node``
built, its flow and block choices kept; the label comments export puts beside option ids) in
the layout ruamel.yaml writes, about 20x faster (ruamel's emitter costs ~10 ms a document, most
of an ``export --all`` of thousands). It only writes what it is sure of: plain scalars that read
back as themselves, single-quoted text otherwise; anything else (a ``|`` block, a key outside
the manifest alphabet, a character that would need an escape) returns None, and the caller uses
ruamel. The caller also reads the text back through the manifest loader and keeps it only if it
holds exactly the values meant, so the fast path can never write a different manifest.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

from .yaml_events import plain_or_value_error

_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$./-]*")
# Text written plain: no YAML indicator first; then no `: `, ` #`, tab or line break, and in a
# flow collection no flow punctuation and no `:` (which libyaml refuses there).
_PLAIN = re.compile(r"[A-Za-z0-9_$(.][^\n\t]*")
_NOT_PLAIN = re.compile(r": | #|:$")
_NOT_PLAIN_IN_FLOW = re.compile(r"[\[\]{},:]")
_PRINTABLE = re.compile(r"[\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


class _Unsure(Exception):
    """Outside what the fast path writes: ruamel writes this document."""


def plain_dump(document: CommentedMap) -> str | None:
    """The document as block-style YAML (2-space mappings, sequences ``  - `` under their key),
    or None when it holds anything the fast path does not write."""
    lines: list[str] = []
    try:
        _mapping(document, 0, lines)
    except _Unsure:
        return None
    return "\n".join(lines) + "\n"


def _mapping(node: CommentedMap, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in node.items():
        if not isinstance(key, str) or _KEY.fullmatch(key) is None:
            raise _Unsure
        note = _comment(node, key)
        if isinstance(value, CommentedMap) and not value.fa.flow_style():
            if note or not value:
                raise _Unsure
            lines.append(f"{pad}{key}:")
            _mapping(value, indent + 2, lines)
        elif isinstance(value, CommentedSeq) and not value.fa.flow_style():
            if note or not value:
                raise _Unsure
            lines.append(f"{pad}{key}:")
            for item in value:
                lines.append(f"{pad}  - {_flow(item, False)}")
        else:
            lines.append(f"{pad}{key}: {_flow(value, False)}{note}")


def _comment(node: CommentedMap, key: str) -> str:
    items = node.ca.items.get(key)
    token = items[2] if items and len(items) > 2 else None
    if token is None:
        return ""
    text = str(token.value).removesuffix("\n").lstrip(" ")
    if not text.startswith("# ") or "\n" in text:
        raise _Unsure
    return "  " + text


def _flow(value: Any, inside: bool) -> str:
    """A value on one line: a scalar, or a flow collection (``inside``: within one)."""
    if isinstance(value, CommentedMap):
        if not value.fa.flow_style():
            raise _Unsure
        parts = []
        for key, item in value.items():
            if not isinstance(key, str) or _KEY.fullmatch(key) is None:
                raise _Unsure
            parts.append(f"{key}: {_flow(item, True)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, CommentedSeq):
        if not value.fa.flow_style():
            raise _Unsure
        return "[" + ", ".join(_flow(item, True) for item in value) + "]"
    return _scalar(value, inside)


def _scalar(value: Any, inside: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if not re.fullmatch(r"-?\d+\.\d+", text):
            raise _Unsure  # exponents, inf, nan: ruamel's spelling
        return text
    if isinstance(value, LiteralScalarString) or not isinstance(value, str):
        raise _Unsure
    if _PRINTABLE.fullmatch(value) is None:
        raise _Unsure
    if (
        not isinstance(value, SingleQuotedScalarString)
        and _PLAIN.fullmatch(value)
        and _NOT_PLAIN.search(value) is None
        and (not inside or _NOT_PLAIN_IN_FLOW.search(value) is None)
        and value == value.strip()
        and _reads_as_text(value)
    ):
        return value
    return "'" + value.replace("'", "''") + "'"


def _reads_as_text(text: str) -> bool:
    try:
        return plain_or_value_error(text) == text and isinstance(plain_or_value_error(text), str)
    except ValueError:
        return False
