"""Plan → Markdown for PR comments and job summaries (design §4).

A summary table, then one collapsible ``<details>`` section per changed record with a link to
the record in Lightfield. GitHub caps a comment at 65,536 characters; the rendering stays under
``limit`` by dropping whole record sections from the end and saying so, never by cutting a
section in half. CRM values are escaped so they cannot inject markup, links or HTML.
"""

from __future__ import annotations

import re

from ..apply import ApplyReport
from ..drift import DriftReport
from ..plan import Plan, RecordChange
from .values import link_name, safe, show

COMMENT_LIMIT = 65_000
MARKER = "<!-- lfr-plan -->"
APPLY_MARKER = "<!-- lfr-apply -->"
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in a CRM-supplied string: no tags, links, emphasis or
    table breaks can come out of a value, and no control character (``values.safe``) either,
    whether or not the string went through ``show`` first (field history text does not)."""
    html = safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", html).replace("\r", " ").replace("\n", " ")


def render_plan(plan: Plan, *, title: str = "lfr plan", limit: int = COMMENT_LIMIT) -> str:
    head = [
        MARKER,
        f"### {title}",
        "",
        f"**{plan.summary()}**",
        "",
        "| | create | update | unchanged |",
        "|---|---:|---:|---:|",
        f"| records | {plan.count('create')} | {plan.count('update')} | {plan.count('noop')} |",
        "",
        f"<sub>revision `{plan.revision[:19]}` · target `{escape(plan.target)}`</sub>",
        "",
    ]
    sections = [_section(r, plan) for r in plan.records if r.action != "noop"]
    if not sections:
        sections = ["No changes: the CRM matches the manifests."]
    return _fit("\n".join(head) + "\n", sections, limit)


def _fit(text: str, sections: list[str], limit: int) -> str:
    """``text`` and as many whole sections as fit in ``limit``, with a note for the rest."""
    for shown, section in enumerate(sections):
        note = (
            f"\n> [!NOTE]\n> {len(sections) - shown} more record section(s) not shown: the "
            "comment would exceed GitHub's size limit. The full plan is in the job summary and "
            "the plan artifact.\n"
        )
        if len(text) + len(section) + len(note) + 2 > limit:
            return text + note
        text += section + "\n"
    return text


def _section(record: RecordChange, plan: Plan) -> str:
    name = escape(record.name)
    rows = ["| key | before | after |", "|---|---|---|"]
    for change in record.fields:
        before = "" if record.action == "create" else escape(show(change.before, plan.labels))
        rows.append(f"| `{change.key}` | {before} | {escape(show(change.after, plan.labels))} |")
    for links in record.relationships:
        before, after = _links(links.before, plan.labels), _links(links.after, plan.labels)
        rows.append(f"| `{links.key}` | {before} | {after} |")
    count = len(record.fields) + len(record.relationships)
    return "\n".join(
        [
            "<details>",
            f"<summary><b>{record.action}</b> {name} ({escape(record.id or 'new')}): "
            f"{count} change{'s' if count != 1 else ''}</summary>",
            "",
            _where(record),
            "",
            *rows,
            "",
            "</details>",
        ]
    )


def _where(record: RecordChange) -> str:
    """The manifest's ``file:line``, and a link to the record when its URL is a plain https one."""
    url = record.http_link
    safe = bool(url) and re.fullmatch(r"https://[^\s()<>\"']+", url or "") is not None
    return f"`{record.origin}`" + (f" · [open in Lightfield]({url})" if safe else "")


def _links(ids: tuple[str, ...], labels: dict[str, str]) -> str:
    return ", ".join(escape(link_name(i, labels)) for i in ids) or "(none)"


def render_report(report: ApplyReport, *, title: str = "lfr apply") -> str:
    rows = ["| | record | result |", "|---|---|---|"]
    for result in report.results:
        mark = {"applied": "✅", "failed": "❌", "unverified": "⚠️", "not_attempted": "⏸️"}[
            result.status
        ]
        detail = result.status.replace("_", " ")
        if result.failure is not None:
            code = f" `{result.failure.code}`" if result.failure.code else ""
            detail += f":{code} {escape(result.failure.message)}"
            if result.failure.origin is not None:
                detail += f" (`{result.failure.origin}`)"
        rows.append(f"| {mark} | {escape(result.name)} ({escape(result.id or 'new')}) | {detail} |")
    if not report.results and report.stopped is None:
        return f"{APPLY_MARKER}\n### {title}\n\nNothing to apply: the CRM matches the manifests.\n"
    stopped = [f"> {escape(report.stopped)}", ""] if report.stopped else []
    return (
        "\n".join(
            [
                APPLY_MARKER,
                f"### {title}",
                "",
                f"**{report.summary()}**",
                "",
                *stopped,
                *rows,
            ]
        )
        + "\n"
    )


DRIFT_MARKER = "<!-- lfr-drift -->"


def render_drift(
    report: DriftReport, *, title: str = "lfr drift", limit: int = COMMENT_LIMIT
) -> str:
    plan = report.plan
    drifted = [r for r in plan.records if r.action != "noop"]
    lines = [
        DRIFT_MARKER,
        f"### {title}",
        "",
        f"**{len(drifted)} of {len(plan.records)} managed records drifted.**"
        if drifted
        else "**No drift: the CRM matches the manifests.**",
        "",
    ]
    return _fit("\n".join(lines) + "\n", [_drift_section(r, report) for r in drifted], limit)


def _drift_section(record: RecordChange, report: DriftReport) -> str:
    plan = report.plan
    name = escape(record.name)
    if record.action == "create":
        return f"- **{name}** (`{record.origin}`): no live record matches; apply would create it\n"
    rows = ["| key | manifest | live | changed | before |", "|---|---|---|---|---|"]
    for change in record.fields:
        note = report.history.get((record.id or "", change.key))
        changed = escape(note.changed_at) if note and note.changed_at else ""
        before = escape(note.before) if note and note.before is not None else ""
        rows.append(
            f"| `{change.key}` | {escape(show(change.after, plan.labels))} | "
            f"{escape(show(change.before, plan.labels))} | {changed} | {before} |"
        )
    for links in record.relationships:
        want, have = _links(links.after, plan.labels), _links(links.before, plan.labels)
        rows.append(f"| `{links.key}` | {want} | {have} | | |")
    heading = f"#### {name} ({escape(record.id or '')})"
    return "\n".join([heading, "", _where(record), "", *rows, ""])
