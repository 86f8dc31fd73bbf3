"""Plan and apply report → JSON (``format_version`` 1, documented in the README); the plan's
JSON is also the saved-plan format.

Layout: one line per top-level key, and one line per item of a top-level list (a record, a
history entry), so a plan of 10,000 records is still readable, greppable and diffable by
record. It is also what lets the C encoder write it: ``indent=`` falls back to the pure-Python
encoder, 5x slower on a large plan. And it is what lets a plan be written a line at a time
(``stream_plan``): a plan of 100,000 records is ~75 MB of JSON, and its records' dicts several
times that, none of which a caller writing to a file or stdout needs to hold.

Strings from outside lfr stay exact (the saved plan is read back from this), but every character
``values.safe`` would show as an escape is written as a JSON ``\\u`` escape, so no line of the
document holds a raw line separator, control, bidi or zero-width character, and ``##[`` (a
legacy GitHub Actions command, anywhere in a line) is written ``##\\u005b``. A data string never
starts a line here, so the other command form (``::`` at the start) cannot occur.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..core.plan import Plan, plan_items, plan_to_dict
from ..core.policies import Review
from ..core.reports import ApplyReport, DriftReport
from .review import review_data
from .values import INVISIBLE

# What json.dumps(ensure_ascii=False) leaves raw and a log or terminal would act on, and the
# legacy command prefix; outside strings neither occurs (``[`` there never follows ``##``).
_UNSAFE = re.compile(f"{INVISIBLE.pattern}|##\\[")


def render_plan(plan: Plan, review: Review | None = None) -> str:
    return "".join(stream_plan(plan, review))


def stream_plan(plan: Plan, review: Review | None = None) -> Iterator[str]:
    """``render_plan``'s text a line at a time, each record's dict built only as its line is
    written (``core.plan.plan_items``); with ``review``, its ``policy`` and ``impact`` too
    (apply accepts such a plan, ignores them and judges it again: ``core.policies``)."""
    items = plan_items(plan, for_encoder=True)
    if review is not None:
        items += list(review_data(review, plan).items())
    return _lines(items)


def render_report(report: ApplyReport) -> str:
    data = {
        "format_version": 1,
        "ok": report.ok,
        "stopped": report.stopped,
        "summary": {
            status: report.count(status)
            for status in ("applied", "unverified", "failed", "not_attempted")
        },
        "records": [
            {
                "name": r.name,
                "id": r.id,
                "action": r.action,
                "status": r.status,
                "origin": {"file": r.origin.file, "line": r.origin.line},
                "requests_sent": r.requests_sent,
                "resent": r.resent,
                "replayed": r.replayed,
                "failure": None
                if r.failure is None
                else {
                    "message": r.failure.message,
                    "type": r.failure.type,
                    "code": r.failure.code,
                    "param": r.failure.param,
                    "origin": None
                    if r.failure.origin is None
                    else {"file": r.failure.origin.file, "line": r.failure.origin.line},
                },
            }
            for r in report.results
        ],
    }
    return _document(data)


def render_drift(report: DriftReport) -> str:
    data = plan_to_dict(report.plan)
    data["drifted"] = report.drifted
    data["history"] = [
        {
            "id": record_id,
            "key": key,
            "changed_at": note.changed_at,
            "now": note.now,
            "before": note.before,
        }
        for (record_id, key), note in sorted(report.history.items())
    ]
    return _document(data)


def render_line(value: Any) -> str:
    """``value`` as one line of JSON under the same rules as a document (e.g. ``lfr envs
    --json``, which a workflow step may print as well as write to $GITHUB_OUTPUT)."""
    return _compact(value)


def _document(data: dict[str, Any]) -> str:
    return "".join(_lines(list(data.items())))


def _lines(entries: Sequence[tuple[str, Any]]) -> Iterator[str]:
    """The document a line at a time: a top-level key with its value, or one item of a
    top-level list (a list, or an iterator of items, read once). Each piece ends a line, so a
    writer may cut the stream between any two pieces (``cli.output.batched_text``)."""
    yield "{\n"
    last = len(entries) - 1
    for index, (key, value) in enumerate(entries):
        end = "\n" if index == last else ",\n"
        if isinstance(value, list | Iterator):
            items = iter(value)
            previous = next(items, _NONE)
            if previous is not _NONE:
                yield f"  {_compact(key)}: [\n"
                for item in items:  # an item's comma needs to know another follows
                    yield f"    {_compact(previous)},\n"
                    previous = item
                yield f"    {_compact(previous)}\n  ]{end}"
                continue
            value = []
        yield f"  {_compact(key)}: {_compact(value)}{end}"
    yield "}\n"


_NONE = object()  # no first item: an empty list


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # json.dumps escapes every control character below 0x20, so the only ones an all-ASCII text
    # (nearly every record: ids, numbers, English names) can hold are DEL and ``##[``: two
    # substring checks instead of the character class's search, a third of a large plan's
    # JSON rendering.
    if text.isascii() and "\x7f" not in text and "##[" not in text:
        return text
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def _escape(match: re.Match[str]) -> str:
    if match.group() == "##[":
        return "##\\u005b"
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character beyond the BMP as a UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
