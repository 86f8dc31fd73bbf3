"""Finding and reading ``lfr.yaml``: the file in, valid settings or every problem out.

Owns where the file is looked for and how it is read. It is found by walking up from the current
directory to the root of the git repository (the directory holding ``.git``); outside a git
repository only the current directory is looked at, so a stray ``/tmp/lfr.yaml`` never steers a
run. It is read like a manifest (``loader.read_file`` and ``load_bytes``: a regular file, the
size cap, strict UTF-8, no refused character, every YAML hazard refused) and its shape is
``core.settings``'. Problems name the file as the user would (relative to the current directory
when it is below it) and are scrubbed of anything that spells a key.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.redact import redact
from ..core.settings import FILE_NAME, LoadedSettings, parse_settings
from ..core.vocabulary import Origin, Problem
from .loader import load_bytes, read_file

_EMPTY = "file is empty: expected a manifest document"


def find_settings(start: Path) -> Path | None:
    """The ``lfr.yaml`` that governs ``start``: in it or a parent up to the git root."""
    here = Path(os.path.abspath(start))
    chain = (here, *here.parents)
    top = next((directory for directory in chain if (directory / ".git").exists()), here)
    for directory in chain:
        candidate = directory / FILE_NAME
        if os.path.lexists(candidate):  # whatever it is: reading it decides, with a message
            return candidate
        if directory == top:
            break
    return None


def shown_name(path: Path, cwd: Path, *, found: bool) -> str:
    """``path`` as problems name it: relative to ``cwd`` when below it; a file ``found`` in a
    parent directory as ``../lfr.yaml``; a file given (``--config``) as given."""
    absolute, here = os.path.abspath(path), os.path.abspath(cwd)
    relative = os.path.relpath(absolute, here)
    if found or not relative.startswith(".."):
        return Path(relative).as_posix()
    return path.as_posix()


def read_settings(path: Path, shown: str) -> tuple[LoadedSettings | None, list[Problem]]:
    """The settings in ``path`` (named ``shown`` in problems), or every problem with it."""
    raw = read_file(path)
    if isinstance(raw, str):
        return None, [Problem(Origin(shown, 0), raw.replace(" as manifests", ""))]
    return settings_from_bytes(raw, shown)


def settings_from_bytes(raw: bytes, shown: str) -> tuple[LoadedSettings | None, list[Problem]]:
    """The settings in ``raw`` (a file's bytes, or ``lfr init``'s before it writes them)."""
    loaded = load_bytes(raw, shown)
    problems = [Problem(p.origin, redact(p.message, "")) for p in loaded.problems]
    if [p.message for p in problems] == [_EMPTY]:
        return None, [
            Problem(Origin(shown, 0), "file is empty: expected `version: 1` and settings")
        ]
    if problems:
        return None, problems
    first, *more = loaded.documents
    if more:
        return None, [Problem(Origin(shown, more[0].line), "lfr.yaml holds one YAML document")]
    return parse_settings(first)
