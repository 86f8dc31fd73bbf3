"""Where the keys of a manifest, a set or lfr.yaml were written: the ``Located`` protocol the
rules of ``core.desired_fields`` and ``core.desired_links`` read lines through, and
``path_origins``, which reads a loaded document's line map directly. Pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .model import LoadedManifest, LoadedSet
from .vocabulary import Origin

Path_ = tuple[str | int, ...]


class Located(Protocol):
    """A document whose keys have lines: a manifest, a set, or lfr.yaml (a policy's selector
    is read by the same rules as a set's)."""

    def origin_of(self, *path: str | int) -> Origin: ...


def path_origins(loaded: Located) -> Callable[[Path_], Origin]:
    """Where each path was written. A manifest's keys and list items are nearly all on their
    own line: read straight from its line map (the hot path of a large plan, a call per key of
    every manifest); anything else (a path the map lacks, lfr.yaml's selector) through
    ``origin_of``, which falls back to the nearest enclosing path."""
    if not isinstance(loaded, LoadedManifest | LoadedSet):
        return lambda path: loaded.origin_of(*path)
    file, lines = loaded.document.file, loaded.document.lines

    def origin(path: Path_) -> Origin:
        line = lines.get(path)
        return loaded.origin_of(*path) if line is None else Origin(file, line)

    return origin
