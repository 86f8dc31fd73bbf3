"""The pure core, in-process: load + validate + diff + render of many manifests, no network.

Owns benchmark 4. The prefetched state (the demo org's definitions and the live records, parsed
into ``reconciler.records`` models as the client would hold them) is built before the clock
starts; then the timed part is what ``lfr plan`` does besides I/O to the API: read and
shape-check every file, check values against the definitions (``build_desired``, then the
documents are let go, as ``runs.plan`` does), hash the revision, diff every record
(``build_plan``) and render the plan as text and as JSON (streamed a line at a time, as the CLI
writes it). Each stage's CPU time is printed beside its wall time: on a shared machine the wall
time also counts other processes. Run in a fresh process by run.py, so that the peak RSS it
reports (``getrusage`` ``ru_maxrss``: the whole process, interpreter and imports included)
belongs to this work alone.

Usage: ``python benchmarks/core.py DIR`` (DIR holds ``manifests/`` and ``live.jsonl``); prints
one JSON object. ``python benchmarks/core.py --make DIR N D`` writes such a DIR first, as the
suite writes row 4's (N records, D of them differing), e.g. for 100,000 records.
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
    cpu_stages: dict[str, float] = {}
    started = mark = time.perf_counter()
    cpu_started = cpu_mark = time.process_time()

    def stage(name: str) -> None:
        # CPU time too: on a shared machine a stage's wall time also counts other processes.
        nonlocal mark, cpu_mark
        now, cpu_now = time.perf_counter(), time.process_time()
        stages[name], cpu_stages[name] = now - mark, cpu_now - cpu_mark
        mark, cpu_mark = now, cpu_now

    read = read_manifests(root)
    if read.problems:
        raise SystemExit(f"unexpected problems: {read.problems[:3]}")
    digest, manifests = read.digest, read.manifests
    del read
    stage("load")
    schema = OrgSchema(definitions)
    desired, problems = build_desired(manifests, schema)
    del manifests  # as runs.plan does: the documents go once desired state is built
    if problems:
        raise SystemExit(f"unexpected problems: {problems[:3]}")
    stage("validate")
    revision = manifest_revision(root, digest)
    options = DiffOptions(revision=revision, target="benchmark")
    plan = build_plan([(d, live[d.id or ""]) for d in desired], schema, options, labels)
    stage("diff")
    text = text_render.render_plan(plan)
    # Streamed, as `lfr plan -f json` writes it: a line at a time into the sink.
    json_chars = sum(map(len, json_render.stream_plan(plan)))
    stage("render")
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "records": len(desired),
                "update": plan.count("update"),
                "noop": plan.count("noop"),
                "seconds": seconds,
                "stages": stages,
                "cpu_seconds": cpu_seconds,
                "cpu_stages": cpu_stages,
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak_kb / 1024,
                "text_chars": len(text),
                "json_chars": json_chars,
            }
        )
    )


def make(directory: Path, count: int, differing: int) -> None:
    """Row 4's input: ``count`` synthetic records' manifests (``differing`` of them differ
    from live) and their live records, one JSON line each."""
    from benchmarks.workload import spread, synthetic, wire_record, write_manifests

    vocab, defs, opportunities = synthetic(count)
    write_manifests(
        directory / "manifests",
        opportunities,
        vocab,
        spread(count, differing),
        owner_by_email=False,
    )
    with (directory / "live.jsonl").open("w", encoding="utf-8") as out:
        for opp in opportunities:
            out.write(json.dumps(wire_record(opp, defs)) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "--make":
        make(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main(Path(sys.argv[1]))
