"""The emulator's two append-only logs in SQLite: mutations (what changed) and requests (what
was asked, never an API key).

Owns their columns, which columns hold JSON, appending an entry, reading entries after a sequence
number (oldest first, JSON decoded), and emptying both. The tables and the transaction are
store.py's; ``Store`` hands over its connection. Called by store.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal

Log = Literal["mutations", "requests"]

# Each log's columns (after ``seq``) and which hold JSON.
COLUMNS: dict[Log, tuple[str, ...]] = {
    "mutations": (
        "at",
        "org",
        "method",
        "path",
        "idempotency_key",
        "record_id",
        "object_type",
        "operation",
        "changes",
    ),
    "requests": (
        "at",
        "org",
        "method",
        "path",
        "query",
        "category",
        "status",
        "idempotency_key",
        "body",
        "fault",
    ),
}
_JSON_COLUMNS = frozenset({"changes", "body"})


class Logs:
    def __init__(
        self,
        db: sqlite3.Connection,
        lock: threading.RLock,
        transaction: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._db = db
        self._lock = lock
        self._transaction = transaction

    def append(self, table: Log, entry: dict[str, Any]) -> None:
        columns = COLUMNS[table]
        values = [
            _json_or_none(entry.get(c)) if c in _JSON_COLUMNS else entry.get(c) for c in columns
        ]
        marks = ", ".join("?" * len(columns))
        with self._transaction():
            self._db.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - fixed names
                values,
            )

    def read(self, table: Log, since: int) -> list[dict[str, Any]]:
        """A log, oldest first (entries with ``seq > since``); JSON columns decoded."""
        columns = COLUMNS[table]
        names = ("seq", *columns)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(names)} FROM {table} WHERE seq > ? ORDER BY seq",  # noqa: S608
                (since,),
            ).fetchall()
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            for column in _JSON_COLUMNS & set(columns):
                item[column] = None if item[column] is None else json.loads(item[column])
            out.append(item)
        return out

    def reset(self) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM mutations")
            self._db.execute("DELETE FROM requests")


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
