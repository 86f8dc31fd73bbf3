"""``lfr pin``: each ``match`` manifest pinned to the record it selects, as ``metadata.id``.

Owns the use case: which manifests select a record now (``runs.existing_manifests``, exactly as
``lfr plan`` finds it), which select none (a create to come: listed, left alone), and writing
the ids into their files (``adapters.writer.pin_file``: ``metadata.id`` in the place of
``match`` and ``onMissing``; comments and spelling kept). Called by the CLI; never prints.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters.client import LightfieldClient
from ..adapters.writer import ExportedFile, pin_file, write_files
from ..core.org import OrgSchema
from ..core.vocabulary import Origin
from .existing_manifests import find_matched, scan_directory


@dataclass
class PinResult:
    files: list[ExportedFile] = field(default_factory=list)
    # (origin, metadata.name) of each match manifest that selects no record (a create to come)
    unmatched: list[tuple[Origin, str]] = field(default_factory=list)


async def pin_manifests(
    client: LightfieldClient, directory: Path, *, dry_run: bool = False
) -> PinResult:
    """Write into each ``match`` manifest below ``directory`` the record it selects, as
    ``metadata.id`` (``dry_run``: render only); the selectors that select no record are listed
    in ``unmatched``."""
    existing, selectors = scan_directory(directory)
    result = PinResult()
    if not selectors:
        return result
    schema = OrgSchema(await client.definitions("opportunities"))
    found = await find_matched(client, schema, selectors, existing)
    by_file: dict[Path, dict[int, str]] = defaultdict(dict)
    for document in selectors:
        place = (Path(document.file), document.index)
        if place in found:
            by_file[place[0]][place[1]] = found[place]
        else:
            name = document.data["metadata"].get("name")
            result.unmatched.append((Origin(document.file, document.line), str(name)))
    result.files = [pin_file(path, ids) for path, ids in sorted(by_file.items())]
    if not dry_run:
        write_files(result.files)
    return result
