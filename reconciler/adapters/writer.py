"""Writing manifests (``lfr export``): new files, and ruamel.yaml's round trip into the files that
already manage a record (architecture.md §3, "round trip that must preserve comments").

Owns the YAML side of export: how a value becomes a node (short lists and references in flow
style, multi-line text as a ``|`` block when that keeps it exactly), the indentation of an
existing file kept, the files rendered (their text before and after, for a dry run's diff) and
then written atomically (an interrupted export leaves no half file), and ``pin_file``, which
turns a document's ``metadata.match`` into ``metadata.id``. New documents are written by
``plain_dump`` when the loader reads its text back as the document, else by ruamel. What a
value is spelled as is ``core.spelling``'s; how a document is merged, ``adapters.merge``'s.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap

from ..core.model import API_VERSION, KIND
from ..core.org import OrgSchema
from ..core.spelling import (
    EMPTY,
    MAX_NAME,
    NOT_EXPORTED_FIELDS,
    NOT_EXPORTED_RELATIONSHIPS,
    UNWRITABLE,
    Fresh,
    ReferenceBook,
    option_note,
    slug,
)
from ..core.vocabulary import Document
from .loader import load_simple
from .merge import Merge
from .nodes import as_node, dump, guess_indent, round_trip_yaml
from .plain_dump import plain_dump

SCHEMA_MODELINE = "# yaml-language-server: $schema={}"


ExportStatus = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    status: ExportStatus
    # (metadata.name, record id) of each exported record in the file.
    records: tuple[tuple[str, str], ...]
    # The file's text before (None: a new file) and after the export.
    before: str | None = None
    after: str = ""
    # Ids of the records whose document the export changes.
    changed: frozenset[str] = frozenset()


@dataclass
class Existing:
    """The manifests already below the export directory."""

    documents: dict[tuple[Path, int], Document] = field(default_factory=dict)
    # record id → (file, index of the document) of the manifest that manages it
    owner: dict[str, tuple[Path, int]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    # The ``OpportunitySet`` documents: never written, but the keys they manage are left out.
    sets: list[Document] = field(default_factory=list)


class Writer:
    """Plans every file write of one export, then writes them."""

    def __init__(
        self,
        schema: OrgSchema,
        references: ReferenceBook,
        directory: Path,
        existing: Existing,
        schema_ref: str | None,
    ) -> None:
        self.schema = schema
        self.references = references
        self.directory = directory
        self.existing = existing
        self.schema_ref = schema_ref
        self.names = set(existing.names)
        self.new_files: dict[Path, tuple[tuple[str, str], CommentedMap]] = {}
        self.merges: dict[Path, list[tuple[int, Fresh]]] = defaultdict(list)

    def add(self, fresh: Fresh) -> None:
        place = self.existing.owner.get(fresh.record.id)
        if place is not None:
            self.merges[place[0]].append((place[1], fresh))
            return
        name = self._unique_name(fresh)
        path = self.directory / f"{name}.yaml"
        if path.exists() or path in self.new_files:
            path = self.directory / f"{name}-{fresh.record.id.lower()}.yaml"
        self.new_files[path] = ((name, fresh.record.id), self._new_document(name, fresh))

    def render(self) -> list[ExportedFile]:
        """Every file as the export would leave it; nothing is written (``write_files``)."""
        files: list[ExportedFile] = []
        for path, (entry, document) in self.new_files.items():
            text = _new_file_text(document, path)
            if self.schema_ref:
                text = SCHEMA_MODELINE.format(self.schema_ref) + "\n" + text
            files.append(ExportedFile(path, "created", (entry,), None, text, frozenset(entry[1:])))
        for path, merges in self.merges.items():
            files.append(self._merge_file(path, merges))
        return sorted(files, key=lambda f: f.path.as_posix())

    def _unique_name(self, fresh: Fresh) -> str:
        """A slug of the record's name; with the record id appended when it is taken."""
        suffix = slug(fresh.record.id.lower())
        base = slug(fresh.name) or suffix
        trimmed = base[: MAX_NAME - len(suffix) - 4].rstrip("._-")
        candidates = itertools.chain(
            [base, f"{trimmed}-{suffix}"], (f"{trimmed}-{suffix}-{n}" for n in itertools.count(2))
        )
        name = next(c for c in candidates if c not in self.names)
        self.names.add(name)
        return name

    def _new_document(self, name: str, fresh: Fresh) -> CommentedMap:
        fields = CommentedMap()
        for key, value in fresh.fields.items():
            if key not in NOT_EXPORTED_FIELDS and value not in (EMPTY, UNWRITABLE):
                fields[key] = as_node(value)
                note = option_note(self.schema, key, value)
                if note is not None:
                    fields.yaml_add_eol_comment(note, key)
        relationships = CommentedMap()
        for key, value in fresh.relationships.items():
            if key not in NOT_EXPORTED_RELATIONSHIPS and value not in (EMPTY, UNWRITABLE):
                relationships[key] = as_node(value)
        spec = CommentedMap()
        if fields:
            spec["fields"] = fields
        if relationships:
            spec["relationships"] = relationships
        document = CommentedMap()
        document["apiVersion"] = API_VERSION
        document["kind"] = KIND
        document["metadata"] = CommentedMap([("name", name), ("id", fresh.record.id)])
        if spec:
            document["spec"] = spec
        return document

    def _merge_file(self, path: Path, merges: list[tuple[int, Fresh]]) -> ExportedFile:
        text = path.read_text(encoding="utf-8")
        yaml = round_trip_yaml(*guess_indent(text))
        documents = list(yaml.load_all(text))
        changed: set[str] = set()
        entries: list[tuple[str, str]] = []
        for index, fresh in merges:
            document = documents[index]
            if Merge(self.schema, self.references, fresh).document(document):
                changed.add(fresh.record.id)
            entries.append((str(document["metadata"]["name"]), fresh.record.id))
        if not changed:
            return ExportedFile(path, "unchanged", tuple(entries), text, text)
        return ExportedFile(
            path, "updated", tuple(entries), text, dump(yaml, documents), frozenset(changed)
        )


def _new_file_text(document: CommentedMap, path: Path) -> str:
    """A new manifest's text: the fast plain writer's when the loader reads it back as exactly
    this document (nearly always), else ruamel's."""
    text = plain_dump(document)
    if text is not None:
        read = load_simple(text, path.as_posix())
        if read is not None and read.documents and read.documents[0].data == _plain(document):
            return text
    return dump(round_trip_yaml(), [document])


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return str(node) if isinstance(node, str) else node


def write_files(files: list[ExportedFile]) -> None:
    """Write the files an export rendered (unchanged ones are left alone)."""
    for exported in files:
        if exported.status == "unchanged":
            continue
        exported.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(exported.path, exported.after)


def pin_file(path: Path, ids: dict[int, str]) -> ExportedFile:
    """The file with ``metadata.match`` (and ``onMissing``) of each document ``index → id``
    replaced by ``metadata.id``, in the place of ``match``; comments and spelling kept."""
    text = path.read_text(encoding="utf-8")
    yaml = round_trip_yaml(*guess_indent(text))
    documents = list(yaml.load_all(text))
    entries: list[tuple[str, str]] = []
    for index, record_id in sorted(ids.items()):
        metadata = documents[index]["metadata"]
        keys = list(metadata)
        position = keys.index("match") if "match" in keys else len(keys)
        for key in ("match", "onMissing"):
            if key in metadata:
                del metadata[key]
        metadata.insert(min(position, len(metadata)), "id", record_id)
        entries.append((str(metadata["name"]), record_id))
    return ExportedFile(
        path, "updated", tuple(entries), text, dump(yaml, documents), frozenset(ids.values())
    )


def write_atomically(path: Path, text: str) -> None:
    """Write next to the target and rename over it: an interrupted export leaves no half file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
