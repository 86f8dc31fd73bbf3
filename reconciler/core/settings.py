"""``lfr.yaml``, a repository's settings, as a pydantic model; and the choice of an environment.

Owns the file's shape and rules, independent of where it was read: the manifest directories and
ignore globs, the mass-change rail's thresholds, the write rate, and the named environments
(a base URL, the *name* of the variable holding the key, manifest directories). ``parse_settings``
is the entry point: a loaded YAML document in, ``LoadedSettings`` or every ``Problem`` out, each at
the ``file:line`` of the key concerned. ``choose_environment`` applies the selection rules
(``--env`` / ``$LFR_ENV``, ``default_environment``, the only one) and says why it chose.

A key written into the file is refused, with the file's other problems, and no message ever
quotes a value the user wrote: ``core.settings_problems`` says what is wrong. ``glob_pattern``
is the manifests' ignore globs' rule. Pure: no I/O; the file is found and read by
``adapters.settings_file``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from .errors import LfrError
from .policies import check_policies
from .policy_settings import PipelineSettings, PolicySettings
from .settings_problems import find_secrets, shape_problems, suggest
from .vocabulary import Document, Origin, Problem

FILE_NAME = "lfr.yaml"
SCHEMA_VERSION = 1
# Environment names flow into workflow YAML, job names and concurrency groups (`lfr envs
# --json` feeds a GitHub Actions matrix): a charset that needs no quoting anywhere.
ENV_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
BASE_URL_PATTERN = r"^https?://[^\s@?#\\]+$"
DEFAULT_MANIFEST_PATHS = ("manifests",)
# Today's defaults (cli apply's options): the file may change them, a flag wins over the file.
DEFAULT_MAX_CHANGED_FRACTION = 0.30
DEFAULT_MIN_RECORDS = 10
DEFAULT_WRITE_RATE = 25.0


class SettingsError(LfrError):
    """The settings cannot give what was asked (an unknown environment, none chosen)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
Variable = Annotated[str, StringConstraints(pattern=VARIABLE_PATTERN)]


def _inside(path: str) -> str:
    """A path that stays inside lfr.yaml's directory: a pull request that edits lfr.yaml must
    not point the run at other files of the machine (a CI runner's) to have them quoted back."""
    depth = 0
    for part in path.replace("\\", "/").split("/"):
        depth += -1 if part == ".." else 0 if part in ("", ".") else 1
        if depth < 0:
            raise ValueError("leads outside the directory of lfr.yaml")
    return path


# Relative to lfr.yaml's directory, so the file means the same on every machine and in CI.
RelativePath = Annotated[
    str, StringConstraints(min_length=1, pattern=r"^[^/\\]"), AfterValidator(_inside)
]


class ManifestSettings(_Strict):
    """Where the manifests are: directories (or files) and the YAML in them that is not one."""

    paths: list[RelativePath] | None = Field(
        default=None,
        min_length=1,
        description="Directories (or files) holding manifests, relative to lfr.yaml; "
        "default: [manifests].",
    )
    ignore: list[RelativePath] | None = Field(
        default=None,
        description="Globs (relative to lfr.yaml; `*` within a directory, `**` across "
        "directories) of YAML files in the tree that are not manifests, e.g. "
        "**/kustomization.yaml: skipped, not reported.",
    )


class RailSettings(_Strict):
    """The mass-change rail of apply: refuse (without --force) a plan that changes more than
    ``max_changed_fraction`` of the managed records when at least ``min_records`` are managed."""

    max_changed_fraction: float = Field(
        default=DEFAULT_MAX_CHANGED_FRACTION,
        ge=0,
        le=1,
        description="Fraction of the managed records a plan may change without --force.",
    )
    min_records: int = Field(
        default=DEFAULT_MIN_RECORDS,
        ge=0,
        description="The rail applies from this many managed records.",
    )


class Environment(_Strict):
    """A named target: one org (its base URL and key variable), its manifests."""

    base_url: str | None = Field(
        default=None,
        pattern=BASE_URL_PATTERN,
        description="API base URL (default: https://api.lightfield.app).",
    )
    api_key_env: Variable = Field(
        description="The NAME of the environment variable that holds this environment's API "
        "key (e.g. a GitHub Actions secret mapped into the job); never the key itself.",
    )
    manifests: ManifestSettings | None = Field(
        default=None,
        description="This environment's manifests; each key given replaces the top-level one.",
    )


class Settings(_Strict):
    """The whole ``lfr.yaml``."""

    version: Literal[1] = Field(description="The format of this file: 1.")
    manifests: ManifestSettings = Field(default_factory=ManifestSettings)
    rails: RailSettings = Field(default_factory=RailSettings)
    write_rate: float = Field(
        default=DEFAULT_WRITE_RATE,
        gt=0,
        description="Writes per second apply sends (the API's Write limit is 25/s per org).",
    )
    stamp: bool = Field(
        default=False,
        description="apply writes a provenance note on each record it changes (--stamp / "
        "--no-stamp win).",
    )
    default_environment: EnvName | None = Field(
        default=None,
        description="The environment a command uses without --env / $LFR_ENV.",
    )
    environments: dict[EnvName, Environment] = Field(
        default_factory=dict,
        description="Named targets, e.g. sandbox and production (lowercase letters, digits, "
        "'_' and '-').",
    )
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    policies: list[PolicySettings] = Field(
        default_factory=list,
        description="Guardrails on every plan (core/policies.py): built-in rules, each with a "
        "severity, a scope and its parameters.",
    )


# The keys each mapping of the file allows, by the section names of ``core.settings_problems``
# (an unknown key's message lists them).
KNOWN_KEYS: dict[str, list[str]] = {
    "": list(Settings.model_fields),
    "manifests": list(ManifestSettings.model_fields),
    "rails": list(RailSettings.model_fields),
    "environment": list(Environment.model_fields),
    "policy": list(PolicySettings.model_fields),
    "pipeline": list(PipelineSettings.model_fields),
}


@dataclass(frozen=True)
class LoadedSettings:
    """Valid settings and the document they came from (for the line of every key)."""

    settings: Settings
    document: Document

    def origin_of(self, *path: str | int) -> Origin:
        return Origin(self.document.file, self.document.line_of(path))


@dataclass(frozen=True)
class Selection:
    """What a run uses: the environment (or None: no environments, today's behaviour), why it
    was chosen, and the manifests and rails that follow from it."""

    name: str | None
    environment: Environment | None
    origin: Origin | None  # the line of the environment's key
    reason: str  # "--env", "$LFR_ENV", "default_environment", "the only environment"
    manifest_paths: tuple[str, ...]
    ignore: tuple[str, ...]
    rails: RailSettings
    write_rate: float
    stamp: bool = False


def parse_settings(document: Document) -> tuple[LoadedSettings | None, list[Problem]]:
    """``document`` as settings, or every problem with it: a key written into it (never
    quoted), and the shape's problems elsewhere."""
    secrets = find_secrets(document.data)
    problems = [
        Problem(Origin(document.file, document.line_of(path)), message)
        for path, message in secrets.items()
    ]
    # Each rule's own parameters (which ones it takes, which it needs): core.policies, on the
    # file as read, so its problems are listed with the shape's.
    data = document.data if isinstance(document.data, dict) else {}
    problems += check_policies(
        data.get("policies"), lambda *path: Origin(document.file, document.line_of(path))
    )
    try:
        settings = Settings.model_validate(document.data)
    except ValidationError as exc:
        # What pydantic says of a secret's own key (unknown, not a variable name) is said above.
        shape = shape_problems(
            exc.errors(include_url=False),
            document,
            skip=tuple(secrets),
            known_keys=KNOWN_KEYS,
            version=SCHEMA_VERSION,
        )
        return None, sorted(problems + shape)
    if problems:
        return None, sorted(problems)
    loaded = LoadedSettings(settings, document)
    default = settings.default_environment
    if default is not None and default not in settings.environments:
        message = f"default_environment {default!r} is not an environment" + suggest(
            default, list(settings.environments)
        )
        return None, [Problem(loaded.origin_of("default_environment"), message)]
    return loaded, []


def choose_environment(loaded: LoadedSettings, requested: str | None, source: str) -> Selection:
    """The environment a run uses: ``requested`` (from ``source``: "--env" or "$LFR_ENV"),
    else ``default_environment``, else the only one; several and none chosen is refused."""
    settings = loaded.settings
    names = list(settings.environments)
    if requested is not None:
        name, reason = requested, source
        if name not in settings.environments:
            known = (
                f"; environments in {loaded.document.file}: {', '.join(names)}"
                if names
                else (f"; {loaded.document.file} defines no environments")
            )
            raise SettingsError(f"no environment {name!r} ({source}){suggest(name, names)}{known}")
    elif settings.default_environment is not None:
        name, reason = settings.default_environment, "default_environment"
    elif len(names) == 1:
        name, reason = names[0], "the only environment"
    elif names:
        raise SettingsError(
            f"{loaded.document.file} defines {len(names)} environments ({', '.join(names)}) "
            "and none is the default: pass --env NAME (or set LFR_ENV), or set "
            "default_environment"
        )
    else:
        return _selection(settings, None, None, None, "no environments")
    return _selection(
        settings,
        name,
        settings.environments[name],
        loaded.origin_of("environments", name),
        reason,
    )


def every_environment(loaded: LoadedSettings) -> list[Selection]:
    """One selection per environment (or the one of a file with none): for what needs no
    target, such as ``validate --offline`` in a pre-commit hook, which checks them all."""
    settings = loaded.settings
    if not settings.environments:
        return [_selection(settings, None, None, None, "no environments")]
    reason = "the only environment" if len(settings.environments) == 1 else "every one"
    return [
        _selection(settings, name, environment, loaded.origin_of("environments", name), reason)
        for name, environment in settings.environments.items()
    ]


def _selection(
    settings: Settings,
    name: str | None,
    environment: Environment | None,
    origin: Origin | None,
    reason: str,
) -> Selection:
    own = environment.manifests if environment is not None else None
    paths = (own.paths if own else None) or settings.manifests.paths or DEFAULT_MANIFEST_PATHS
    ignore = own.ignore if own is not None and own.ignore is not None else settings.manifests.ignore
    return Selection(
        name=name,
        environment=environment,
        origin=origin,
        reason=reason,
        manifest_paths=tuple(paths),
        ignore=tuple(ignore or ()),
        rails=settings.rails,
        write_rate=settings.write_rate,
        stamp=settings.stamp,
    )


def glob_pattern(glob: str) -> re.Pattern[str]:
    """An ignore glob as a regular expression over a ``/``-separated relative path: ``*`` and
    ``?`` stay within a directory, ``**`` crosses directories (``**/x.yaml`` also matches
    ``x.yaml``), a glob without ``/`` matches the file name at any depth (as in .gitignore)."""
    if "/" not in glob:
        glob = "**/" + glob
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")
