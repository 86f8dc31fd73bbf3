"""Plan → terminal text, Terraform-like (architecture.md §4); colour only when asked (a TTY).

Every string from outside lfr (names, ids, keys, values, file names, API messages) goes through
``values.safe``, so each line printed here is one line, whatever the data holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core.plan import FieldChange, Plan, RecordChange, RelationshipChange
from ..core.policies import Review
from ..core.reports import ApplyReport, DriftReport, RecordResult
from ..core.vocabulary import Problem
from .review import grouped, text_lines
from .values import link_name, safe, show

_COLORS = {"+": "\x1b[32m", "-": "\x1b[31m", "~": "\x1b[33m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"
Paint = Callable[[str, str], str]
_SYMBOL = {"create": "+", "update": "~", "noop": " "}


def render_plan(
    plan: Plan,
    *,
    color: bool = False,
    show_unchanged: bool = False,
    review: Review | None = None,
    group_by: str | None = None,
    saved_review: bool = False,
) -> str:
    """The records (in ``group_by`` groups), the guardrails' ``review`` (``saved_review``: as a
    saved plan holds it, marked so), the summary."""
    paint = _painter(color)
    lines: list[str] = []
    if group_by is not None and review is not None:  # --group-by owner|stage|account
        shown = [r for r in plan.records if r.action != "noop" or show_unchanged]
        for name, records in grouped(plan, shown, review, group_by):
            lines += [paint("bold", f"== {safe(group_by)}: {safe(str(name))} =="), ""]
            for record in records:
                lines.extend(_record(record, plan, paint))
                lines.append("")
    else:  # in manifest order, the records of an OpportunitySet under its heading
        group = ""
        for record in plan.records:
            if record.action == "noop" and not show_unchanged:
                continue
            if record.group and record.group != group:
                lines.append(_group_head(record, plan, show_unchanged, paint))
            group = record.group
            lines.extend(_record(record, plan, paint))
            lines.append("")
    if review is not None:
        lines.extend(text_lines(review, plan, paint, saved=saved_review))
    if not plan.has_changes:
        lines.append("No changes. The CRM matches the manifests.")
    lines.append(paint("bold", plan.summary()))
    return "\n".join(lines) + "\n"


def render_problems(problems: Sequence[Problem], *, color: bool = False) -> str:
    paint = _painter(color)
    files = len({p.file for p in problems})
    lines = [safe(str(p)) for p in problems]  # file:line first: safe() guards the line start
    noun = "problem" if len(problems) == 1 else "problems"
    where = "file" if files == 1 else "files"
    lines.append(paint("-", f"{len(problems)} {noun} in {files} {where}; nothing was sent."))
    return "\n".join(lines) + "\n"


def _painter(color: bool) -> Paint:
    def paint(kind: str, text: str) -> str:
        return f"{_COLORS[kind]}{text}{_RESET}" if color else text

    return paint


def _group_head(record: RecordChange, plan: Plan, show_unchanged: bool, paint: Paint) -> str:
    """The heading of the records one ``OpportunitySet`` changes: ``~ globex-region: 3
    records``, at the set's document."""
    members = [
        r
        for r in plan.records
        if r.group == record.group and (show_unchanged or r.action != "noop")
    ]
    noun = "record" if len(members) == 1 else "records"
    return paint("~", f"~ {safe(record.group)}: {len(members)} {noun}  {safe(str(record.origin))}")


def _from(change: FieldChange | RelationshipChange, record: RecordChange) -> str:
    """Where a change was written, when another document than the record's heading says so
    (a set's key on a record manifest's record)."""
    if change.origin.file == record.origin.file:
        return ""
    return f"  (from {safe(str(change.origin))})"


def _record(record: RecordChange, plan: Plan, paint: Paint) -> list[str]:
    symbol = _SYMBOL[record.action]
    what = safe(record.id) if record.id else "new opportunity"
    head = f"{symbol} {safe(record.name)} ({what})  {safe(str(record.origin))}"
    lines = [paint(symbol, head) if symbol.strip() else head]
    for change in record.fields:
        if record.action == "create":
            lines.append(paint("+", f"    + {safe(change.key)}: {show(change.after, plan.labels)}"))
        else:
            shown = _field(change, plan, paint)
            lines.extend([shown[0] + _from(change, record), *shown[1:]])
    for link in record.relationships:
        shown = _relationship(link, plan, paint)
        lines.extend([shown[0] + _from(link, record), *shown[1:]])
    if len(record.requests) > 1:
        lines.append(f"    ({len(record.requests)} requests: split to stay within API limits)")
    return lines


def _field(change: FieldChange, plan: Plan, paint: Paint) -> list[str]:
    """An update of one field as deepdiff's detail shows it: an object's changed parts, a
    list's added and removed items, else the value before → after."""
    key, labels = safe(change.key), plan.labels
    if change.parts and isinstance(change.before, dict) and isinstance(change.after, dict):
        return [
            paint(
                "~",
                f"    ~ {key}.{safe(part)}: {show(change.before.get(part), labels)} → "
                f"{show(change.after.get(part), labels)}",
            )
            for part in change.parts
        ]
    if change.added or change.removed:
        lines = [paint("~", f"    ~ {key}:")]
        lines += [paint("+", f"        + {show(item, labels)}") for item in change.added]
        lines += [paint("-", f"        - {show(item, labels)}") for item in change.removed]
        return lines
    before, after = show(change.before, labels), show(change.after, labels)
    return [paint("~", f"    ~ {key}: {before} → {after}")]


def _relationship(link: RelationshipChange, plan: Plan, paint: Paint) -> list[str]:
    key = safe(link.key)
    if link.cardinality == "HAS_ONE":
        before = link_name(link.before[0], plan.labels) if link.before else "(none)"
        after = link_name(link.after[0], plan.labels) if link.after else "(none)"
        return [paint("~", f"    ~ {key}: {before} → {after}")]
    lines = [paint("~", f"    ~ {key}:")]
    lines += [paint("+", f"        + {link_name(i, plan.labels)}") for i in link.add]
    lines += [paint("-", f"        - {link_name(i, plan.labels)}") for i in link.remove]
    return lines


_MARK = {"applied": "✓", "failed": "✗", "unverified": "!", "not_attempted": "·"}
_MARK_COLOR = {"applied": "+", "failed": "-", "unverified": "~", "not_attempted": "~"}


def render_report(report: ApplyReport, *, color: bool = False, streamed: bool = False) -> str:
    """The apply report; ``streamed``: without the lines of the records already shown one by
    one as they completed (``render_result``), so only those not attempted are listed."""
    if not report.results and report.stopped is None:
        return "Nothing to apply.\n"
    paint = _painter(color)
    lines = [
        _result_line(result, paint)
        for result in report.results
        if not streamed or result.status == "not_attempted"
    ]
    if report.stopped:
        lines.append(paint("-", safe(report.stopped)))
    lines.append(paint("bold", report.summary()))
    return "\n".join(lines) + "\n"


def render_result(result: RecordResult, *, color: bool = False) -> str:
    """One record's apply result, as one line."""
    return _result_line(result, _painter(color)) + "\n"


def _result_line(result: RecordResult, paint: Paint) -> str:
    what = f"{safe(result.name)} ({safe(result.id or 'new')})"
    status = result.status.replace("_", " ")
    detail = ""
    if result.status == "applied":
        plural = "s" if result.requests_sent != 1 else ""
        again = ", resent once after a stale replay" if result.resent else ""
        if result.replayed:
            again = ", replayed: created by an earlier apply, holds the planned values"
        detail = f" ({result.requests_sent} request{plural}{again})"
    elif result.failure is not None:
        failure = result.failure
        kind = " ".join(p for p in (failure.type, f"({failure.code})" if failure.code else "") if p)
        where = f"  at {safe(str(failure.origin))}" if failure.origin else ""
        detail = f": {safe(kind) + ': ' if kind else ''}{safe(failure.message)}{where}"
    line = f"{_MARK[result.status]} {what}  {status}{detail}"
    return paint(_MARK_COLOR[result.status], line)


def render_drift(report: DriftReport, *, color: bool = False) -> str:
    plan, paint = report.plan, _painter(color)
    lines: list[str] = []
    for record in plan.records:
        if record.action == "noop":
            continue
        if record.action == "create":
            lines.append(paint("-", f"! {safe(record.name)}  {safe(str(record.origin))}"))
            lines.append("    no live record matches metadata.match (apply would create it)")
            lines.append("")
            continue
        where = f"({safe(record.id or '')})  {safe(str(record.origin))}"
        lines.append(paint("~", f"~ {safe(record.name)} {where}"))
        if record.group:
            # Its keys drifted, or it has newly come to match the selector: either way the
            # next apply changes it.
            lines.append(
                f"    (set {safe(record.group)}: drifted, or newly matched by its selector)"
            )
        for change in record.fields:
            text = (
                f"    {safe(change.key)}: manifest {show(change.after, plan.labels)}, "
                f"live {show(change.before, plan.labels)}"
            )
            note = report.history.get((record.id or "", change.key))
            if note is not None and note.changed_at:
                was = f"; before that {safe(note.before)}" if note.before is not None else ""
                text += f"  (changed {safe(note.changed_at)}{was})"
            lines.append(text)
        for link in record.relationships:
            missing = ", ".join(link_name(i, plan.labels) for i in link.add) or "none"
            extra = ", ".join(link_name(i, plan.labels) for i in link.remove) or "none"
            lines.append(f"    {safe(link.key)}: missing {missing}; unexpected {extra}")
        lines.append("")
    drifted = sum(1 for r in plan.records if r.action != "noop")
    in_sync = len(plan.records) - drifted
    if not drifted:
        lines.append("No drift: the CRM matches the manifests.")
    lines.append(paint("bold", f"Drift: {drifted} drifted, {in_sync} in sync."))
    return "\n".join(lines) + "\n"
