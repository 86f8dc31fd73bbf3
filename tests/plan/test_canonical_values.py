"""The forms lfr and a normalising server share (core/value_types ``WebAddress``, ``Text``;
docs/api-contract.md §3): what is equal once canonical, what still differs, and that what lfr
sends is the manifest's own spelling."""

from __future__ import annotations

import pytest

from reconciler.core.org import OrgSchema, normalize_desired, normalize_live, same_value
from reconciler.core.value_types import Text, WebAddress, canonical_url


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("acme.com", "https://acme.com"),
        ("Docs.Acme.com/Pricing/", "https://docs.acme.com/Pricing"),
        ("HTTP://Globex.com/", "http://globex.com"),
        ("https://acme.com/a/?q=B", "https://acme.com/a?q=B"),
    ],
)
def test_a_url_equals_its_canonical_form(written: str, stored: str) -> None:
    assert WebAddress(written) == stored and stored == WebAddress(written)
    assert hash(WebAddress(written)) == hash(WebAddress(stored))
    assert canonical_url(written) == canonical_url(stored)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("http://acme.com", "https://acme.com"),  # another scheme is another URL
        ("acme.com/Pricing", "acme.com/pricing"),  # a path's case can matter
        ("acme.com?q=a", "acme.com?q=A"),
    ],
)
def test_urls_that_differ_stay_different(one: str, other: str) -> None:
    assert WebAddress(one) != other


def test_text_equals_itself_with_other_surrounding_whitespace_only() -> None:
    assert Text("Call the CFO\n") == "Call the CFO"
    assert Text("Call the CFO") == "  Call the CFO"
    assert Text("Call  the CFO") != "Call the CFO"  # inner whitespace is the text's own


@pytest.mark.anyio
async def test_the_plan_sends_the_manifest_spelling_but_compares_canonically(
    schema: OrgSchema,
) -> None:
    desired = normalize_desired(schema, "competitorUrls", ["initech.com", "HTTP://Globex.com/"])
    # Sent as written, sorted by the canonical form, so a server's spelling lines up.
    assert list(desired) == ["HTTP://Globex.com/", "initech.com"]
    live = normalize_live(
        schema.field("competitorUrls"), ["https://initech.com", "http://globex.com"]
    )
    assert same_value(desired, live)
    text = normalize_desired(schema, "$nextSteps", "Call the CFO\n")
    assert text == "Call the CFO\n" and same_value(text, "Call the CFO")
    assert not same_value(normalize_desired(schema, "$nextSteps", "Call"), "Call the CFO")
