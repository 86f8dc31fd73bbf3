"""What the CLI does with the guardrails' options (``--allow RULE``, ``--group-by``, declared in
``cli/options.py``): the run's ``Guardrails`` from lfr.yaml, and the exit when a plan breaks an
error-level policy.

The rules and their judgement are ``core.policies``'s; this module only turns the command line
and the settings into them (``today`` is the UTC date, as the API's dates are).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .output import fail

if TYPE_CHECKING:  # the core is imported when a command runs, not at startup
    from ..core.policies import Guardrails, Review
    from ..core.settings import LoadedSettings


def guardrails_of(loaded: LoadedSettings | None, allow: list[str] | None) -> Guardrails:
    """The policies of ``loaded`` (none without lfr.yaml) with ``--allow``: a name that is no
    rule is refused (a typo would otherwise leave the rule blocking, or worse, seem to)."""
    from datetime import UTC, datetime

    from ..core.policies import Guardrails, unknown_rules

    unknown = unknown_rules(allow or [])
    if unknown:
        raise fail(f"--allow: no rule {', '.join(unknown)}")
    today = datetime.now(UTC).date().isoformat()
    if loaded is None:
        return Guardrails(allow=frozenset(allow or ()), today=today)
    return Guardrails(
        policies=tuple(loaded.settings.policies),
        pipeline=loaded.settings.pipeline,
        origin_of=loaded.origin_of,
        allow=frozenset(allow or ()),
        today=today,
    )


def grouping_only(loaded: LoadedSettings | None) -> Review:
    """A review that only groups (``lfr show``: offline, no definitions to judge by)."""
    from ..core.impact import pipeline_facts
    from ..core.policies import Review
    from ..core.policy_settings import PipelineSettings

    pipeline = loaded.settings.pipeline if loaded is not None else PipelineSettings()
    return Review(facts=pipeline_facts(None, pipeline))


def refuse_if_blocking(review: Review) -> None:
    """Exit 1 (after the plan was shown) when it breaks an error-level policy."""
    from ..runs.apply import refusal

    if review.blocking:
        raise fail(refusal(review).replace("; nothing was sent", ""))
