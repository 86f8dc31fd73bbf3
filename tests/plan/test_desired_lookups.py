"""What ``build_desired`` works out once a run, not once a manifest: whether each field may be
written (from its definition), and the pipeline of each stage option (the org's stage list is
not gone through again for every manifest). The problems stay the same, each at its line."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.adapters.loader import load_bytes
from reconciler.core import desired_fields
from reconciler.core.desired import build_desired
from reconciler.core.model import LoadedManifest, parse_manifests
from reconciler.core.org import OrgSchema
from tests.support.demo import opportunity


def _manifests(count: int, spec: str) -> list[LoadedManifest]:
    loaded: list[LoadedManifest] = []
    for index in range(count):
        text = opportunity(f"m-{index}", f"opp_cm{index:013d}", spec)
        found, problems = parse_manifests(load_bytes(text.encode(), f"m-{index}.yaml").documents)
        assert not problems
        loaded += found
    return loaded


def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Each call of ``owner.name`` from now on, by its first argument after ``self``."""
    calls: list[Any] = []
    original = getattr(owner, name)

    def counting(*args: Any) -> Any:
        calls.append(args[1] if isinstance(owner, type) else args[0])
        return original(*args)

    monkeypatch.setattr(owner, name, counting)
    return calls


@pytest.mark.anyio
async def test_whether_a_field_is_read_only_is_asked_once_a_run(
    schema: OrgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = _manifests(30, "fields:\n  $amount: 5\n  $opportunityStatus: OPEN")
    asked = _count_calls(monkeypatch, OrgSchema, "field_read_only")

    records, problems = build_desired(manifests, schema)

    assert asked.count("$amount") == 1  # not 30
    assert records == []
    assert [str(p) for p in problems] == [
        f"m-{i}.yaml:9: field '$opportunityStatus' is read-only: Lightfield sets it; remove it"
        for i in sorted(range(30), key=str)
    ]


@pytest.mark.anyio
async def test_the_stage_options_are_gone_through_once_a_run(
    schema: OrgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = _manifests(30, "fields:\n  $stage: Proposal")
    listed = _count_calls(monkeypatch, desired_fields, "options")

    records, problems = build_desired(manifests, schema)

    assert listed.count(schema) == 1  # not once or twice a manifest
    assert not problems
    (pipeline,) = (f for f in records[0].fields if f.key == "$pipeline")  # implied by $stage
    stage = next(f for f in records[0].fields if f.key == "$stage")
    assert pipeline.origin == stage.origin and str(stage.origin) == "m-0.yaml:8"
    assert pipeline.value == next(
        o.parent_id
        for o in schema.field("$stage").type_configuration.options  # type: ignore[union-attr]
        if o.id == stage.value
    )


@pytest.mark.anyio
async def test_a_stage_of_another_pipeline_is_still_refused_at_the_pipeline_line(
    schema: OrgSchema,
) -> None:
    manifests = _manifests(3, "fields:\n  $pipeline: Sales\n  $stage: Renewed")

    _, problems = build_desired(manifests, schema)

    assert [str(p) for p in problems] == [
        f"m-{i}.yaml:8: $stage 'Renewed' is not a stage of pipeline 'Sales'" for i in range(3)
    ]
