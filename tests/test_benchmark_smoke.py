"""The benchmark suite's smoke run (``benchmarks/run.py --smoke``) completes and prints its table.

It runs as a user would run it, in a subprocess: seeded emulators as separate ``lfr emulator
serve`` processes on loopback, ``lfr plan`` / ``lfr apply`` / the SDK baseline as commands. It
asserts nothing about time (figures are goals, not tests), only that every row is there with a
figure, so the script cannot rot. About 20 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (row id, words of its measure, what its result cell looks like)
EXPECTED_ROWS = [
    ("0", "lfr startup", r"\d+\.\d\d s"),
    ("0h", "`lfr --help`, CPU", r"\d+\.\d\d s"),
    ("0v", "`lfr --version`, CPU", r"\d+\.\d\d s"),
    ("0i", "imports for `lfr plan`, CPU", r"\d+\.\d\d s"),
    ("1", "lfr plan", r"\d+\.\d\d s"),
    ("2", "SDK list-paging script, same manifests", r"\d+\.\d\d s"),
    ("2r", "SDK per-record loop, same manifests", r"\d+\.\d\d s"),
    ("2b", "SDK list-paging script, N = T", r"\d+\.\d\d s"),
    ("7", "lfr plan, same, 200 ms", r"skipped"),  # the same code as rows 1 and 2
    ("7s", "SDK list-paging script, 200 ms", r"skipped"),
    ("8", "lfr drift", r"\d+\.\d\d s"),
    ("9", "lfr export --all, T=40", r"\d+\.\d\d s"),
    ("3", "lfr apply --auto-approve --force", r"\d+\.\d\d s"),
    ("3r", "429 responses, duplicate writes", r"\d+, 0"),  # a duplicate write is a bug
    ("3w", "its write phase", r"\d+\.\d\d s"),
    ("3s", "plan-then-write bound", r"\d+\.\d\d s"),
    ("3n", "lfr apply --auto-approve (no --force)", r"\d+\.\d\d s"),
    ("3nr", "429 responses, duplicate writes", r"\d+, 0"),
    ("3h", "HAS_MANY edits", r"\d+\.\d\d s"),
    ("3hr", "429 responses, duplicate writes", r"\d+, 0"),
    ("10", "a rep leaves: set plan", r"\d+\.\d\d s"),
    ("10a", "its apply --auto-approve --force", r"\d+\.\d\d s"),
    ("10r", "429 responses, duplicate writes", r"\d+, 0"),
    ("4", "core: load+validate+diff+render", r"\d+\.\d\d s"),
    ("4m", "peak RSS", r"\d+ MB"),
    ("4L", "core at 1,000 records", r"\d+\.\d\d s"),
    ("4Lm", "peak RSS", r"\d+ MB"),
    ("4v", "lfr validate --local, 1,000 manifests", r"\d+\.\d\d s"),
    ("4vm", "its peak RSS", r"\d+ MB"),
    ("4w", "lfr plan --local, 200 records", r"\d+\.\d\d s"),
    ("5", "scaling: lfr plan, T=40 N=10", r"\d+\.\d\d s"),
    ("5", "scaling: lfr plan, T=160 N=40", r"\d+\.\d\d s"),
    ("5", "scaling: lfr plan, T=10,000", r"skipped"),
    ("6", "retrieve by id", r"\d+ req/s"),
    ("6s", "list page of 25", r"\d+ req/s"),
]


def test_the_smoke_benchmark_completes_and_prints_every_row() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lfr benchmarks (smoke")
    header = next(i for i, line in enumerate(lines) if line.startswith("#  "))
    # Columns are where the dashes under the header are.
    spans = [m.span() for m in re.finditer(r"-+", lines[header + 1])]
    rows = [
        [line[start:end].strip() for start, end in spans]
        for line in lines[header + 2 : header + 2 + len(EXPECTED_ROWS)]
    ]
    for cells, (row_id, words, figure) in zip(rows, EXPECTED_ROWS, strict=True):
        assert cells[0] == row_id, cells
        assert words in cells[1], cells
        assert re.fullmatch(figure, cells[2]), cells
    # Every measured plan found the differences the workload put in (else it exits 1), and
    # the notes say how many requests each run made.
    assert any(line.startswith("1: requests read ") for line in lines)
    assert any(line.startswith("3: requests read ") for line in lines)
    assert any(line.startswith("9: requests read ") for line in lines)
    assert any(line.startswith("10: plan requests read ") for line in lines)
