"""The rate-limit bounds and floors the measured wall times are compared with (defined in
BENCHMARKS.md).

Owns the arithmetic only: the fewest requests per category a run of a given shape needs (for a
plan, the best of two strategies: ``GET`` every managed record by id, or scan the whole list and
confirm only the records that differ; plus a ``GET`` of each raw id a write would newly link, or
one scan of that type's list when cheaper), and two yardsticks for those requests, with Read,
Search and Write buckets used concurrently:

- the steady-state **bound**: ``max over categories of n / rate`` plus one round trip;
- the burst-aware **floor**: the API's buckets start full, so the first ``burst`` requests of
  the busiest category go out at once: ``(n - burst) / rate`` plus the round trips that must
  run one after the other (each row says which).

Called by suite.py, reads.py and applies.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RATE = 25.0  # requests per second per category (Read, Search, Write)
BURST = 25  # the API's bucket capacity: a second's worth of requests, all at once
PAGE = 25  # records per list page, the API's maximum

# Round trips that must follow one another, whatever the pacing:
# plan (scan): [definitions, member list and the first page] → the rest of the pages → the
# confirming read of a difference the last page shows.
PLAN_SEQUENTIAL = 3
# drift: the plan's, then the history read of the last confirmed difference.
DRIFT_SEQUENTIAL = PLAN_SEQUENTIAL + 1
# apply streaming its writes (--auto-approve --force): the first page, a confirming read, the
# write it allows; the writes then follow at the Write rate.
APPLY_STREAMING_SEQUENTIAL = 3
# the write phase of an apply that waits for its whole plan: its last write's answer.
WRITES_SEQUENTIAL = 1


def plan_requests(
    *,
    listed: int,
    members: int,
    managed: int,
    differing: int,
    linking: int = 0,
    link_listed: int = 0,
) -> dict[str, int]:
    """Fewest requests for a plan of ``managed`` id-addressed records (``differing`` of which
    differ from live), whose ``$owner`` references name members by email, and whose changes
    newly link ``linking`` raw contact ids (out of a contact list of ``link_listed``).

    Both strategies read the definitions once and scan the member list once (members have no
    filters). By id: one read per managed record. Scan: every page of the opportunity list,
    plus one confirming read per differing record (the list index lags writes). Each newly
    linked raw id is confirmed (the API refuses to link a missing one): a read each, or one
    scan of the contact list, whichever leaves the busiest category lower.
    """
    member_pages = math.ceil(members / PAGE)
    by_id = {"read": 1 + managed, "search": member_pages, "write": 0}
    scan = {"read": 1 + differing, "search": member_pages + math.ceil(listed / PAGE), "write": 0}
    best = min((scan, by_id), key=lambda counts: max(counts.values()))
    if not linking:
        return best
    reading = {**best, "read": best["read"] + linking}
    scanning = {**best, "search": best["search"] + math.ceil(link_listed / PAGE)}
    return min((reading, scanning), key=lambda counts: max(counts.values()))


def apply_requests(
    *,
    listed: int,
    members: int,
    managed: int,
    updates: int,
    linking: int = 0,
    link_listed: int = 0,
) -> dict[str, int]:
    """Fewest requests for ``lfr apply`` of ``updates`` changed records out of ``managed``:
    the plan, one scope check (``GET /v1/auth/validate``), one write per record."""
    counts = plan_requests(
        listed=listed,
        members=members,
        managed=managed,
        differing=updates,
        linking=linking,
        link_listed=link_listed,
    )
    return {**counts, "read": counts["read"] + 1, "write": updates}


def seconds(counts: Mapping[str, int], rtt: float, rate: float = RATE) -> float:
    """Rate-limit bound: the busiest category's requests at ``rate``, plus one round trip."""
    return max(counts.values()) / rate + rtt


def floor(
    counts: Mapping[str, int], rtt: float, sequential: int, rate: float = RATE, burst: int = BURST
) -> float:
    """Burst-aware floor: the busiest category's requests beyond the first burst at ``rate``,
    plus ``sequential`` round trips that no pacing can overlap."""
    return max(0, max(counts.values()) - burst) / rate + sequential * rtt
