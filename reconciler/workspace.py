"""Which Lightfield a run talks to: the real API, or the embedded local workspace (architecture.md
§7).

Owns the target rules and nothing else: with ``LIGHTFIELD_API_KEY`` (or ``--api-key``) the run
targets ``LIGHTFIELD_BASE_URL`` / ``--base-url`` (default: the real API); with no key it targets
an embedded emulator on a SQLite file under ``.lfr/``, seeded with the demo data the example
manifests refer to. Under ``CI=true`` a missing key is refused unless ``--local`` is given, so a
CI job whose secret went missing fails loudly instead of planning against demo data; a key set
but empty is refused everywhere. A key or base URL the client would refuse (malformed, a bad
port, plain http to a non-loopback host, credentials in the URL, whitespace inside the key, the
key inside the URL) is a ``TargetError`` here, before the CLI prints or sends anything; its
message never echoes either value.

With an ``lfr.yaml`` (``load_run_settings``), the chosen environment supplies what flags and
``LIGHTFIELD_*`` variables do not: its base URL, the variable its key is read from, its manifest
directories and ignore globs, the rails' thresholds and the write rate. Flags and
``LIGHTFIELD_*`` variables win over the file. An environment whose key variable is not set is
refused (never the local workspace's demo data in its place) unless ``--local``. With no
``lfr.yaml`` every rule is exactly what it was without one.

Called by the CLI (``cli/``) only; it is the one module besides the CLI that may wire the emulator
to the client, because the local workspace is exactly that wiring.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .adapters.buckets import RateConfig
from .adapters.client import DEFAULT_BASE_URL, DEFAULT_RATES, LightfieldClient
from .adapters.http import check_api_key, check_base_url
from .adapters.settings_file import find_settings, read_settings, shown_name
from .core.errors import LfrError
from .core.redact import redact
from .core.settings import (
    DEFAULT_MAX_CHANGED_FRACTION,
    DEFAULT_MIN_RECORDS,
    DEFAULT_WRITE_RATE,
    Environment,
    LoadedSettings,
    Selection,
    choose_environment,
    every_environment,
    glob_pattern,
)
from .core.vocabulary import Problem

LOCAL_WORKSPACE_DIR = Path(".lfr")
LOCAL_DB_NAME = "workspace.sqlite3"
# The demo seed's documented full-access key; it only ever opens the local SQLite file.
LOCAL_API_KEY = "sk_lf_demo_full"
LOCAL_BASE_URL = "http://local.workspace"


class TargetError(LfrError):
    """The run cannot decide where to point (e.g. no key under CI)."""


@dataclass(frozen=True)
class Target:
    """Where requests go. ``api_key`` is excluded from ``repr`` so it never lands in a log."""

    base_url: str
    api_key: str = field(repr=False)
    local_db: Path | None = None
    # Where the key was read from, when an lfr.yaml environment is in play ("" otherwise).
    key_source: str = ""

    @property
    def is_local(self) -> bool:
        return self.local_db is not None

    @property
    def identity(self) -> str:
        """What the idempotency key calls the target org: stable, and never the key."""
        return "local-workspace" if self.local_db is not None else self.base_url

    def describe(self) -> str:
        """One line for the top of the CLI's output; never includes the key."""
        if self.local_db is not None:
            return (
                f"Target: local workspace ({self.local_db}, demo data). "
                "Set LIGHTFIELD_API_KEY to target Lightfield."
            )
        if self.key_source:
            return f"Target: {self.base_url} (key from {self.key_source})"
        return f"Target: {self.base_url}"


def choose_target(
    env: Mapping[str, str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    local: bool = False,
    workspace_dir: Path = LOCAL_WORKSPACE_DIR,
    environment: Environment | None = None,
    environment_name: str = "",
) -> Target:
    """Apply the architecture.md §7 rules to flags (which win), environment variables and, after
    them, the lfr.yaml ``environment`` (its key variable and base URL)."""
    if local:
        return Target(LOCAL_BASE_URL, LOCAL_API_KEY, workspace_dir / LOCAL_DB_NAME)
    # An empty key is still a key someone meant to set (a CI secret that came out empty): it is
    # refused rather than taken as "no key", which would quietly plan against demo data.
    key, key_from = api_key, "--api-key"
    if key is None:
        key, key_from = env.get("LIGHTFIELD_API_KEY"), "LIGHTFIELD_API_KEY"
    if key is None and environment is not None:
        key, key_from = env.get(environment.api_key_env), environment.api_key_env
        if key is None:
            raise TargetError(
                f"{environment.api_key_env} is not set: it holds the API key of environment "
                f"{environment_name!r} (lfr.yaml). Set it (in CI: map the secret into the job's "
                "env), or pass --local to use the demo workspace on purpose."
            )
    url = base_url or env.get("LIGHTFIELD_BASE_URL") or None
    url_from = "LIGHTFIELD_BASE_URL / --base-url"
    if url is None and environment is not None and environment.base_url is not None:
        url, url_from = environment.base_url, f"base_url of environment {environment_name!r}"
    if url is not None:
        try:
            check_base_url(url)
        except ValueError as exc:
            raise TargetError(f"{exc} ({url_from})") from None
    if key is not None:
        key = key.strip()  # a key pasted from a file often brings its newline
        try:
            check_api_key(key)
        except ValueError as exc:
            where = "LIGHTFIELD_API_KEY / --api-key" if environment is None else key_from
            raise TargetError(f"{exc} ({where})") from None
        if url is not None and redact(url, key) != url:
            # The target line prints the base URL.
            raise TargetError(f"base URL must not contain an API key ({url_from})")
        source = "" if environment is None else key_from
        if source and source != "--api-key":
            source = "$" + source
        return Target(url or DEFAULT_BASE_URL, key, key_source=source)
    if url is not None:
        raise TargetError(
            "A base URL is set but no API key: set LIGHTFIELD_API_KEY or pass --api-key."
        )
    if env.get("CI", "").lower() == "true":
        raise TargetError(
            "No LIGHTFIELD_API_KEY under CI=true: refusing to fall back to the local workspace. "
            "Provide the secret, or pass --local to use the demo workspace on purpose."
        )
    return Target(LOCAL_BASE_URL, LOCAL_API_KEY, workspace_dir / LOCAL_DB_NAME)


class SettingsProblems(LfrError):
    """``lfr.yaml`` is not valid: ``problems`` says where, each at ``file:line``."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{file} is not valid ({len(problems)} {noun}); nothing was run")
        self.problems = problems


@dataclass(frozen=True)
class RunSettings:
    """What ``lfr.yaml`` decides for one run; ``file`` None: there is none (today's rules)."""

    file: Path | None = None
    loaded: LoadedSettings | None = None
    selection: Selection | None = None

    @property
    def environment(self) -> Environment | None:
        return self.selection.environment if self.selection is not None else None

    @property
    def environment_name(self) -> str:
        name = self.selection.name if self.selection is not None else None
        return name or ""

    def every_environment(self) -> list[RunSettings]:
        """These settings once per environment of the file (itself without a file)."""
        if self.loaded is None:
            return [self]
        return [RunSettings(self.file, self.loaded, one) for one in every_environment(self.loaded)]

    def describe(self) -> str | None:
        """``environment: production (lfr.yaml:9, --env)`` for stderr: the name, the line that
        defines it and why it was chosen; None without an environment."""
        selection = self.selection
        if selection is None or selection.name is None:
            return None
        return f"environment: {selection.name} ({selection.origin}, {selection.reason})"

    def manifest_paths(self, given: Path | None) -> list[Path]:
        """The manifests a command reads: ``given`` (an argument) wins; then the environment's
        directories, then the file's (relative to lfr.yaml); else ``manifests``."""
        if given is not None:
            return [given]
        if self.file is None or self.selection is None:
            return [Path("manifests")]
        base = self.file.parent
        return [_joined(base, path) for path in self.selection.manifest_paths]

    def ignore(self) -> Callable[[str], bool] | None:
        """Whether a file found below a manifest directory is not a manifest: lfr.yaml itself,
        or one of the ignore globs (relative to lfr.yaml's directory); None without a file."""
        if self.file is None or self.selection is None:
            return None
        base = os.path.abspath(self.file.parent)
        itself = os.path.abspath(self.file)
        patterns = [glob_pattern(glob) for glob in self.selection.ignore]

        def ignored(path: str) -> bool:
            absolute = os.path.abspath(path)
            if absolute == itself:  # manifests at the root (paths: [.]): lfr.yaml is not one
                return True
            relative = os.path.relpath(absolute, base).replace(os.sep, "/")
            if relative.startswith("../"):
                return False
            return any(pattern.match(relative) for pattern in patterns)

        return ignored

    @property
    def max_changed_fraction(self) -> float:
        return (
            self.selection.rails.max_changed_fraction
            if self.selection
            else DEFAULT_MAX_CHANGED_FRACTION
        )

    @property
    def min_records(self) -> int:
        return self.selection.rails.min_records if self.selection else DEFAULT_MIN_RECORDS

    @property
    def write_rate(self) -> float:
        return self.selection.write_rate if self.selection else DEFAULT_WRITE_RATE

    @property
    def stamp(self) -> bool:
        return self.selection.stamp if self.selection else False


def load_settings_file(cwd: Path, config: Path | None) -> RunSettings:
    """``config`` (``--config`` / ``$LFR_CONFIG``) or the ``lfr.yaml`` found from ``cwd``, read
    and validated, no environment chosen (``RunSettings()`` when there is none);
    ``SettingsProblems`` when it is invalid."""
    path = config if config is not None else find_settings(cwd)
    if path is None:
        return RunSettings()
    shown = shown_name(path, cwd, found=config is None)
    loaded, problems = read_settings(path, shown)
    if loaded is None:
        raise SettingsProblems(shown, problems)
    return RunSettings(path, loaded)


def load_run_settings(
    cwd: Path,
    *,
    config: Path | None,
    environment: str | None,
    environment_from: str,
) -> RunSettings:
    """The settings of a run started in ``cwd`` (``load_settings_file``) and the
    ``environment`` asked for (from ``environment_from``: "--env" or "$LFR_ENV").
    ``SettingsProblems`` when the file is invalid, ``LfrError`` when the environment cannot be
    chosen."""
    found = load_settings_file(cwd, config)
    if found.loaded is None:
        if environment is not None:
            raise LfrError(
                f"{environment_from} {environment} asks for an environment, but no lfr.yaml was "
                "found (looked in the current directory and its parents up to the git root); "
                "pass --config PATH or create lfr.yaml"
            )
        return found
    selection = choose_environment(found.loaded, environment, environment_from)
    return RunSettings(found.file, found.loaded, selection)


def _joined(base: Path, relative: str) -> Path:
    """``relative`` below ``base``, as a path from the current directory (``manifests``,
    ``../crm/opportunities``), so problems name files as the user would type them."""
    return Path(os.path.relpath(os.path.join(base, relative)))


def open_client(target: Target, rates: RateConfig | None = DEFAULT_RATES) -> LightfieldClient:
    """A client for ``target``; for the local workspace, over an in-process ASGI transport.

    ``rates`` paces the client against the real API's per-second limits. The local workspace
    has no such limit: it is one user's SQLite file in this process, so its emulator limits
    nothing and the client is not paced (pacing a 10,000-record plan at 25 requests a second
    cost 20 s of waiting). Everything else the API enforces (ids and links per request, body
    size, validation, idempotency) the emulator still does."""
    if target.local_db is None:
        return LightfieldClient(target.api_key, base_url=target.base_url, rates=rates)
    # Imported here: only local runs need the emulator, and it costs every command ~85 ms.
    from .emulator import Emulator
    from .emulator.ratelimit import RateLimitConfig

    try:
        target.local_db.parent.mkdir(parents=True, exist_ok=True)
        emulator = Emulator(
            db=str(target.local_db), seed="demo", rate_limits=RateLimitConfig(enabled=False)
        )
    except (OSError, sqlite3.Error) as exc:  # .lfr is a file, the database is not one, ...
        raise LfrError(f"cannot open the local workspace {target.local_db}: {exc}") from None
    return LightfieldClient.for_asgi_app(
        emulator.app, target.api_key, base_url=target.base_url, rates=None
    )
