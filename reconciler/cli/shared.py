"""What every ``lfr`` command shares: the typer app, its options, and the output.

Owns how a command talks to the terminal: stdout for results, stderr for the target line,
problems and progress; every line that quotes data made safe (``render.values.safe``) and, in
GitHub Actions, workflow commands neutralised; an ``LfrError`` becomes ``Error: ...`` and exit 1.

Imports only typer and the standard library at module level, as every ``cli`` module does: the
runs, renderers, adapters and the workspace (pydantic, ruamel, httpx) are imported inside the
functions that use them, so ``lfr --help`` and ``lfr --version`` load none of them
(architecture.md §8).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer
from typer._click.core import Context, Parameter
from typer._click.exceptions import UsageError  # typer 0.29 vendors click
from typer.core import TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..core.plan import Plan
    from ..core.policies import Review
    from ..core.vocabulary import Problem
    from ..render.formats import Subject
    from ..runs.plan import Outcome
    from ..runs.validate import ManifestSource, Selection
    from ..workspace import RunSettings, Target


class Commands(TyperGroup):
    """lfr's command group: a usage error (unknown option, bad value, missing argument) exits 1,
    like every other error. click's own code for it is 2, which lfr keeps for "changes
    present" (``plan --detailed-exitcode``, ``drift``): a CI job must not read a typo as drift.
    Parsing happens in ``make_context`` (the group's options) and in ``invoke`` (a command's)."""

    def make_context(self, *args: Any, **kwargs: Any) -> Context:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010 - on this error, not on its class
            raise

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010
            raise

    def get_params(self, ctx: Context) -> list[Parameter]:
        return flags_read_false(super().get_params(ctx))


class PlainCommand(TyperCommand):
    """A command with nothing to convert (``lfr version``): its absent --help reads False, so
    answering it needs no pydantic (``flags_read_false``)."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return flags_read_false(super().get_params(ctx))


def flags_read_false(params: list[Parameter]) -> list[Parameter]:
    """A command's flags not given read False rather than None. typer converts a parameter's
    value through pydantic (~0.2 s of import) unless it is a bool already, and click leaves an
    absent --help or --install-completion at None: `lfr plan --help` would load pydantic just
    to read the group's flags as False."""
    for param in params:
        if not isinstance(param, TyperOption) or not param.is_flag:
            continue
        if param.default is None and param.type_descriptor.annotation is bool:
            param.default = False
    return params


app = typer.Typer(
    cls=Commands,
    name="lfr",
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"lfr {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the lfr version and exit.",
        ),
    ] = False,
) -> None:
    """Declarative, GitOps-style reconciler for Lightfield CRM opportunities.

    With no LIGHTFIELD_API_KEY set, commands run against an embedded local workspace
    (.lfr/workspace.sqlite3, demo data), so you can try everything without an account.
    """


emulator_app = typer.Typer(
    cls=Commands,
    help="Run the bundled Lightfield API emulator (the local test bench).",
    no_args_is_help=True,
)
app.add_typer(emulator_app, name="emulator")

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Lightfield API key (default: $LIGHTFIELD_API_KEY). Prefer the variable: "
        "flags end up in shell history.",
        show_default=False,
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="API base URL (default: $LIGHTFIELD_BASE_URL, else https://api.lightfield.app).",
        show_default=False,
    ),
]
LocalOption = Annotated[
    bool,
    typer.Option("--local", help="Use the embedded local workspace even under CI=true."),
]
EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        metavar="NAME",
        help="The lfr.yaml environment to target (default: $LFR_ENV, else the file's "
        "default_environment, else its only environment): its base URL, the variable holding "
        "its key, its manifests. --api-key/--base-url and LIGHTFIELD_* variables still win.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="The lfr.yaml to read (default: $LFR_CONFIG, else lfr.yaml in the current "
        "directory or a parent up to the git root).",
        show_default=False,
    ),
]

ArrayReplaceOption = Annotated[
    bool,
    typer.Option(
        "--array-replace/--no-array-replace",
        help="Opt in to HAS_MANY `replace` with an id array when that body is smaller. Off by "
        "default: the SDK 0.20 contract takes `replace` as one id or null, so lfr sends "
        "`add`/`remove` (or a one-id `replace`). When an org refuses the array (400 naming the "
        "relationship), apply resends that write as `add`/`remove` under a new key. (A saved "
        "plan keeps the bodies it was made with.)",
    ),
]


ColorOption = Annotated[
    bool | None,
    typer.Option(
        "--color/--no-color",
        help="Colour (default: on a terminal, unless NO_COLOR is set).",
        show_default=False,
    ),
]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Also write the rendered output (in --format) to this file, e.g. for a job summary "
        "or a PR comment.",
    ),
]
TitleOption = Annotated[
    str | None,
    typer.Option(help="Heading of the markdown output (e.g. to say which target it ran on)."),
]


def write_file(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print ``text``. Every string from outside lfr is shown by ``render.values.safe`` before it
    gets here, so it cannot start a line with a workflow command; in GitHub Actions the output
    is also passed through ``neutralise_commands``, for what did not come through a renderer
    (messages composed below the CLI) or will not in some future change: a missed ``safe``
    would otherwise let a CRM value mask secrets or stop commands in a job that holds the
    write key. Annotations, the one output that must be commands, bypass it."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from ..render.github import neutralise_commands

        text = neutralise_commands(text)
    typer.echo(text, err=err, nl=nl)


def color_default(isatty: bool) -> bool:
    """Colour when the stream is a terminal and ``NO_COLOR`` is not set (no-color.org: any
    non-empty value); ``--color`` still turns it on."""
    return isatty and not os.environ.get("NO_COLOR")


def show_result(
    subject: Subject,
    output: OutputFormat,
    color: bool | None,
    report: Path | None,
    title: str | None,
    *,
    show_unchanged: bool = False,
    review: Review | None = None,
    group_by: str | None = None,
) -> None:
    """A plan or report on stdout in ``output`` (and in ``report``, a file): colour on a TTY
    unless ``--color/--no-color`` says otherwise, never in a file; a plan with the guardrails'
    ``review`` and its records grouped ``group_by``."""
    from ..render.formats import Style, render_chunks

    use_color = (color_default(sys.stdout.isatty()) if color is None else color) and report is None
    style = Style(
        color=use_color,
        title=title,
        show_unchanged=show_unchanged,
        review=review,
        group_by=group_by,
    )
    emit(render_chunks(subject, output.value, style), report)


def emit(chunks: Iterable[str], report: Path | None) -> None:
    """The rendered pieces on stdout, and in ``report`` (a file) too, as they come: a large
    JSON plan is never held whole (``render.formats.render_chunks``). The file is opened
    first: one that cannot be written fails the command before anything is printed."""
    _write(chunks, report, stdout=True)


def write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """``chunks`` into the file at ``path``, as they come."""
    _write(chunks, path, stdout=False)


def _write(chunks: Iterable[str], path: Path | None, *, stdout: bool) -> None:
    with _opened(path) as file:
        for batch in batched_text(chunks):
            if file is not None:
                try:
                    file.write(batch)
                except OSError as exc:
                    raise fail(f"cannot write {path}: {exc.strerror or exc}") from None
            if stdout:
                echo(batch, nl=False)


@contextmanager
def _opened(path: Path | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
        return
    try:
        file = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None
    with file:
        yield file


def batched_text(chunks: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    """``chunks`` joined into pieces of about ``size`` characters: one write (and, in GitHub
    Actions, one workflow-command check) per piece, not per record. A renderer's chunks end
    lines, so a piece never splits a line between two checks."""
    pending: list[str] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)


def fail(message: str, *more: str) -> typer.Exit:
    """``Error: message`` and any ``more`` lines on stderr, each shown as one line: errors quote
    data (API messages, file names, values), which must not break or start a line."""
    from ..render.values import safe

    for line in (f"Error: {message}", *more):
        echo(safe(line), err=True)
    return typer.Exit(1)


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


class OutputFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="PATHS",
        help="Manifest directories (every *.yaml / *.yml below each) or files; several may be "
        "given. A directory with no manifest is an error. [default: the environment's manifest "
        "paths in lfr.yaml, else manifests]",
        show_default=False,
    ),
]
DirArgument = Annotated[
    Path | None,
    typer.Argument(
        metavar="DIR",
        help="Manifest directory (every *.yaml / *.yml below it) or a single file "
        "(default: the environment's manifest paths in lfr.yaml, else manifests).",
        show_default=False,
    ),
]
TargetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="NAME",
        help="Work only on the manifests whose metadata.name matches this glob ('acme-*', "
        "'globex-renewal'); repeat for several. A pattern that matches nothing is an error.",
        show_default=False,
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="NAME",
        help="Leave out the manifests whose metadata.name matches this glob; repeatable, and "
        "stronger than --target.",
        show_default=False,
    ),
]


def paths_of(paths: list[Path] | None) -> list[Path]:
    return list(paths) if paths else [Path("manifests")]


def selection_of(targets: list[str] | None, excludes: list[str] | None) -> Selection:
    from ..runs.validate import Selection

    return Selection(tuple(targets or ()), tuple(excludes or ()))


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def report_problems(problems: list[Problem]) -> None:
    """Problems go to stderr as text, and as annotations when running in GitHub Actions."""
    from ..render import github as github_render
    from ..render import text as text_render

    colored = color_default(stderr_is_tty())
    echo(text_render.render_problems(problems, color=colored), err=True, nl=False)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        typer.echo(github_render.render_problems(problems), nl=False)  # commands, on purpose


# What each phase of a run is called on screen (runs.fetch.Progress names the phase).
PHASES = {"reading": "Reading manifests", "fetching": "Fetching live state", "writing": "Writing"}


class ProgressLine:
    """Where a slow run is, on stderr: one bar per phase (reading manifests, fetching live
    state, writing) with done/total, drawn by rich and cleared when the run prints its result.
    Only on a TTY and only once the run has taken ``delay`` seconds: a fast run, a pipe or a CI
    log gets no progress at all. rich's progress display is imported when the first bar is
    drawn: ~50 ms of import (`python -X importtime`) that most runs never need."""

    def __init__(self, enabled: bool, delay: float = 0.5, *, console: Any = None) -> None:
        self.enabled, self.delay, self.start = enabled, delay, time.monotonic()
        self.console = console
        self._display: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._display is None:
            if time.monotonic() - self.start < self.delay:
                return
            self._display = self._open()
        task = self._tasks.get(phase)
        if task is None:
            label = PHASES.get(phase, phase)
            self._tasks[phase] = self._display.add_task(label, total=total, completed=done)
        else:
            self._display.update(task, completed=done, total=total)

    def _open(self) -> Progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = self.console or Console(stderr=True)
        display = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        )
        display.start()
        self._tasks = {}
        return display

    def close(self) -> None:
        """Clear the bars (before a plan or report is printed); a later phase draws anew."""
        if self._display is not None:
            self._display.stop()
            self._display = None


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


# An lfr run builds large structures that live until it ends (documents, records, the plan)
# and makes few reference cycles. At Python's defaults (a collection every 700 allocations, a
# full one every 100 of those) the collector kept re-scanning them: a third of the CPU time of
# planning 10,000 records (BENCHMARKS.md). So the young generation is collected every 100,000
# allocations, and the older ones almost never within a run. Set by the entry point, as the
# process is lfr's; imported as a library, lfr leaves the collector alone; and `lfr emulator
# serve`, which may run for days, goes back to the defaults.
GC_THRESHOLD = (100_000, 1_000, 1_000)
GC_DEFAULTS = gc.get_threshold()  # read at import, before main() changes them
