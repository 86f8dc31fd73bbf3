"""The options and arguments several commands share (``Annotated`` aliases for typer), and the
selection they make (``--target`` / ``--exclude``). An option only one command takes is
declared at that command.

Imports only typer and the standard library, as every ``cli`` module does (architecture.md §8).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..runs.validate import Selection


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


class OutputFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _format_option(shown: str) -> Any:
    return typer.Option("--format", "-f", help=f"How to print {shown}.")


PlanFormatOption = Annotated[OutputFormat, _format_option("the plan")]
ApplyFormatOption = Annotated[OutputFormat, _format_option("the apply report")]
DriftFormatOption = Annotated[OutputFormat, _format_option("the drift report")]
ShowUnchangedOption = Annotated[
    bool, typer.Option(help="List unchanged records too (text format).")
]


def _dry_run_option(shown: str) -> Any:
    return typer.Option("--dry-run", help=f"Write nothing: show each file's diff{shown}.")


# export writes new files too (shown whole); pin only ever rewrites manifests that exist.
ExportDryRunOption = Annotated[bool, _dry_run_option(" (new files in full)")]
PinDryRunOption = Annotated[bool, _dry_run_option("")]

AllowOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow",
        metavar="RULE",
        help="Override an error-level policy of lfr.yaml for this run (its violations are "
        "still shown, marked allowed); repeatable. In CI, the pull-request label "
        "lfr-allow:RULE passes it.",
        show_default=False,
    ),
]


class GroupBy(StrEnum):
    owner = "owner"
    stage = "stage"
    account = "account"


GroupByOption = Annotated[
    GroupBy | None,
    typer.Option(
        "--group-by",
        help="Group the record sections by the owner, stage or account the plan leaves them "
        "with (the keys of lfr.yaml's pipeline section; default $owner, $stage, $account).",
        show_default=False,
    ),
]


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
