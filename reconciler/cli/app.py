"""The ``lfr`` typer app: its command group (usage errors exit 1), ``--version``, the
``emulator`` sub-app, and flags that read False so ``--help`` converts nothing through pydantic.

Imports only typer and the standard library, as every ``cli`` module does (architecture.md §8).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer._click.core import Context, Parameter
from typer._click.exceptions import UsageError  # typer 0.29 vendors click
from typer.core import TyperCommand, TyperGroup, TyperOption


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
