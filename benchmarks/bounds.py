"""The rate-limit bounds the measured wall times are compared with (defined in BENCHMARKS.md).

Owns the arithmetic only: the fewest requests per category a plan of a given shape needs (the
best of the two strategies: ``GET`` every managed record by id, or scan the whole list and
confirm only the records that differ), and the time those requests take at the API's rate
with Read, Search and Write buckets used concurrently: ``max over categories of n / rate``
plus one round trip. Called by suite.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RATE = 25.0  # requests per second per category (Read, Search, Write)
PAGE = 25  # records per list page, the API's maximum


def plan_requests(*, listed: int, members: int, managed: int, differing: int) -> dict[str, int]:
    """Fewest requests for a plan of ``managed`` id-addressed records (``differing`` of which
    differ from live), whose ``$owner`` references name members by email.

    Both strategies read the definitions once and scan the member list once (members have no
    filters). By id: one read per managed record. Scan: every page of the opportunity list,
    plus one confirming read per differing record (the list index lags writes).
    """
    member_pages = math.ceil(members / PAGE)
    by_id = {"read": 1 + managed, "search": member_pages, "write": 0}
    scan = {"read": 1 + differing, "search": member_pages + math.ceil(listed / PAGE), "write": 0}
    return min((scan, by_id), key=lambda counts: max(counts.values()))


def apply_requests(*, listed: int, members: int, managed: int, updates: int) -> dict[str, int]:
    """Fewest requests for ``lfr apply`` of ``updates`` changed records out of ``managed``:
    the plan, one scope check (``GET /v1/auth/validate``), one write per record."""
    counts = plan_requests(listed=listed, members=members, managed=managed, differing=updates)
    return {**counts, "read": counts["read"] + 1, "write": updates}


def seconds(counts: Mapping[str, int], rtt: float, rate: float = RATE) -> float:
    """Rate-limit bound: the busiest category's requests at ``rate``, plus one round trip."""
    return max(counts.values()) / rate + rtt
