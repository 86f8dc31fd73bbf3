"""One table: which renderer shows which subject (a plan, an apply report, a drift report) in
which output format. The CLI chooses a format; this module chooses the function."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.plan import Plan
from ..core.policies import Review
from ..core.reports import ApplyReport, DriftReport
from . import json, markdown, text

FORMATS = ("text", "markdown", "json")
Subject = Plan | ApplyReport | DriftReport


@dataclass(frozen=True)
class Style:
    """How the text and markdown renderers dress a subject; json ignores it."""

    color: bool = False  # text only
    title: str | None = None  # markdown only: the heading (default: the command's name)
    show_unchanged: bool = False  # text plans only
    # Plans only: the guardrails' review (violations, pipeline impact) and --group-by.
    review: Review | None = None
    group_by: str | None = None
    saved_review: bool = False  # the review is a saved plan's (lfr show): marked as such


_Renderer = Callable[[Any, Style], str]
_TABLE: dict[tuple[type, str], _Renderer] = {
    (Plan, "text"): lambda plan, style: text.render_plan(
        plan,
        color=style.color,
        show_unchanged=style.show_unchanged,
        review=style.review,
        group_by=style.group_by,
        saved_review=style.saved_review,
    ),
    (Plan, "markdown"): lambda plan, style: markdown.render_plan(
        plan,
        title=style.title or "lfr plan",
        review=style.review,
        group_by=style.group_by,
        saved_review=style.saved_review,
    ),
    (Plan, "json"): lambda plan, style: json.render_plan(plan, style.review),
    (ApplyReport, "text"): lambda report, style: text.render_report(report, color=style.color),
    (ApplyReport, "markdown"): lambda report, style: markdown.render_report(
        report, title=style.title or "lfr apply"
    ),
    (ApplyReport, "json"): lambda report, style: json.render_report(report),
    (DriftReport, "text"): lambda report, style: text.render_drift(report, color=style.color),
    (DriftReport, "markdown"): lambda report, style: markdown.render_drift(
        report, title=style.title or "lfr drift"
    ),
    (DriftReport, "json"): lambda report, style: json.render_drift(report),
}


def render(subject: Subject, format: str, style: Style | None = None) -> str:
    """``subject`` in ``format`` (one of ``FORMATS``)."""
    return _TABLE[(type(subject), format)](subject, style or Style())


def render_chunks(subject: Subject, format: str, style: Style | None = None) -> Iterator[str]:
    """``render``'s text in pieces to write as they come: a plan's JSON a line at a time
    (``json.stream_plan``); anything else in one piece."""
    if format == "json" and isinstance(subject, Plan):
        return json.stream_plan(subject, (style or Style()).review)
    return iter((render(subject, format, style),))
