"""Plan → Markdown for PR comments and job summaries (architecture.md §4).

A summary table, then one collapsible ``<details>`` section per changed record with a link to
the record in Lightfield. GitHub caps a comment at 65,536 characters; the rendering stays under
``limit`` by dropping whole record sections from the end and saying so, never by cutting a
section in half. Every string from outside lfr goes out through one of three functions, each
built on ``values.safe`` (one line, invisible characters shown, no workflow command): ``escape``
for Markdown text, ``_html`` inside the raw-HTML ``<summary>``, ``code`` for a code span. None
of them lets through markup, a link, a tag, a table break or an ``@mention`` (GitHub would
notify that user or team). Left as GitHub renders them: bare URLs (autolinked, but shown in
full: a value cannot disguise one) and ``#123`` / ``GH-123`` / ``org/repo#1`` references.
"""

from __future__ import annotations

import re

from ..core.plan import FieldChange, Plan, RecordChange
from ..core.policies import Review
from ..core.reports import ApplyReport, DriftReport
from ..core.vocabulary import Origin
from .review import grouped, markdown_lines
from .values import link_name, safe, show

COMMENT_LIMIT = 65_000
MARKER = "<!-- lfr-plan -->"
APPLY_MARKER = "<!-- lfr-apply -->"
# Markdown's own, and ``$``: GitHub reads text between two dollar signs as a math formula.
_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
# GitHub's mention pattern: an @ at the start of a text or after anything but an ASCII letter,
# digit or underscore, then a letter or digit (@user, @org/team). A zero-width space after the
# @ breaks it, as Dependabot and Renovate write it: ``@&#8203;user`` reads as @user and notifies
# no one. An e-mail address (jane@acme.com) is no mention and stays as it is.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
_NO_MENTION = "@&#8203;"
_BACKTICKS = re.compile(r"`+")
# A record's link (the API's httpLink) is used only when it is plain: printable ASCII that
# cannot end the link, open markup or hold `##[` (no brackets, parentheses, quotes, <>, `).
_PLAIN_URL = re.compile(r"https://[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+")


def _html(text: str) -> str:
    """A string from outside lfr as HTML text: where Markdown is not parsed (``<summary>``)."""
    html = safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(_NO_MENTION, html) if "@" in html else html


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in a string from outside lfr: no tags, links, emphasis,
    table breaks or mentions can come out of a value, and no control character or line break
    (``values.safe``) either, whether or not the string went through ``show`` first (field
    history text does not)."""
    html = safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    markdown = _SPECIAL.sub(r"\\\1", html)
    return _MENTION.sub(_NO_MENTION, markdown) if "@" in markdown else markdown


def code(text: str, *, cell: bool = False) -> str:
    """A string from outside lfr (a key, a file name, an API code) as a code span it cannot
    close early: fenced by a longer run of backticks than any inside it, with a space inside
    the fence where CommonMark would otherwise eat or merge one (CommonMark §6.1). Nothing in a
    code span is markup, HTML or a mention. In a table ``cell`` a ``|`` would end the cell even
    inside a code span, so it is written ``\\|``, which GitHub shows as ``|`` (GFM §4.10)."""
    body = safe(text).replace("|", "\\|") if cell else safe(text)
    if "`" not in body and body.strip(" ") == body and body:
        return f"`{body}`"  # the usual case: a key, a file:line
    fence = "`" * (max(map(len, _BACKTICKS.findall(body)), default=0) + 1)
    pad = " " if not body.strip(" ") or body[0] in "` " or body[-1] in "` " else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def render_plan(
    plan: Plan,
    *,
    title: str = "lfr plan",
    limit: int = COMMENT_LIMIT,
    review: Review | None = None,
    group_by: str | None = None,
    saved_review: bool = False,
) -> str:
    head = [
        MARKER,
        f"### {escape(title)}",
        "",
        f"**{plan.summary()}**",
        "",
        "| | create | update | unchanged |",
        "|---|---:|---:|---:|",
        f"| records | {plan.count('create')} | {plan.count('update')} | {plan.count('noop')} |",
        "",
        f"<sub>revision {code(plan.revision[:19])} · target {code(plan.target)}</sub>",
        "",
    ]
    if review is not None:  # before the record sections: never dropped to fit the limit
        head += markdown_lines(review, plan, escape, code, saved=saved_review)
    if group_by is not None and review is not None:  # --group-by owner|stage|account
        sections = []
        changed = [r for r in plan.records if r.action != "noop"]
        for group, records in grouped(plan, changed, review, group_by):
            heading = f"\n#### {escape(group_by)}: {escape(str(group))}\n\n"
            for index, record in enumerate(records):
                sections.append((heading if index == 0 else "") + _section(record, plan))
    else:  # in manifest order, under each OpportunitySet's line
        sections = [_section(r, plan) for r in plan.records if r.action != "noop"]
        sections = _grouped(plan, sections)
    if not sections:
        sections = ["No changes: the CRM matches the manifests."]
    return _fit("\n".join(head) + "\n", sections, limit)


def _grouped(plan: Plan, sections: list[str]) -> list[str]:
    """Before the first section of the records one ``OpportunitySet`` changes, a line naming
    the set and how many records it changes."""
    changing = [r for r in plan.records if r.action != "noop"]
    counts: dict[str, int] = {}
    for record in changing:
        counts[record.group] = counts.get(record.group, 0) + 1
    result: list[str] = []
    previous = ""
    for record, section in zip(changing, sections, strict=True):
        if record.group and record.group != previous:
            noun = "record" if counts[record.group] == 1 else "records"
            head = f"**Set {escape(record.group)}: {counts[record.group]} {noun}**"
            section = f"{head} · {code(str(record.origin))}\n\n{section}"
        previous = record.group
        result.append(section)
    return result


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
    name = _html(record.name)  # <summary> is raw HTML: no Markdown escapes
    rows = ["| key | before | after |", "|---|---|---|"]
    for change in record.fields:
        if record.action == "create":
            after = escape(show(change.after, plan.labels))
            rows.append(f"| {code(change.key, cell=True)} |  | {after} |")
        else:
            rows.extend(_field_rows(change, plan, record))
    for links in record.relationships:
        if links.cardinality == "HAS_MANY" and record.action != "create":
            removed = [escape(link_name(i, plan.labels)) for i in links.remove]
            added = [escape(link_name(i, plan.labels)) for i in links.add]
            rows.append(_items_row(_keyed(links.key, links.origin, record), added, removed))
            continue
        before, after = _links(links.before, plan.labels), _links(links.after, plan.labels)
        rows.append(f"| {_keyed(links.key, links.origin, record)} | {before} | {after} |")
    count = len(record.fields) + len(record.relationships)
    return "\n".join(
        [
            "<details>",
            f"<summary><b>{_html(record.action)}</b> {name} ({_html(record.id or 'new')}): "
            f"{count} change{'s' if count != 1 else ''}</summary>",
            "",
            _where(record),
            "",
            *rows,
            "",
            "</details>",
        ]
    )


def _keyed(key: str, origin: Origin, record: RecordChange) -> str:
    """A key's cell, with where it was written when another document than the record's says
    so (a set's key on a record manifest's record)."""
    if origin.file == record.origin.file:
        return code(key, cell=True)
    return f"{code(key, cell=True)} (from {code(str(origin), cell=True)})"


def _field_rows(change: FieldChange, plan: Plan, record: RecordChange | None = None) -> list[str]:
    """An update of one field as deepdiff's detail shows it: a row per changed part of an
    object, the items a list loses (before) and gains (after), else the value before → after."""
    labels = plan.labels
    if change.parts and isinstance(change.before, dict) and isinstance(change.after, dict):
        return [
            f"| {code(f'{change.key}.{part}', cell=True)} | "
            f"{escape(show(change.before.get(part), labels))} | "
            f"{escape(show(change.after.get(part), labels))} |"
            for part in change.parts
        ]
    key = (
        code(change.key, cell=True) if record is None else _keyed(change.key, change.origin, record)
    )
    if change.added or change.removed:
        added = [escape(show(item, labels)) for item in change.added]
        removed = [escape(show(item, labels)) for item in change.removed]
        return [_items_row(key, added, removed)]
    before, after = escape(show(change.before, labels)), escape(show(change.after, labels))
    return [f"| {key} | {before} | {after} |"]


def _items_row(key: str, added: list[str], removed: list[str]) -> str:
    """A list's change: what it loses under before, what it gains under after (escaped)."""
    before = "<br>".join(f"- {item}" for item in removed)
    after = "<br>".join(f"+ {item}" for item in added)
    return f"| {key} | {before} | {after} |"


def _where(record: RecordChange) -> str:
    """The manifest's ``file:line``, and a link to the record when its URL is a plain https one."""
    url = record.http_link
    safe = bool(url) and _PLAIN_URL.fullmatch(url or "") is not None
    return code(str(record.origin)) + (f" · [open in Lightfield]({url})" if safe else "")


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
            kind = f" {code(result.failure.code, cell=True)}" if result.failure.code else ""
            detail += f":{kind} {escape(result.failure.message)}"
            if result.failure.origin is not None:
                detail += f" ({code(str(result.failure.origin), cell=True)})"
        rows.append(f"| {mark} | {escape(result.name)} ({escape(result.id or 'new')}) | {detail} |")
    if not report.results and report.stopped is None:
        nothing = "Nothing to apply: the CRM matches the manifests."
        return f"{APPLY_MARKER}\n### {escape(title)}\n\n{nothing}\n"
    stopped = [f"> {escape(report.stopped)}", ""] if report.stopped else []
    return (
        "\n".join(
            [
                APPLY_MARKER,
                f"### {escape(title)}",
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
        f"### {escape(title)}",
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
        where = code(str(record.origin))
        return f"- **{name}** ({where}): no live record matches; apply would create it\n"
    rows = ["| key | manifest | live | changed | before |", "|---|---|---|---|---|"]
    for change in record.fields:
        note = report.history.get((record.id or "", change.key))
        changed = escape(note.changed_at) if note and note.changed_at else ""
        before = escape(note.before) if note and note.before is not None else ""
        rows.append(
            f"| {code(change.key, cell=True)} | {escape(show(change.after, plan.labels))} | "
            f"{escape(show(change.before, plan.labels))} | {changed} | {before} |"
        )
    for links in record.relationships:
        want, have = _links(links.after, plan.labels), _links(links.before, plan.labels)
        rows.append(f"| {code(links.key, cell=True)} | {want} | {have} | | |")
    heading = f"#### {name} ({escape(record.id or '')})"
    return "\n".join([heading, "", _where(record), "", *rows, ""])
