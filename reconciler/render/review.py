"""The guardrails' review of a plan (``core.policies.Review``) as text, Markdown (with a Mermaid
chart GitHub renders) and JSON data; and the record sections grouped by ``--group-by``.

Every name shown here (a stage, an owner, a record, a file) comes from outside lfr: through
``values.safe`` always, then Markdown's ``escape`` / ``code``, or ``mermaid`` inside the chart,
which writes every character but letters, digits and a few signs as a Mermaid entity code
(``#34;``), so no label can close a node, start a directive, add a click handler or end the
code fence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.impact import (
    Deal,
    Impact,
    OwnerMove,
    StageMove,
    group_records,
    money,
    owner_label,
    stage_label,
)
from ..core.plan import Plan, RecordChange
from ..core.policies import Review, Violation
from .values import safe

# The one line over a review read from a saved plan (``lfr show``): not judged now.
SAVED = (
    "Review saved when the plan was made, by lfr.yaml's policies then; "
    "`lfr apply PLAN.json` judges the plan again by the current lfr.yaml."
)
_MERMAID_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,+-$")


def mermaid(text: str) -> str:
    """A label for a Mermaid string: one safe line, everything but plain characters as entity
    codes (Mermaid's ``#<decimal>;``)."""
    return "".join(c if c in _MERMAID_PLAIN else f"#{ord(c)};" for c in safe(text))


def stage_name(stage: str | None, plan: Plan) -> str:
    """A stage option id by its label (unsafe: the caller makes it safe for its format)."""
    return stage_label(stage, plan.labels)


def owner_name(owner: str | None, managed: bool, plan: Plan) -> str:
    return owner_label(owner, managed, plan.labels)


def stages_by_name(impact: Impact, plan: Plan) -> list[StageMove]:
    return sorted(impact.stages, key=lambda move: stage_name(move.stage, plan))


def owners_by_name(impact: Impact, plan: Plan) -> list[OwnerMove]:
    """By name, the owner not in the manifest last."""
    return sorted(
        impact.owners,
        key=lambda o: (not o.managed, owner_name(o.owner, o.managed, plan)),
    )


def grouped(
    plan: Plan, records: list[RecordChange], review: Review | None, by: str | None
) -> list[tuple[str | None, list[RecordChange]]]:
    """``records`` in groups (``--group-by``), or one group named None."""
    if by is None or review is None:
        return [(None, records)]
    return list(group_records(records, by, review.facts, plan.labels))  # type: ignore[arg-type]


# --- text ----------------------------------------------------------------------------------------


def text_lines(
    review: Review, plan: Plan, paint: Callable[[str, str], str], *, saved: bool = False
) -> list[str]:
    """The impact, then the violations; ``saved``: read from a saved plan, so said first."""
    lines: list[str] = [SAVED] if saved else []
    if review.impact is not None:
        lines += _impact_text(review.impact, plan)
        lines.append("")
    if review.violations:
        lines.append(paint("bold", "Policies:"))
        for violation in review.violations:
            lines.append(paint(_color(violation), "  " + _violation_line(violation)))
        lines.append("")
    return lines if lines != [SAVED] else []


def _color(violation: Violation) -> str:
    return "-" if violation.blocks else "~"


def _mark(violation: Violation) -> str:
    if violation.allowed:
        return f"{violation.severity} (allowed by --allow)"
    return violation.severity


def _violation_line(violation: Violation) -> str:
    return (
        f"{_mark(violation)} {safe(violation.rule)}  {safe(str(violation.origin))}  "
        f"{safe(violation.message)}"
    )


def _impact_text(impact: Impact, plan: Plan) -> list[str]:
    cash = _cash(impact)
    lines = ["Pipeline impact:", f"  open pipeline: {_open_total(impact, cash)}"]
    for move in stages_by_name(impact, plan):
        lines.append(
            f"  {safe(stage_name(move.stage, plan))}: {cash(move.before)} → {cash(move.after)} "
            f"(in {cash(move.moved_in)}, out {cash(move.moved_out)})"
        )
    for word, deals in (("won", impact.won), ("lost", impact.lost), ("reopened", impact.reopened)):
        if deals:
            names = ", ".join(safe(d.name) for d in deals)
            plural = "s" if len(deals) != 1 else ""
            lines.append(f"  {word}: {len(deals)} deal{plural} ({_total(deals, cash)}): {names}")
    for owner in owners_by_name(impact, plan):
        lines.append(
            f"  owner {safe(owner_name(owner.owner, owner.managed, plan))}: "
            f"{cash(owner.before)} → {cash(owner.after)} ({cash(owner.after - owner.before, True)})"
        )
    for reason, uncounted in impact.not_counted():
        lines.append(f"  not counted ({reason}): " + ", ".join(safe(name) for name in uncounted))
    return lines


def _open_total(impact: Impact, cash: Callable[..., str]) -> str:
    if not impact.counted:
        return "not known (no record of the plan has both its amount and stage in a manifest)"
    return f"{cash(impact.open_before)} → {cash(impact.open_after)} ({cash(impact.delta, True)})"


def _total(deals: tuple[Deal, ...], cash: Callable[..., str]) -> str:
    """The deals' amount, or how many of them have no amount in the manifest."""
    unknown = sum(1 for deal in deals if deal.amount is None)
    if unknown == len(deals):
        return "amount not in the manifest"
    total = cash(sum(deal.amount or 0.0 for deal in deals))
    return f"{total}; {unknown} without an amount in the manifest" if unknown else total


def _cash(impact: Impact) -> Callable[..., str]:
    def cash(value: float, signed: bool = False) -> str:
        return safe(money(value, impact.currency, signed=signed))

    return cash


# --- markdown ------------------------------------------------------------------------------------


def markdown_lines(
    review: Review,
    plan: Plan,
    markdown_escape: Callable[[str], str],
    code: Callable[..., str],
    *,
    saved: bool = False,
) -> list[str]:
    """The violations and the impact (``markdown_escape`` escapes ``$`` too: GitHub reads text
    between two dollar signs, ``$120,000 → $135,000``, as a math formula); ``saved``: read from
    a saved plan, so said first, as a quote the next heading ends."""
    escape = markdown_escape
    lines: list[str] = [f"> {SAVED}"] if saved else []
    if review.violations:
        lines += ["#### Policies", "", "| | rule | where | violation |", "|---|---|---|---|"]
        for v in review.violations:
            mark = "✅ allowed" if v.allowed else "❌ error" if v.severity == "error" else "⚠️ warn"
            lines.append(
                f"| {mark} | {code(v.rule, cell=True)} | {code(str(v.origin), cell=True)} | "
                f"{escape(v.message)} |"
            )
        lines.append("")
    if review.impact is not None:
        lines += _impact_markdown(review.impact, plan, escape)
    return lines if len(lines) > saved else []


def _impact_markdown(impact: Impact, plan: Plan, escape: Callable[[str], str]) -> list[str]:
    cash = _cash(impact)
    lines = [
        "#### Pipeline impact",
        "",
        f"**Open pipeline: {escape(_open_total(impact, cash))}**",
        "",
    ]
    if impact.stages:
        lines += ["| stage | before | after | in | out |", "|---|---:|---:|---:|---:|"]
        for move in stages_by_name(impact, plan):
            lines.append(
                f"| {escape(stage_name(move.stage, plan))} | {escape(cash(move.before))} | "
                f"{escape(cash(move.after))} | {escape(cash(move.moved_in))} | "
                f"{escape(cash(move.moved_out))} |"
            )
        lines.append("")
    for word, deals in (("Won", impact.won), ("Lost", impact.lost), ("Reopened", impact.reopened)):
        if deals:
            names = ", ".join(escape(d.name) for d in deals)
            lines += [f"**{word}:** {len(deals)} ({escape(_total(deals, cash))}): {names}", ""]
    if impact.owners:
        lines += ["| owner | before | after | change |", "|---|---:|---:|---:|"]
        for owner in owners_by_name(impact, plan):
            lines.append(
                f"| {escape(owner_name(owner.owner, owner.managed, plan))} | "
                f"{escape(cash(owner.before))} | {escape(cash(owner.after))} | "
                f"{escape(cash(owner.after - owner.before, True))} |"
            )
        lines.append("")
    for reason, uncounted in impact.not_counted():
        names = ", ".join(escape(name) for name in uncounted)
        lines += [f"Not counted ({reason}): {names}", ""]
    return lines + chart(impact, plan)


def chart(impact: Impact, plan: Plan) -> list[str]:
    """A Mermaid flowchart of the amount moved from stage to stage (``new``: created deals)."""
    if not impact.flows:
        return []
    ids: dict[str, str] = {}

    def node(stage: str | None) -> str:
        name = stage_name(stage, plan) if stage is not None else "new"
        key = stage or "\0new"
        if key not in ids:
            ids[key] = f"s{len(ids)}"
            return f'{ids[key]}["{mermaid(name)}"]'
        return ids[key]

    lines = ["```mermaid", "flowchart LR"]
    for source, target, amount in impact.flows:
        label = mermaid(money(amount, impact.currency))
        lines.append(f'  {node(source)} -->|"{label}"| {node(target)}')
    return [*lines, "```", ""]


# --- json ----------------------------------------------------------------------------------------


def review_data(review: Review, plan: Plan) -> dict[str, Any]:
    """The same numbers as the text and Markdown, for other tools (amounts as numbers)."""
    data: dict[str, Any] = {
        "policy": {
            "blocking": bool(review.blocking),
            "violations": [
                {
                    "rule": v.rule,
                    "severity": v.severity,
                    "allowed": v.allowed,
                    "record": v.record,
                    "origin": {"file": v.origin.file, "line": v.origin.line},
                    "message": v.message,
                }
                for v in review.violations
            ],
        }
    }
    impact = review.impact
    if impact is not None:
        data["impact"] = {
            "currency": impact.currency,
            "open_before": impact.open_before,
            "open_after": impact.open_after,
            "open_change": impact.delta,
            "counted": impact.counted,
            "stages": [
                {
                    "stage": m.stage,
                    "label": stage_name(m.stage, plan),
                    "before": m.before,
                    "after": m.after,
                    "moved_in": m.moved_in,
                    "moved_out": m.moved_out,
                }
                for m in stages_by_name(impact, plan)
            ],
            **{
                word: [
                    {"name": d.name, "amount": d.amount, "from": d.from_stage, "to": d.to_stage}
                    for d in deals
                ]
                for word, deals in (
                    ("won", impact.won),
                    ("lost", impact.lost),
                    ("reopened", impact.reopened),
                )
            },
            "owners": [
                {
                    "owner": o.owner,
                    "label": owner_name(o.owner, o.managed, plan),
                    "managed": o.managed,
                    "before": o.before,
                    "after": o.after,
                    "change": o.after - o.before,
                }
                for o in owners_by_name(impact, plan)
            ],
            "uncounted": list(impact.uncounted),
            # Why each is not counted (the same order), added after ``uncounted``.
            "uncounted_reasons": list(impact.reasons),
            # The chart's edges (lfr show draws it from a saved plan): from null is a create.
            "flows": [
                {"from": source, "to": target, "amount": amount}
                for source, target, amount in impact.flows
            ],
        }
    return data
