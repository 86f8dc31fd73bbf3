"""Problems → GitHub workflow commands (``::error file=..,line=..::message``).

GitHub shows these as annotations on the pull request's diff at the offending line. Values are
escaped as the workflow-command syntax requires (the runner's ActionCommand: ``%``, CR and LF in
the message; those and ``:`` and ``,`` in a property), so a message cannot end the command early
or smuggle in another one. Both are first shown by ``values.safe``, as in the text output: for
any ordinary file name that changes nothing, and the runner, which unescapes the property, finds
the file on the diff; a name with a control, invisible or line-breaking character, a leading
``::`` or ``##[`` is shown with escapes and its annotation has no place on the diff.

These are the only lines lfr prints that start with ``::``; ``neutralise_commands`` is the
CLI's guard for every other line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..core.vocabulary import Problem
from .values import safe

# A line the runner would read as a command: `::` first after whitespace (TryParseV2 trims it),
# or `##[` anywhere (TryParse). CR and LF both end a line for the runner.
_LINE_COMMAND = re.compile(r"(^|[\r\n])([^\S\r\n]*):(?=:)")


def render_problems(problems: Sequence[Problem], *, title: str = "lfr") -> str:
    lines = []
    for problem in problems:
        properties = [f"file={_property(safe(problem.file))}", f"title={_property(title)}"]
        if problem.line:
            properties.insert(1, f"line={problem.line}")
        if problem.origin.column:
            properties.insert(2, f"col={problem.origin.column}")
        lines.append(f"::error {','.join(properties)}::{_data(safe(problem.message))}")
    return "\n".join(lines) + ("\n" if lines else "")


def neutralise_commands(text: str) -> str:
    """``text`` with no line that GitHub's runner would take as a workflow command: the first
    ``:`` of a leading ``::`` and the ``[`` of every ``##[`` written as ``values.safe`` writes
    them. For output that is not an annotation; a no-op on what the renderers produce."""
    if "::" not in text and "##[" not in text:
        return text
    return _LINE_COMMAND.sub(r"\1\2\\u003a", text).replace("##[", "##\\u005b")


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
