"""What is wrong with an ``lfr.yaml``, said at the ``file:line`` of each key and without ever
quoting a value the user wrote (only key names and types): a refused value may be a secret.

Owns the refusal of a key written into the file (``find_secrets``: Lightfield's key prefix in any
value or key name, or a credential-like key name holding anything), the wording of the shape's
problems from pydantic's error records (``shape_problems``; ``core.settings`` validates and
passes them in, so pydantic stays there) and the "did you mean" hint. Called by
``core.settings``. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .redact import redact
from .vocabulary import Document, Origin, Path_, Problem

# --- secrets: a key in the file is refused, never quoted ---------------------------------------

# Key names that hold a credential (``api_key_env`` names a variable and is not one of them).
_SECRET_NAME = re.compile(
    r"(^|[_-])(api[_-]?key|apikey|key|token|secret|password|passwd|bearer|auth|authorization)$",
    re.IGNORECASE,
)
_KEY_ADVICE = (
    "put the key in a secret or an environment variable and give that variable's NAME as "
    "api_key_env (e.g. api_key_env: LIGHTFIELD_PRODUCTION_API_KEY)"
)


def find_secrets(data: Any) -> dict[Path_, str]:
    """Where ``data`` (the file as read) holds a key or a secret, each with its message."""
    found: dict[Path_, str] = {}
    _find_secrets(data, (), found)
    return found


def _find_secrets(value: Any, path: Path_, found: dict[Path_, str]) -> None:
    if isinstance(value, str):
        if _looks_like_key(value):
            found[path] = (
                f"{_where(path)} holds what looks like an API key (not shown): {_KEY_ADVICE}"
            )
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_secrets(item, (*path, index), found)
    elif isinstance(value, dict):
        for key, item in value.items():
            here = (*path, key)
            if isinstance(key, str) and _looks_like_key(key):
                found[here] = (
                    f"a key name in {_where(path)} looks like an API key (not shown): {_KEY_ADVICE}"
                )
            elif isinstance(key, str) and _SECRET_NAME.search(key) and item not in (None, ""):
                found[here] = (
                    f"{_where(here)}: lfr.yaml must not hold an API key or other secret "
                    f"(not shown): {_KEY_ADVICE}"
                )
            else:
                _find_secrets(item, here, found)


def _looks_like_key(text: str) -> bool:
    """Lightfield's key prefix (``sk_lf_``) in any spelling ``core.redact`` recognises."""
    return redact(text, "") != text


# --- pydantic's errors as messages that never quote a value ------------------------------------


def shape_problems(
    errors: Iterable[Mapping[str, Any]],
    document: Document,
    *,
    skip: tuple[Path_, ...],
    known_keys: Mapping[str, Sequence[str]],
    version: int,
) -> list[Problem]:
    """pydantic's ``errors`` of ``document`` as problems, one a key, except below the secrets
    in ``skip`` (already said); ``known_keys`` are the keys each mapping allows (by the section
    names ``_section`` gives), ``version`` the file's one format."""
    seen: dict[Path_, Problem] = {}
    for error in errors:
        loc = tuple(error["loc"])
        is_key = bool(loc) and loc[-1] == "[key]"
        path: Path_ = tuple(part for part in loc if part != "[key]")
        if any(path[: len(secret)] == secret for secret in skip):
            continue
        message = _message(error, path, is_key, known_keys, version)
        seen.setdefault(path, Problem(Origin(document.file, document.line_of(path)), message))
    return sorted(seen.values())


def _where(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path) or "the file"


def _section(path: Path_) -> str:
    """Which mapping ``path`` (a key) is in, as ``known_keys`` names it."""
    parent = path[:-1]
    if len(parent) == 2 and parent[0] == "environments":
        return "environment"
    if len(parent) == 2 and parent[0] == "policies":
        return "policy"
    if parent and parent[-1] == "manifests":
        return "manifests"
    return _where(parent) if parent else ""


def _message(
    error: Mapping[str, Any],
    path: Path_,
    is_key: bool,
    known_keys: Mapping[str, Sequence[str]],
    version: int,
) -> str:
    where = _where(path)
    kind = error["type"]
    if is_key and kind == "string_pattern_mismatch":
        return (
            f"environment name {path[-1]!r} must be lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit (at most 63): it becomes part of CI job names"
        )
    if kind == "extra_forbidden":
        known = known_keys.get(_section(path), [])
        key = str(path[-1])
        return f"unknown key {where!r}{suggest(key, known)}" + (
            f"; allowed here: {', '.join(known)}" if known else ""
        )
    if kind == "missing":
        return f"missing required key {where!r}"
    if kind == "literal_error" and path == ("version",):
        return f"version must be {version} (the only format of lfr.yaml)"
    if kind == "literal_error" and path[-1] == "severity":
        return f"{where} must be error or warn"
    if kind == "string_pattern_mismatch":
        if path[-1] == "api_key_env":
            return (
                f"{where} must be the NAME of an environment variable (letters, digits and "
                "'_', not starting with a digit), e.g. LIGHTFIELD_PRODUCTION_API_KEY"
            )
        if path[-1] == "base_url":
            return f"{where} must be an http(s) URL without credentials, query or fragment"
        if path[-1] == "rule":
            return f"{where} must be a rule name (lowercase letters and '-'), e.g. amount-change"
        if path[-1] == "default_environment":
            return f"{where} must be an environment name (lowercase letters, digits, '_', '-')"
        return f"{where} must be a path relative to lfr.yaml (not absolute)"
    if kind == "value_error":
        return f"{where} {str(error['msg']).removeprefix('Value error, ')}"
    if kind == "string_too_short":
        return f"{where} must not be empty"
    if kind == "too_short":
        return f"{where} must list at least one entry"
    if kind in ("greater_than", "greater_than_equal", "less_than_equal", "less_than"):
        bound = {"greater_than": "greater than", "greater_than_equal": "at least",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]  # fmt: skip
        limit = next(iter(error.get("ctx", {}).values()), "")
        return f"{where} must be {bound} {limit}"
    expected = {
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "list_type": "a list",
        "string_type": "text",
        "float_type": "a number",
        "int_type": "a whole number",
        "int_from_float": "a whole number",
    }.get(kind)
    if expected is not None:
        return f"{where} must be {expected}, not {_describe(error.get('input'))}"
    return f"{where}: {kind.replace('_', ' ')}"


def _describe(value: Any) -> str:
    """The type of a value, never the value (it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def suggest(word: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the names in ``known`` close to ``word``, else nothing."""
    hint = difflib.get_close_matches(word, list(known), n=2, cutoff=0.6)
    if not hint and word:  # `prod` for `production`: too short for a close match
        hint = [name for name in known if name.startswith(word)][:2]
    return f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""
