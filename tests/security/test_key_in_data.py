"""A CRM value (or a manifest value) holding an API key is never printed: plan and drift, as
text and as markdown (the PR comment, the public drift issue), show ``sk_lf_`` tokens of any
letter case as the redaction mark. The JSON plan keeps values exact: it is what apply sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.redact import MARK
from tests.support.cli import api, lfr
from tests.support.demo import ACME_RENEWAL, WriteManifest, opportunity

TOKENS = [
    "sk_lf_live_AbCdEf0123456789xyz",
    "SK_LF_0_UPPERCASEKEY987654321",
    "Sk_Lf_mixed-Case.Key~123+/=",
    "sk_lf_",  # the bare prefix: what follows may be cut off
]
# The part of each that must not show (the bare prefix shows only as the mark).
SECRETS = ["AbCdEf0123456789xyz", "UPPERCASEKEY987654321", "mixed-Case.Key~123"]


@pytest.mark.parametrize("command", ["plan", "drift"])
@pytest.mark.parametrize("output", ["text", "markdown"])
def test_a_key_in_a_crm_or_manifest_value_is_never_shown(
    server: str, write: WriteManifest, manifest_dir: Path, command: str, output: str
) -> None:
    live = " | ".join(f"token {t} here" for t in TOKENS)
    api("POST", server, f"/v1/opportunities/{ACME_RENEWAL}", {"fields": {"$nextSteps": live}})
    wanted = f"rotate {TOKENS[0]}"
    write("a.yaml", opportunity("a", ACME_RENEWAL, f"fields:\n  $nextSteps: '{wanted}'"))
    result = lfr([command, str(manifest_dir), "-f", output, "--no-color"], server)
    shown = result.stdout + result.stderr
    assert "rotate" in shown and "token" in shown, shown  # the values are shown...
    assert MARK in shown or MARK.replace("_", "\\_") in shown
    assert [s for s in SECRETS if s.lower() in shown.lower()] == []  # ...their keys are not
