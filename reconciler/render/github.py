"""Problems → GitHub workflow commands (``::error file=..,line=..::message``).

GitHub shows these as annotations on the pull request's diff at the offending line. Values are
escaped as the workflow-command syntax requires, so a message cannot end the command early or
smuggle in another one.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..manifests import Problem


def render_problems(problems: Sequence[Problem], *, title: str = "lfr") -> str:
    lines = []
    for problem in problems:
        properties = [f"file={_property(problem.file)}", f"title={_property(title)}"]
        if problem.line:
            properties.insert(1, f"line={problem.line}")
        lines.append(f"::error {','.join(properties)}::{_data(problem.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
