"""The pure core, in-process: load + validate + diff + render of many manifests, no network.

Owns benchmark 4. The prefetched state (the demo org's definitions and the live records, parsed
into ``reconciler.records`` models as the client would hold them) is built before the clock
starts; then the timed part is what ``lfr plan`` does besides I/O to the API: read and
shape-check every file, check values against the definitions (``build_desired``), hash the
revision, diff every record (``build_plan``) and render the plan as text and as JSON. Run in a
fresh process by run.py, so that the peak RSS it reports (``getrusage`` ``ru_maxrss``: the
whole process, interpreter and imports included) belongs to this work alone.

Usage: ``python benchmarks/core.py DIR`` (DIR holds ``manifests/`` and ``live.jsonl``); prints
one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

from reconciler.adapters.revision import manifest_revision
from reconciler.cli import GC_THRESHOLD
from reconciler.core.desired import build_desired
from reconciler.core.diff import build_plan
from reconciler.core.org import OrgSchema
from reconciler.core.plan import DiffOptions
from reconciler.core.records import Definitions, Record
from reconciler.emulator.definitions import build_definitions
from reconciler.emulator.seed import DEMO_ORG, MEMBERS, demo_id
from reconciler.render import json as json_render
from reconciler.render import text as text_render
from reconciler.runs.validate import read_manifests


def _rss_mb() -> float:
    """Current resident set size, from /proc (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(directory: Path) -> None:
    gc.set_threshold(*GC_THRESHOLD)  # as `lfr` sets it on start
    os.chdir(directory)  # problems and origins read manifests/..., as in a repository
    definitions = Definitions.model_validate(build_definitions(DEMO_ORG)["opportunity"].to_wire())
    with Path("live.jsonl").open(encoding="utf-8") as lines:
        # One record per line, parsed one at a time as the client parses its pages.
        live = {record.id: record for record in map(Record.model_validate_json, lines)}
    labels = {
        demo_id(DEMO_ORG, "mem", email): f"{first} {last} <{email}>"
        for first, last, email, _ in MEMBERS
    }
    for definition in definitions.field_definitions.values():
        labels.update((o.id, o.label) for o in definition.type_configuration.options)
    rss_before = _rss_mb()
    root = Path("manifests")

    stages: dict[str, float] = {}
    started = mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stages[name] = now - mark
        mark = now

    read = read_manifests(root)
    manifests = read.manifests
    if read.problems:
        raise SystemExit(f"unexpected problems: {read.problems[:3]}")
    stage("load")
    schema = OrgSchema(definitions)
    desired, problems = build_desired(manifests, schema)
    if problems:
        raise SystemExit(f"unexpected problems: {problems[:3]}")
    stage("validate")
    revision = manifest_revision(root, read.digest)
    options = DiffOptions(revision=revision, target="benchmark")
    plan = build_plan([(d, live[d.id or ""]) for d in desired], schema, options, labels)
    stage("diff")
    text = text_render.render_plan(plan)
    document = json_render.render_plan(plan)
    stage("render")
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "records": len(desired),
                "update": plan.count("update"),
                "noop": plan.count("noop"),
                "seconds": seconds,
                "stages": stages,
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak_kb / 1024,
                "text_chars": len(text),
                "json_chars": len(document),
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
