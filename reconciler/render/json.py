"""Plan → JSON (``format_version`` 1, documented in the README); also the saved-plan format."""

from __future__ import annotations

import json

from ..plan import Plan, plan_to_dict


def render_plan(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"
