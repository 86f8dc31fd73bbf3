"""The baselines: what a user would write without lfr, with the official SDK.

Reads every manifest and compares the managed keys with live, after mapping select labels and
member emails to ids once (definitions, member list); multi-selects and HAS_MANY compare as sets.
Two ways to read live, one request after the other as a plain script does:

- ``list`` (the main yardstick): page the whole opportunity list with ``lightfield``
  (``client.opportunity.list``, 25 per page) and compare the managed records it shows: about
  T / 25 + 2 requests, whatever N is.
- ``per-record``: ``client.opportunity.retrieve`` each managed opportunity in turn: N + 2
  requests.

Prints ``{"records": n, "differing": d, "requests": r}`` as JSON; run.py checks that it finds
the same differences as ``lfr plan`` and times it as a subprocess (startup included, like lfr).

Usage: ``LIGHTFIELD_API_KEY=... LIGHTFIELD_BASE_URL=... python benchmarks/baseline.py
{list|per-record} DIR`` (the SDK reads the base URL from the environment itself).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lightfield import Lightfield
from ruamel.yaml import YAML

PAGE = 25


def main(mode: str, manifest_dir: Path) -> None:
    client = Lightfield(api_key=os.environ["LIGHTFIELD_API_KEY"])  # base URL: from the env
    definitions = client.opportunity.definitions().field_definitions
    option_ids = {
        (key, option.label.casefold()): option.id
        for key, definition in definitions.items()
        for option in definition.type_configuration.options or []
    }
    members = client.member.list(limit=PAGE).data
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

    def differs(spec: dict[str, Any], live: Any) -> bool:
        for key, value in spec.get("fields", {}).items():
            held: Any = live.fields[key].value if key in live.fields else None
            if wanted_field(key, value) != (set(held) if isinstance(held, list) else held):
                return True
        for key, value in spec.get("relationships", {}).items():
            linked = set(live.relationships[key].values) if key in live.relationships else set()
            if wanted_link(value) != linked:
                return True
        return False

    yaml = YAML(typ="safe")
    specs = {
        manifest["metadata"]["id"]: manifest["spec"]
        for manifest in (
            yaml.load(path.read_text(encoding="utf-8"))
            for path in sorted(manifest_dir.rglob("*.yaml"))
        )
    }

    def listed() -> Iterator[Any]:
        nonlocal requests
        offset = 0
        while True:
            page = client.opportunity.list(limit=PAGE, offset=offset).data
            requests += 1
            yield from page
            offset += len(page)
            if len(page) < PAGE:
                return

    def retrieved() -> Iterator[Any]:
        nonlocal requests
        for record_id in specs:
            requests += 1
            yield client.opportunity.retrieve(record_id)

    records = differing = 0
    for live in listed() if mode == "list" else retrieved():
        spec = specs.get(live.id)
        if spec is None:
            continue
        records += 1
        differing += differs(spec, live)
    print(json.dumps({"records": records, "differing": differing, "requests": requests}))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("list", "per-record"):
        sys.exit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]))
