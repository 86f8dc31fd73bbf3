"""How a command talks to the terminal: stdout for results, stderr for the target line,
problems and progress; every line that quotes data made safe (``render.values.safe``) and, in
GitHub Actions, workflow commands neutralised; results streamed to stdout and files.

Imports only typer and the standard library at module level, as every ``cli`` module does:
renderers are imported inside the functions that use them (architecture.md §8).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..core.policies import Review
    from ..core.vocabulary import Problem
    from ..render.formats import Subject
    from .options import OutputFormat


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
    saved_review: bool = False,
) -> None:
    """A plan or report on stdout in ``output`` (and in ``report``, a file): colour on a TTY
    unless ``--color/--no-color`` says otherwise, never in a file; a plan with the guardrails'
    ``review`` (``saved_review``: a saved plan's, marked so) and its records grouped
    ``group_by``."""
    from ..render.formats import Style, render_chunks

    use_color = (color_default(sys.stdout.isatty()) if color is None else color) and report is None
    style = Style(
        color=use_color,
        title=title,
        show_unchanged=show_unchanged,
        review=review,
        group_by=group_by,
        saved_review=saved_review,
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


def warn(warnings: Iterable[Problem]) -> None:
    """What a plan does that may not be meant (``plan``, ``apply``): on stderr, after the plan,
    before any question."""
    from ..render.values import safe

    for warning in warnings:
        echo(f"Warning: {safe(str(warning))}", err=True)


def fail(message: str, *more: str) -> typer.Exit:
    """``Error: message`` and any ``more`` lines on stderr, each shown as one line: errors quote
    data (API messages, file names, values), which must not break or start a line."""
    from ..render.values import safe

    for line in (f"Error: {message}", *more):
        echo(safe(line), err=True)
    return typer.Exit(1)
