"""One applied record change → the title and markdown of the note ``lfr apply --stamp`` writes
on the record in Lightfield (README "Provenance notes").

The note says what changed (each key, before → after in short form), from which commit and pull
request, with links, for the deal's owner reading it in the CRM. Its last line is the marker a
later run looks for before writing (``MARKER_PREFIX`` + the change's digest).

Every value in it is hostile (CRM values, labels, record and file names): each goes out through
``markdown.escape`` or ``markdown.code`` (one line, no control or invisible character, no markup,
HTML, link or mention, no ``sk_lf_`` token), cut to ``VALUE_LIMIT`` characters before it is
escaped (so a cut never splits an escape). Links come only from ``core.provenance``, which builds
them from strictly checked parts. At most ``LINE_LIMIT`` changes are listed; the note stays under
``CONTENT_LIMIT`` characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.plan import FieldChange, RecordChange, RelationshipChange
from ..core.provenance import Provenance
from .markdown import code, escape
from .values import safe, show

MARKER_PREFIX = "lfr-stamp:"
VALUE_LIMIT = 80
LINE_LIMIT = 20
CONTENT_LIMIT = 4000
TITLE_LIMIT = 120


def marker(digest: str) -> str:
    return f"{MARKER_PREFIX}{digest}"


def note_title(change: RecordChange, provenance: Provenance) -> str:
    """``lfr: updated from PR #12`` (no value from outside lfr: only its own words, numbers,
    hex)."""
    verb = "created" if change.action == "create" else "updated"
    if provenance.pr_number is not None:
        source = f"PR #{provenance.pr_number}"
    elif provenance.short_commit is not None:
        source = f"commit {provenance.short_commit}"
    else:
        source = "uncommitted manifests"
    return f"lfr: {verb} from {source}"[:TITLE_LIMIT]


def note_content(
    change: RecordChange, provenance: Provenance, labels: Mapping[str, str], digest: str
) -> str:
    lines = [_headline(change, provenance), ""]
    changes = [_field_line(f, labels) for f in change.fields]
    changes += [_link_line(r, labels) for r in change.relationships]
    listed = changes[:LINE_LIMIT]
    lines += listed
    if len(changes) > len(listed):
        lines.append(f"- … and {len(changes) - len(listed)} more (see the pull request)")
    lines += ["", f"Manifest: {code(_short(change.origin.file, VALUE_LIMIT * 2))}", marker(digest)]
    content = "\n".join(lines)
    if len(content) <= CONTENT_LIMIT:
        return content
    # Many long values: drop listed changes from the end until it fits (the marker stays).
    while listed and len(content) > CONTENT_LIMIT:
        listed.pop()
        hidden = len(changes) - len(listed)
        body = [*listed, f"- … and {hidden} more (see the pull request)"]
        content = "\n".join([lines[0], "", *body, *lines[-3:]])
    return content


def _headline(change: RecordChange, provenance: Provenance) -> str:
    verb = "Created" if change.action == "create" else "Updated"
    parts = [f"**{verb} by lfr apply**"]
    if provenance.pr_number is not None:
        pr = f"#{provenance.pr_number}"
        parts.append(f"from pull request {_link(pr, provenance.pr_url)}")
    if provenance.commit is not None:
        short = f"`{provenance.short_commit}`"
        parts.append(f"at commit {_link(short, provenance.commit_url)}")
    else:
        parts.append(f"from uncommitted manifests ({code(provenance.revision[:19])})")
    if provenance.run_url is not None:
        parts.append(f"({_link('workflow run', provenance.run_url)})")
    return " ".join(parts) + "."


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _field_line(change: FieldChange, labels: Mapping[str, str]) -> str:
    key = code(_short(change.key, VALUE_LIMIT))
    if change.added or change.removed:
        moved = [f"added {_items(change.added, labels)}"] if change.added else []
        moved += [f"removed {_items(change.removed, labels)}"] if change.removed else []
        return f"- {key}: {'; '.join(moved)}"
    return f"- {key}: {_value(change.before, labels)} → {_value(change.after, labels)}"


def _link_line(change: RelationshipChange, labels: Mapping[str, str]) -> str:
    key = code(_short(change.key, VALUE_LIMIT))
    if change.cardinality == "HAS_ONE" or not (change.add or change.remove):
        before = _names(change.before, labels)
        after = _names(change.after, labels)
        return f"- {key}: {before} → {after}"
    moved = [f"added {_names(change.add, labels)}"] if change.add else []
    moved += [f"removed {_names(change.remove, labels)}"] if change.remove else []
    return f"- {key}: {'; '.join(moved)}"


def _names(ids: tuple[str, ...], labels: Mapping[str, str]) -> str:
    if not ids:
        return "(empty)"
    return escape(_short(", ".join(safe(labels.get(i, i)) for i in ids), VALUE_LIMIT))


def _items(items: tuple[Any, ...], labels: Mapping[str, str]) -> str:
    return escape(_short(", ".join(show(item, labels) for item in items), VALUE_LIMIT))


def _value(value: Any, labels: Mapping[str, str]) -> str:
    return escape(_short(show(value, labels), VALUE_LIMIT))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
