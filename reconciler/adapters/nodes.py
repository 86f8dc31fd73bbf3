"""Manifest values as ruamel.yaml round-trip nodes, and the round-trip YAML that writes them.

Owns how export writes a value: short lists and references in flow style, longer ones as block
sequences, multi-line text as a ``|`` block when the block keeps it exactly, ``null`` written out,
instants as plain timestamps; the indentation of an existing file guessed so a merge keeps it;
and the label comment export puts beside a select value written as an option id.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

from ..core.spelling import Instant, lookup_key

# Longest flow list written on one line; longer lists are written as block sequences.
FLOW_WIDTH = 72


class _Representer(RoundTripRepresenter):
    """Round-trip representer that writes ``null`` (not an empty value) and plain instants."""

    def represent_none(self, data: Any) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")

    def represent_instant(self, data: Instant) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:timestamp", str(data))


_Representer.add_representer(type(None), _Representer.represent_none)
_Representer.add_representer(Instant, _Representer.represent_instant)


def round_trip_yaml(mapping: int = 2, sequence: int = 4, offset: int = 2) -> YAML:
    yaml = YAML()  # round trip, YAML 1.2
    yaml.Representer = _Representer
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long text value over several lines
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # [{email: a}], not [email: a]
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation of an existing file, so a merge keeps it."""
    mapping, offset = 0, -1
    previous: tuple[int, str] | None = None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped.startswith("---"):
            continue
        indent = len(line) - len(stripped)
        if previous is not None and previous[1].rstrip().endswith(":"):
            step = indent - previous[0]
            if stripped.startswith("- ") and offset < 0 and step >= 0:
                offset = step
            elif not stripped.startswith("- ") and step > 0 and not mapping:
                mapping = step
        previous = (indent, stripped)
    mapping = mapping or 2
    offset = offset if offset >= 0 else 2
    return mapping, offset + 2, offset


def as_node(value: Any, flow: bool = False) -> Any:
    """A manifest value as a round-trip node: short lists and references in flow style."""
    if isinstance(value, dict):
        inline = flow or lookup_key("", value) is not None
        node = CommentedMap((k, as_node(v, inline)) for k, v in value.items())
        if inline:
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        return node
    if isinstance(value, list):
        inline = flow or len(_flow_text(value)) <= FLOW_WIDTH
        seq = CommentedSeq(as_node(v, inline) for v in value)
        if inline:
            seq.fa.set_flow_style()
        else:
            seq.fa.set_block_style()
        return seq
    if isinstance(value, str) and not isinstance(value, Instant):
        if flow and ":" in value:
            # libyaml (the manifest loader's parser) refuses a plain ':' inside [...] / {...}.
            return SingleQuotedScalarString(value)
        if not flow and _literal_ok(value):
            return LiteralScalarString(value)
        if type(value) is not str:
            # The core's comparison types (Text, WebAddress, EmailAddress) are plain text here.
            return str(value)
    return value


def as_node_in(container: CommentedMap | CommentedSeq, value: Any) -> Any:
    """``value`` as a node for an existing mapping or list (flow inside a flow collection)."""
    return as_node(value, flow=bool(container.fa.flow_style()))


def _flow_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _literal_ok(text: str) -> bool:
    """Multi-line text reads best as a ``|`` block; only when the block keeps it exactly."""
    lines = text.split("\n")
    return (
        len(lines) > 1
        and "\r" not in text
        and not text.startswith((" ", "\t"))
        and all(line == line.rstrip() for line in lines)
        and not text.endswith("\n\n")
    )


def replace_note(mapping: CommentedMap, key: Any, old: str | None, new: str | None) -> None:
    """Keep an option id's label comment right: a comment export wrote for the old value is
    replaced; any other comment is the user's and stays."""
    items = mapping.ca.items.get(key)
    token = items[2] if items and len(items) > 2 else None
    if token is None:
        if new is not None:
            mapping.yaml_add_eol_comment(new, key)
        return
    first, newline, rest = str(token.value).partition("\n")
    if old is None or first.strip() != f"# {old}":
        return
    if new is not None:
        token.value = f"# {new}{newline}{rest}"
    elif rest.strip():
        token.value = f"{newline}{rest}"
    else:
        items[2] = None


def dump(yaml: YAML, documents: list[Any]) -> str:
    stream = StringIO()
    yaml.dump_all(documents, stream)
    return stream.getvalue()
