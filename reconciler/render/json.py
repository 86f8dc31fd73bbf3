"""Plan and apply report → JSON (``format_version`` 1, documented in the README); the plan's
JSON is also the saved-plan format."""

from __future__ import annotations

import json

from ..apply import ApplyReport
from ..drift import DriftReport
from ..plan import Plan, plan_to_dict


def render_plan(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


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
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


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
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
