"""Hostile strings and the checks that their output is inert (issues 7 and 12).

Each class of hostile string a CRM user, a fork's plan artifact or an API could write; and what
the GitHub runner and a terminal must never see of them: a line break but our own, a workflow
command but our annotations, an invisible character, a mention or a code span left open in
markdown. Shared by the security tests of every command that shows data.
"""

from __future__ import annotations

import re

# Every one is put into every kind of data that reaches the output.
INJECTIONS = (
    "::add-mask::lead",  # a command if the string starts a line
    " \t::stop-commands::lfrstop",  # ... after whitespace too (the runner trims it)
    "x\n::add-mask::lf",
    "x\r\n::add-mask::crlf",
    "x\r::add-mask::cr",
    "x\x0b\x0c::add-mask::vt-ff",
    "x\x1c\x1d\x1e::add-mask::fs-gs-rs",
    "x\x85::add-mask::nel",
    "x\u2028::add-mask::ls",
    "x\u2029::add-mask::ps",
    "x ##[add-mask]legacy",  # the legacy form, anywhere in a line
    "@octocat @lightfield/revops",
    "`x`` ```y",
    "a\u200bb\u200cc\u200dd\u2060e\ufeff\u00adf\u200e\u200fg\u061ch\u2064i",
    "x\u00a0y\u3000z",
)
HOSTILE = "".join(INJECTIONS)
# What a manifest, or a saved plan's own text, may hold: C0 / C1 controls are refused there.
HOSTILE_TEXT = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "", HOSTILE)
# A manifest file name: Linux allows all of it (a `/` or NUL aside).
HOSTILE_FILE = "::add-mask::f`i``le @octocat\n##[error]x\u2028\u200b y\r::warning::z.yaml"
# Output from data must never hold these raw: line breaks of any kind but our own \n, and the
# invisible characters the injections carry.
RAW_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
RAW_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u061c\u00a0\u3000]")
OUR_ANNOTATION = re.compile(r"::error file=[^:,]*(,line=\d+)?,title=lfr::")
MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]")


def assert_log_safe(label: str, text: str, *, annotations: bool = False) -> None:
    """What the GitHub runner and a terminal see: one line per line we meant, no workflow
    command but our annotations, no invisible character."""
    assert RAW_BREAKS.findall(text) == [], label
    assert RAW_INVISIBLE.findall(text) == [], label
    assert "##[" not in text, label
    for line in text.split("\n"):
        if line.lstrip().startswith("::"):
            assert annotations and OUR_ANNOTATION.match(line), (label, line)


def prose(line: str) -> str:
    """``line`` without its code spans, asserting that every one of them is closed on the line
    (CommonMark: a run of n backticks up to the next run of exactly n; escaped ones are text)."""
    out, i = [], 0
    while i < len(line):
        if line.startswith("\\", i):
            out.append(line[i : i + 2])
            i += 2
            continue
        run = re.match(r"`+", line[i:])
        if run is None:
            out.append(line[i])
            i += 1
            continue
        fence = run.group()
        close = re.compile(f"(?<!`){fence}(?!`)").search(line, i + len(fence))
        assert close is not None, f"code span left open: {line}"
        i = close.end()
    return "".join(out)


def assert_markdown_quiet(label: str, text: str) -> None:
    """No mention outside a code span, and no code span left open."""
    for line in text.splitlines():
        assert MENTION.findall(prose(line)) == [], (label, line)
