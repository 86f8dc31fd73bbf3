"""A rep leaves (issue 17): one ``OpportunitySet`` moves every open deal a member owns to
another, against the emulator at the API's rates (25 requests a second per category, 429s on).

Seeds the demo org with bulk opportunities (their owners drawn among the demo's five members),
then times ``lfr plan`` and ``lfr apply --auto-approve --force`` as processes, and a second
plan, which must be empty (the reassigned deals no longer match). Prints the matched records,
the wall seconds of each run, and the requests each sent by category, beside the bound a set
costs: its filtered pages plus one read per candidate for the plan, one write per record for
the apply; and the 429s (none expected: the client's buckets pace it).

Usage: ``python benchmarks/sets.py [OPPORTUNITIES]`` (default 800: ~160 deals a member).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``reconciler`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.installed import cache_bytecode
from reconciler.emulator import Emulator
from reconciler.emulator.server import running_server

KEY = "sk_lf_demo_full"
LEAVER = "lucas@acme-sales.example"
DEPARTURE = f"""\
apiVersion: lfr/v1
kind: OpportunitySet
metadata:
  name: lucas-leaves
spec:
  selector:
    $owner: {{email: {LEAVER}}}
    status: open
  relationships:
    $owner: {{email: omar@acme-sales.example}}
"""


def _lfr(args: list[str], base_url: str, cwd: Path) -> tuple[float, int]:
    env = {**os.environ, "LIGHTFIELD_API_KEY": KEY, "LIGHTFIELD_BASE_URL": base_url}
    env.pop("CI", None)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "reconciler.cli", *args], env=env, cwd=cwd, capture_output=True
    )
    return time.perf_counter() - started, done.returncode


def _sent(emu: Emulator) -> dict[str, int]:
    counted = Counter(str(r["category"]) for r in emu.requests())
    counted["429"] = sum(1 for r in emu.requests() if r["status"] == 429)
    return dict(sorted(counted.items()))


def main(opportunities: int) -> None:
    cache_bytecode()
    emu = Emulator(db=":memory:", seed="demo")
    emu.seed_bulk(opportunities=opportunities)
    with tempfile.TemporaryDirectory() as tmp, running_server(emu, port=0) as base_url:
        cwd = Path(tmp)
        (cwd / "manifests").mkdir()
        (cwd / "manifests" / "lucas-leaves.yaml").write_text(DEPARTURE)
        result: dict[str, object] = {"opportunities": 17 + opportunities}
        for step, args in (
            ("plan", ["plan", "manifests"]),
            ("apply", ["apply", "manifests", "--auto-approve", "--force"]),
            ("second plan", ["plan", "manifests", "--detailed-exitcode"]),
        ):
            emu.reset_logs()
            seconds, code = _lfr(args, base_url, cwd)
            result[step] = {"wall_s": round(seconds, 2), "exit": code, "requests": _sent(emu)}
        moved = result["apply"]["requests"].get("write", 0)  # type: ignore[index]
        plan = result["plan"]["requests"]  # type: ignore[index]
        result["reassigned"] = moved
        # What a set may cost: the filtered pages of the leaver's open deals and the member list
        # (the reference), one read a candidate and the definitions; one write a record.
        bound = {"search": math.ceil(moved / 25) + 1, "read": moved + 1}
        result["bound"] = {
            **{f"plan {k} <=": v for k, v in bound.items()},
            "within": all(plan.get(k, 0) <= v for k, v in bound.items()),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 800)
