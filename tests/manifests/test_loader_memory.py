"""Loading manifests keeps nothing of the files it read once their documents are dropped.

The loader used to build scalars through ruamel's ``construct_object``, which remembers every
node it ever built: ~6 KiB per manifest stayed alive for the life of the process (about 100 MB
for 10,000 manifests in the core benchmark).
"""

from __future__ import annotations

import gc
import tracemalloc

from reconciler.adapters.loader import load_bytes
from tests.support.demo import opportunity


def _manifest(i: int) -> bytes:
    spec = (
        f"fields:\n  $amount: {1000 + i}\n  $nextSteps: call {i}\n  products: [Platform, Support]\n"
        "relationships:\n  $owner: {email: jane@acme-sales.example}\n"
    )
    return opportunity(f"m{i}", f"opp_cm{i:013d}", spec).encode()


def test_loading_300_manifests_retains_almost_nothing() -> None:
    load_bytes(_manifest(0), "warm.yaml")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1, 301):
            assert load_bytes(_manifest(i), f"m{i}.yaml").documents
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Only the bounded cache of plain scalar values remains (~120 KiB here; 1.8 MiB before).
    assert retained < 600 * 1024


def test_repeated_plain_scalars_keep_their_types() -> None:
    # The cache of plain scalars is keyed by text: the same text is the same value every time,
    # and quoting still makes a string.
    text = (
        b"apiVersion: lfr/v1\na: 12\nb: '12'\nc: true\nd: 'true'\ne: null\nf: 1.5\ng: 2027-01-01\n"
    )
    for _ in range(2):
        (document,) = load_bytes(text, "x.yaml").documents
        assert document.data == {
            "apiVersion": "lfr/v1",
            "a": 12,
            "b": "12",
            "c": True,
            "d": "true",
            "e": None,
            "f": 1.5,
            "g": "2027-01-01",
        }
