"""The words every floor shares: a ``Problem`` (what is wrong, at ``file:line``), an ``Origin``
(where a manifest or one key of it was written) and a ``Document`` (one YAML document's values
and the line of every path in it). They lived in the YAML loader and the manifest model, which
put the loader under the model; here they stand under everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How deep a manifest value may nest (the loader refuses deeper; a saved plan allows a few more).
MAX_DEPTH = 64


Path_ = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Origin:
    """Where a manifest, or one key of it, was written. ``column`` (from 1) only where the
    place is a character, as a YAML syntax error is; 0 otherwise."""

    file: str
    line: int
    column: int = 0

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"
        )


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, at a place a user can jump to (``origin.line`` is 0 when
    the problem is the whole file). Sorted by file, line, then message."""

    origin: Origin
    message: str

    @property
    def file(self) -> str:
        return self.origin.file

    @property
    def line(self) -> int:
        return self.origin.line

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}" if self.line else f"{self.file}: {self.message}"


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
