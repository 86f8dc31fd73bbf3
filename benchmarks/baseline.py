"""The naive baseline: what a user would write without lfr, with the official SDK.

Reads every manifest, retrieves each managed opportunity in turn with ``lightfield``
(``client.opportunity.retrieve``), and compares the managed keys: select labels and member
emails mapped to ids once (definitions, member list), multi-selects and HAS_MANY as sets.
Prints ``{"records": n, "differing": d, "requests": r}`` as JSON; run.py checks that it finds
the same differences as ``lfr plan`` and times it as a subprocess (startup included, like lfr).

Usage: ``LIGHTFIELD_API_KEY=... LIGHTFIELD_BASE_URL=... python benchmarks/baseline.py DIR``
(the SDK reads the base URL from the environment itself).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from lightfield import Lightfield
from ruamel.yaml import YAML


def main(manifest_dir: Path) -> None:
    client = Lightfield(api_key=os.environ["LIGHTFIELD_API_KEY"])  # base URL: from the env
    definitions = client.opportunity.definitions().field_definitions
    option_ids = {
        (key, option.label.casefold()): option.id
        for key, definition in definitions.items()
        for option in definition.type_configuration.options or []
    }
    members = client.member.list(limit=25).data
    member_ids = {m.fields.email.value.casefold(): m.id for m in members}
    requests = 2

    def wanted_field(key: str, value: Any) -> Any:
        if isinstance(value, list):
            return {option_ids.get((key, str(v).casefold()), v) for v in value}
        if isinstance(value, str):
            return option_ids.get((key, value.casefold()), value)
        return value

    def wanted_link(value: Any) -> set[str]:
        items = value if isinstance(value, list) else [value]
        return {member_ids[i["email"].casefold()] if isinstance(i, dict) else i for i in items}

    yaml = YAML(typ="safe")
    records = differing = 0
    for path in sorted(manifest_dir.rglob("*.yaml")):
        manifest = yaml.load(path.read_text(encoding="utf-8"))
        live = client.opportunity.retrieve(manifest["metadata"]["id"])
        requests += 1
        records += 1
        spec = manifest["spec"]
        differs = False
        for key, value in spec.get("fields", {}).items():
            held: Any = live.fields[key].value if key in live.fields else None
            differs |= wanted_field(key, value) != (set(held) if isinstance(held, list) else held)
        for key, value in spec.get("relationships", {}).items():
            linked = set(live.relationships[key].values) if key in live.relationships else set()
            differs |= wanted_link(value) != linked
        differing += differs
    print(json.dumps({"records": records, "differing": differing, "requests": requests}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
