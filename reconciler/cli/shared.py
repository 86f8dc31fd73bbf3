"""What a command does between parsing and printing: read lfr.yaml and choose the environment,
the target and the manifests; hand back a plan or exit with its problems; run async work (with
its progress line) without asyncio.run's hidden cost; the garbage collector's thresholds.

Imports only typer and the standard library at module level, as every ``cli`` module does: the
runs, renderers, adapters and the workspace (pydantic, ruamel, httpx) are imported inside the
functions that use them, so ``lfr --help`` and ``lfr --version`` load none of them
(architecture.md §8). The app is ``cli/app.py``'s, shared options ``cli/options.py``'s, and
everything printed goes through ``cli/output.py``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from .output import ProgressLine, echo, fail, report_problems

if TYPE_CHECKING:
    from ..core.plan import Plan
    from ..runs.plan import Outcome
    from ..runs.validate import ManifestSource
    from ..workspace import RunSettings, Target


def settings_of(environment: str | None, config: Path | None) -> RunSettings:
    """What lfr.yaml decides for this run (nothing without one); the environment chosen is said
    on stderr; a file with problems is reported like manifests (file:line) and exits 1."""
    from ..core.errors import LfrError
    from ..render.values import safe
    from ..workspace import SettingsProblems, load_run_settings

    environment_from = "--env"
    if environment is None:
        environment, environment_from = os.environ.get("LFR_ENV") or None, "$LFR_ENV"
    try:
        settings = load_run_settings(
            Path.cwd(),
            config=_config_path(config),
            environment=environment,
            environment_from=environment_from,
        )
    except SettingsProblems as exc:
        report_problems(exc.problems)
        raise fail(str(exc)) from None
    except LfrError as exc:
        raise fail(str(exc)) from None
    line = settings.describe()
    if line is not None:
        echo(safe(line), err=True)
    return settings


def settings_file_of(config: Path | None) -> RunSettings:
    """lfr.yaml read and validated, no environment chosen (``lfr envs``); problems as above."""
    from ..workspace import SettingsProblems, load_settings_file

    try:
        return load_settings_file(Path.cwd(), _config_path(config))
    except SettingsProblems as exc:
        report_problems(exc.problems)
        raise fail(str(exc)) from None


def _config_path(config: Path | None) -> Path | None:
    """``--config``, else ``$LFR_CONFIG`` (set and not empty), else None: look for lfr.yaml."""
    if config is None and os.environ.get("LFR_CONFIG"):
        return Path(os.environ["LFR_CONFIG"])
    return config


def manifests_of(settings: RunSettings, given: Path | Sequence[Path] | None) -> ManifestSource:
    """The manifests a command reads: the path arguments (when any), else lfr.yaml's, else
    ``manifests``; lfr.yaml's ignore globs apply either way."""
    from ..runs.validate import ManifestSource

    if isinstance(given, Path):
        given = [given]
    if given:
        return ManifestSource(tuple(given), settings.ignore())
    return ManifestSource(tuple(settings.manifest_paths(None)), settings.ignore())


def target_of(
    api_key: str | None,
    base_url: str | None,
    local: bool,
    settings: RunSettings | None = None,
) -> Target:
    """The target of a command that talks to an API; said on stderr, as every such run does."""
    from ..core.errors import LfrError
    from ..workspace import RunSettings, choose_target

    settings = settings or RunSettings()
    try:
        target = choose_target(
            os.environ,
            api_key=api_key,
            base_url=base_url,
            local=local,
            environment=settings.environment,
            environment_name=settings.environment_name,
        )
    except LfrError as exc:
        raise fail(str(exc)) from None
    typer.echo(target.describe(), err=True)
    return target


def plan_of(outcome: Outcome) -> Plan:
    """The outcome's plan, or its problems on stderr and exit 1."""
    if outcome.problems or outcome.plan is None:
        report_problems(outcome.problems)
        raise typer.Exit(1)
    return outcome.plan


T = TypeVar("T")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``, without Python 3.11's hidden cost of a large result: when the run
    ends, ``asyncio.Runner`` reads back its SIGINT handler, and ``signal.getsignal`` formats a
    ValueError message with the ``repr`` of that handler, which holds the main task, whose repr
    holds its result: a plan of 10,000 records was formatted twice, ~0.5 s. So the task returns
    nothing and the result is handed over beside it."""
    import asyncio

    results: list[T] = []

    async def main() -> None:
        results.append(await work)

    asyncio.run(main())
    return results[0]


def run_command(work: Coroutine[Any, Any, T], progress: ProgressLine | None = None) -> T:
    """Run one command's async work; an LfrError becomes "Error: ..." and exit 1."""
    from ..core.errors import LfrError

    try:
        return run_async(work)
    except LfrError as exc:
        raise fail(str(exc), *exc.details) from None
    finally:
        if progress is not None:
            progress.close()


def run_export(work: Coroutine[Any, Any, T]) -> T:
    """``run_command`` for the runs that write manifests (export, pin, init --from-org): the
    existing manifests they could not read are listed as problems (file:line) first."""
    from ..core.errors import LfrError
    from ..runs.existing_manifests import ExportProblems

    try:
        return run_async(work)
    except ExportProblems as exc:
        report_problems(exc.problems)
        raise fail(str(exc)) from None
    except LfrError as exc:
        raise fail(str(exc), *exc.details) from None


# An lfr run builds large structures that live until it ends (documents, records, the plan)
# and makes few reference cycles. At Python's defaults (a collection every 700 allocations, a
# full one every 100 of those) the collector kept re-scanning them: a third of the CPU time of
# planning 10,000 records (BENCHMARKS.md). So the young generation is collected every 100,000
# allocations, and the older ones almost never within a run. Set by the entry point, as the
# process is lfr's; imported as a library, lfr leaves the collector alone; and `lfr emulator
# serve`, which may run for days, goes back to the defaults.
GC_THRESHOLD = (100_000, 1_000, 1_000)
GC_DEFAULTS = gc.get_threshold()  # read at import, before main() changes them
