"""Facts about the emulator's demo seed that tests rely on, and a manifest builder.

The demo seed's ids are deterministic (reconciler/emulator/seed.py), so tests name records by
id and by the emails and names the seed documents.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

FULL_KEY = "sk_lf_demo_full"
READ_KEY = "sk_lf_demo_read"
ACME_RENEWAL = "opp_cmr3idcbxmiev5v"  # $amount 120000, $stage Proposal (Sales), $contact [alex]
INITECH = "opp_cm2imngqfhyz8fv"
ALEX = "con_cm0bffyv0gam2nv"
NINA = "con_cmsel1g7rwmrfyv"
SAM = "con_cm2ubefpt7wdfxt"
JANE = "mem_cmc1u2x5v2x4ljb"
PRIYA = "mem_cmbc9vx9tsac0mp"
PROSPECTING = "opt_01ewfn0zehddfkmrrmq5yrxhm"  # the $stage option of the Sales pipeline
SALES_PIPELINE = "pd_01kzgr7np7828dvkcet8azet4"  # the Sales pipeline, which PROSPECTING implies
ACME_COM = "acc_cmt2omrddfwb9ej"
INITECH_ACCOUNT = "acc_cm1x15pik34mdzo"

# Every value type the demo org has a writable field of (the contract and emulator suites
# check that each one is there and writes).
WRITABLE_VALUE_TYPES = frozenset(
    {
        "TEXT",
        "NUMBER",
        "CURRENCY",
        "CHECKBOX",
        "DATETIME",
        "EMAIL",
        "TELEPHONE",
        "URL",
        "ADDRESS",
        "FULL_NAME",
        "SOCIAL_HANDLE",
        "SINGLE_SELECT",
        "MULTI_SELECT",
    }
)

WriteManifest = Callable[[str, str], Path]


def opportunity(name: str, record_id: str, spec: str) -> str:
    """A manifest document for an id-addressed opportunity; ``spec`` is YAML under spec:.

    Lines: 1 apiVersion, 2 kind, 3 metadata, 4 name, 5 id, 6 spec, 7 the first spec line.
    """
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (
        f"apiVersion: lfr/v1\nkind: Opportunity\nmetadata:\n  name: {name}\n"
        f"  id: {record_id}\nspec:\n{body}\n"
    )
