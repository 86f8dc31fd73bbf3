"""SQLite persistence of the emulator, with an in-memory mirror for fast reads.

Owns the tables: orgs, API keys (only a sha256 of each key is stored), records (current state),
record versions (every state a record had, with the time it started: the lagging list index reads
them), field history, the stored answers of Idempotency-Keys (so a restart on the same file still
replays them), the mutation log and the request log (their columns and reads: logs.py). The
types it stores are stored.py's. SQLite (stdlib ``sqlite3``, a file or ``":memory:"``) is the
durable copy; current records are mirrored in memory and reloaded from the file on start, so
list scans never decode JSON; their versions are read from the file only once something needs
them (a lagging list, a write), which most runs on a workspace file (``lfr plan --local``)
never do. One re-entrant lock guards everything: the app runs on one event loop, but tests read
the logs from other threads. Called by the record operations (operations.py and its helpers),
the seeds, app.py (keys, the request log), emulator.py.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .list_order import ListOrder
from .logs import Logs
from .profiles import DEFAULT_PROFILE, Profile
from .stored import HistoryEntry, KeyGrant, OrgSettings, Record, StoredOutcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY, allow_array_replace INTEGER NOT NULL,
    require_stage_on_create INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_sha256 TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(id), scopes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, object_type TEXT NOT NULL, seq INTEGER NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, trashed INTEGER NOT NULL,
    fields TEXT NOT NULL, relationships TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS record_versions (
    vseq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, at REAL NOT NULL,
    updated_at REAL NOT NULL, trashed INTEGER NOT NULL, fields TEXT NOT NULL,
    relationships TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS field_history (
    hseq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, field_key TEXT NOT NULL,
    at REAL NOT NULL, value TEXT NOT NULL, is_create INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS field_history_by_field ON field_history (record_id, field_key, hseq);
CREATE TABLE IF NOT EXISTS mutations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, org TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL, idempotency_key TEXT, record_id TEXT NOT NULL, object_type TEXT NOT NULL,
    operation TEXT NOT NULL, changes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    org TEXT NOT NULL, operation TEXT NOT NULL, key TEXT NOT NULL, created REAL NOT NULL,
    fingerprint TEXT, status INTEGER NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL,
    PRIMARY KEY (org, operation, key)
);
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, org TEXT, method TEXT NOT NULL,
    path TEXT NOT NULL, query TEXT NOT NULL, category TEXT, status INTEGER NOT NULL,
    idempotency_key TEXT, body TEXT, fault TEXT
);
"""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Store:
    def __init__(self, path: str) -> None:
        # The server's contract profile (profiles.py); the Emulator sets it once seeded.
        self.profile: Profile = DEFAULT_PROFILE
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY"
        )
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(SCHEMA)
        self._orgs: dict[str, OrgSettings] = {}
        self._keys: dict[str, KeyGrant] = {}
        self._records: dict[str, Record] = {}
        # (org, object_type) → ids in insertion order; _order keeps them newest first.
        self._by_type: dict[tuple[str, str], list[str]] = {}
        self._order = ListOrder()
        # id → [(at, snapshot)] in time order: the lagging list index reads these. None: not
        # read from the file yet (``_all_versions``).
        self._versions: dict[str, list[tuple[float, Record]]] | None = None
        self._seq = 0
        self._depth = 0
        self._logs = Logs(self._db, self._lock, self.transaction)
        self._load()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction (nesting joins the outer one) under the store lock."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                    self._reload_records()
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def _load(self) -> None:
        for org_id, allow, require in self._db.execute("SELECT * FROM orgs"):
            self._orgs[org_id] = OrgSettings(org_id, bool(allow), bool(require))
        for digest, org, scopes in self._db.execute("SELECT * FROM api_keys"):
            self._keys[digest] = KeyGrant(org, tuple(json.loads(scopes)))
        self._reload_records()

    def _reload_records(self) -> None:
        self._records.clear()
        self._by_type.clear()
        self._order.clear()
        self._versions = None
        rows = self._db.execute("SELECT * FROM records ORDER BY seq").fetchall()
        for rid, org, kind, seq, created, updated, trashed, fields_json, rels_json in rows:
            state = (bool(trashed), json.loads(fields_json), json.loads(rels_json))
            self._records[rid] = Record(rid, org, kind, seq, created, updated, *state)
            self._by_type.setdefault((org, kind), []).append(rid)
            self._seq = max(self._seq, seq)

    def _all_versions(self) -> dict[str, list[tuple[float, Record]]]:
        """Every record's versions, read from the file on first use (under the lock): decoding
        them doubled the start of a workspace of 10,000 records, and only a lagging list and the
        writes (which add one) need them."""
        if self._versions is not None:
            return self._versions
        versions: dict[str, list[tuple[float, Record]]] = {}
        for rid, at, updated, trashed, fields_json, rels_json in self._db.execute(
            "SELECT id, at, updated_at, trashed, fields, relationships FROM record_versions "
            "ORDER BY vseq"
        ):
            b = self._records[rid]
            state = (bool(trashed), json.loads(fields_json), json.loads(rels_json))
            version = Record(rid, b.org, b.object_type, b.seq, b.created_at, updated, *state)
            versions.setdefault(rid, []).append((at, version))
        self._versions = versions
        return versions

    # ---- orgs and keys ------------------------------------------------------------------
    def add_org(self, settings: OrgSettings) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO orgs VALUES (?, ?, ?)",
                (
                    settings.id,
                    int(settings.allow_array_replace),
                    int(settings.require_stage_on_create),
                ),
            )
            self._orgs[settings.id] = settings

    def org(self, org_id: str) -> OrgSettings | None:
        """The org's settings as served: its own, made stricter by the server's profile."""
        with self._lock:
            settings = self._orgs.get(org_id)
        if settings is None:
            return None
        profile = self.profile
        return OrgSettings(
            settings.id,
            settings.allow_array_replace and profile.allow_array_replace,
            settings.require_stage_on_create or profile.require_stage_on_create,
        )

    def org_ids(self) -> list[str]:
        with self._lock:
            return list(self._orgs)

    def add_key(self, org: str, key: str, scopes: Iterable[str]) -> None:
        grant = KeyGrant(org, tuple(scopes))
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO api_keys VALUES (?, ?, ?)",
                (hash_key(key), org, json.dumps(list(grant.scopes))),
            )
            self._keys[hash_key(key)] = grant

    def grant_for(self, key: str) -> KeyGrant | None:
        with self._lock:
            return self._keys.get(hash_key(key))

    # ---- records ------------------------------------------------------------------------
    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def get(self, record_id: str) -> Record | None:
        with self._lock:
            return self._records.get(record_id)

    def insert(self, record: Record, at: float) -> None:
        with self.transaction():
            self._db.execute(_INSERT_RECORD, _record_row(record))
            self._records[record.id] = record
            self._by_type.setdefault((record.org, record.object_type), []).append(record.id)
            self._order.added(record.org, record.object_type)
            self._add_version(record, at)

    def save(self, record: Record, at: float) -> None:
        """Persist a changed record and remember the new state as a version starting at ``at``."""
        with self.transaction():
            self._db.execute(
                "UPDATE records SET updated_at=?, trashed=?, fields=?, relationships=? WHERE id=?",
                (
                    record.updated_at,
                    int(record.trashed),
                    _dumps(record.fields),
                    _dumps(record.relationships),
                    record.id,
                ),
            )
            self._records[record.id] = record
            self._order.saved()
            self._add_version(record, at)

    def insert_many(self, records: list[Record]) -> None:
        """Bulk insert (benchmark seeding): each record's only version starts at its createdAt."""
        with self.transaction():
            versions = self._all_versions()  # those in the file before these rows are added
            self._db.executemany(_INSERT_RECORD, [_record_row(r) for r in records])
            self._db.executemany(_INSERT_VERSION, [_version_row(r, r.created_at) for r in records])
            for r in records:
                self._records[r.id] = r
                self._by_type.setdefault((r.org, r.object_type), []).append(r.id)
                self._order.added(r.org, r.object_type)
                versions[r.id] = [(r.created_at, r.snapshot())]

    def _add_version(self, record: Record, at: float) -> None:
        snapshot = record.snapshot()
        versions = self._all_versions().setdefault(record.id, [])  # before this row is added
        self._db.execute(_INSERT_VERSION, _version_row(record, at))
        # Versions stay in time order even if a caller back-dates one (the seed does).
        times = [t for t, _ in versions]
        versions.insert(bisect.bisect_right(times, at), (at, snapshot))

    def records(self, org: str, object_type: str, *, as_of: float | None = None) -> list[Record]:
        """Records of a type, newest first (createdAt desc, then insertion order desc); with
        ``as_of``, each record as it was at that time (records not yet created are absent)."""
        with self._lock:
            ids = self._order.ids(
                org, object_type, self._by_type.get((org, object_type), []), self._records
            )
            if as_of is None:
                return [self._records[rid] for rid in ids]
            # A version keeps its record's createdAt and seq, so the order holds for versions.
            found = []
            every = self._all_versions()
            for rid in ids:
                versions = every.get(rid, [])
                index = bisect.bisect_right([t for t, _ in versions], as_of)
                if index:
                    found.append(versions[index - 1][1])
            return found

    def listed(self, org: str, object_type: str, *, trashed: bool) -> tuple[Record, ...]:
        """The records of a type that are (or are not) trashed, newest first, as they are now:
        a list without filters. Kept between calls, so paging costs a slice, not a scan."""
        with self._lock:
            ids = self._by_type.get((org, object_type), [])
            return self._order.listed(org, object_type, trashed, ids, self._records)

    def count(self, org: str, object_type: str) -> int:
        with self._lock:
            return len(self._by_type.get((org, object_type), []))

    # ---- field history ------------------------------------------------------------------
    def add_history(
        self, record_id: str, key: str, at: float, value: Any, *, is_create: bool = False
    ) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO field_history (record_id, field_key, at, value, is_create) "
                "VALUES (?, ?, ?, ?, ?)",
                (record_id, key, at, _dumps(value), int(is_create)),
            )

    def add_history_many(self, rows: list[tuple[str, str, float, Any, bool]]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO field_history (record_id, field_key, at, value, is_create) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (rid, key, at, _dumps(value), int(is_create))
                    for rid, key, at, value, is_create in rows
                ],
            )

    def history(self, record_id: str, key: str) -> list[HistoryEntry]:
        """Every recorded value of a field, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT hseq, at, value, is_create FROM field_history "
                "WHERE record_id=? AND field_key=? ORDER BY at, hseq",
                (record_id, key),
            ).fetchall()
        return [HistoryEntry(seq, at, json.loads(value), bool(c)) for seq, at, value, c in rows]

    def save_outcome(self, outcome: StoredOutcome) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *outcome.scope,
                    outcome.created,
                    outcome.fingerprint,
                    outcome.status,
                    outcome.body,
                    json.dumps(outcome.headers),
                ),
            )

    def forget_outcome(self, scope: tuple[str, str, str]) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM idempotency WHERE org=? AND operation=? AND key=?", scope)

    def outcomes(self, created_after: float) -> list[StoredOutcome]:
        """Stored answers newer than ``created_after``, oldest first; older ones are deleted."""
        with self.transaction():
            self._db.execute("DELETE FROM idempotency WHERE created <= ?", (created_after,))
            rows = self._db.execute("SELECT * FROM idempotency ORDER BY created").fetchall()
        return [
            StoredOutcome((org, op, key), created, fp, status, bytes(body), json.loads(headers))
            for org, op, key, created, fp, status, body, headers in rows
        ]

    def log_mutation(self, entry: dict[str, Any]) -> None:
        self._logs.append("mutations", entry)

    def mutations(self, since: int = 0) -> list[dict[str, Any]]:
        return self._logs.read("mutations", since)

    def log_request(self, entry: dict[str, Any]) -> None:
        self._logs.append("requests", entry)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return self._logs.read("requests", since)

    def reset_logs(self) -> None:
        self._logs.reset()

    def close(self) -> None:
        with self._lock:
            self._db.close()


_INSERT_RECORD = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_VERSION = (
    "INSERT INTO record_versions (id, at, updated_at, trashed, fields, relationships) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def _record_row(r: Record) -> tuple[Any, ...]:
    return (
        r.id,
        r.org,
        r.object_type,
        r.seq,
        r.created_at,
        r.updated_at,
        int(r.trashed),
        _dumps(r.fields),
        _dumps(r.relationships),
    )


def _version_row(r: Record, at: float) -> tuple[Any, ...]:
    """The state of ``r`` as a version starting at ``at``."""
    return (r.id, at, r.updated_at, int(r.trashed), _dumps(r.fields), _dumps(r.relationships))
