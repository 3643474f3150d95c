"""The exchange log's storage: one interface, a SQLite file or a PostgreSQL schema behind it.

Five tables, the same on both backends::

    entries(idx, kind, printout_id, subject_hash, leaf)   one row per leaf; unique (kind, printout_id)
    nodes(level, idx, hash)                               every perfect subtree root (level 0: leaf hashes)
    checkpoints(size, note)                               the signed note of every size committed
    cosigned(size, note)                                  the note of a size with the cosignatures its
                                                          witnesses returned (linkage/hub/witnesses.py)
    queue(seq, kind, printout_id, subject_hash, leaf)     entries written by hub replicas that do not
                                                          integrate, waiting for the one that does

On PostgreSQL several hubs share one log: the one whose connection holds an advisory lock
(``try_lead``) integrates, the others ``enqueue``; the integrator takes queued rows into a
``write_batch`` that deletes them in the same transaction, and fails if any was already taken. A trigger
notifies the replicas of both (LISTEN/NOTIFY, ``linkage.hub.lognotify``), so none of them waits for a poll.

A store is used by one thread at a time (the log's writer thread). ``write_batch`` is one
transaction that is durable when it returns: SQLite in WAL mode with ``synchronous=FULL``;
PostgreSQL with ``synchronous_commit=on``, a small batch as arrays in one statement (one
round trip), a big one with binary COPY (less work per row); one WAL flush per batch either
way. After a failure the PostgreSQL store reconnects on its next call. Every method raises
``sqlite3.Error`` / ``psycopg.Error`` (or ``DatabaseUnavailable``) when the database fails;
the caller decides what that means.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from linkage.hub.logschema import LOG_MIGRATIONS
from linkage.merkle import Node
from linkage.storage import Database, pg_connect
from linkage.storage.migrations import migrate_postgres, migrate_sqlite

if TYPE_CHECKING:
    import psycopg

__all__ = ["EntryRow", "Key", "LogStore", "PostgresLogStore", "SqliteLogStore", "open_log_store"]

Coord = tuple[int, int]

Key = tuple[str, str]  # (kind, printout_id): what names an entry before it has an index


@dataclass(frozen=True, slots=True)
class EntryRow:
    idx: int
    kind: str
    printout_id: str
    subject_hash: str
    leaf: bytes


class LogStore(Protocol):
    """What the exchange log needs from a database. One thread at a time; see the module docstring."""

    # True when other hubs may write to the same log (PostgreSQL): entries of theirs may arrive at any time.
    replicated: bool

    def size(self) -> int:
        """Number of entries stored."""

    def node_hashes(self, coords: Collection[Coord]) -> dict[Coord, bytes]:
        """The stored hashes of the nodes at these (level, index); absent ones are left out."""

    def checkpoint(self, size: int) -> str | None: ...

    def save_checkpoint(self, size: int, note: str) -> None:
        """Store (or replace) the note of a size that has no entries to add (a new log)."""

    def save_cosigned(self, size: int, note: str) -> None:
        """Store (or replace) the note of ``size`` with its witnesses' cosignatures."""

    def cosigned_latest(self) -> tuple[int, str] | None:
        """(size, note) of the largest size stored with cosignatures; None before any."""

    def write_batch(self, rows: Sequence[EntryRow], nodes: Sequence[Node], size: int, note: str,
                    dequeued: Sequence[int] = ()) -> None:
        """Entries, the nodes they complete and the checkpoint of the new size, in one durable transaction.

        ``dequeued``: queue rows (by seq) the batch takes; it fails if any of them is no longer there.
        """

    def try_lead(self) -> bool:
        """True when this store may integrate: SQLite always; PostgreSQL when its connection holds the lock."""

    def enqueue(self, rows: Sequence[EntryRow]) -> None:
        """Queue entries for the integrator (their idx is ignored): durable once the integrator has committed them."""

    def peek_queue(self, limit: int) -> list[tuple[int, EntryRow]]:
        """The oldest queued entries, as (seq, row with idx -1)."""

    def find(self, keys: Collection[Key]) -> dict[Key, tuple[int, bytes]]:
        """(index, leaf) of the entries with these keys."""

    def latest_size(self) -> int:
        """The size of the newest checkpoint stored."""

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The newest checkpoint stored: its size and note (None before any)."""

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]: ...

    def index_of_leaf_hash(self, leaf_hash: bytes) -> int | None: ...

    def accesses(self, subject_hash: str) -> list[tuple[int, bytes, bool]]:
        """(index, leaf, revoked) of every printout about the subject, oldest first."""

    def leaf(self, kind: str, printout_id: str) -> tuple[int, bytes] | None: ...

    def revocations(self, size: int) -> list[tuple[int, bytes]]:
        """(index, leaf) of every revocation in the tree of ``size``, in log order."""
        ...

    def close(self) -> None: ...


def open_log_store(where: Path | Database) -> LogStore:
    """A SQLite file (created if absent) or the log's schema on a PostgreSQL server; migrated to the latest version.

    Raises DatabaseUnavailable when PostgreSQL cannot be reached, SchemaMismatch for a newer store.
    """
    if isinstance(where, Database):
        return PostgresLogStore(where)
    return SqliteLogStore(where)


class SqliteLogStore:
    replicated = False

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A commit that waits two seconds for the file is a fault: refuse to issue rather than hang.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=2.0)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            migrate_sqlite(self._db, LOG_MIGRATIONS, f"exchange log {path}")
        except BaseException:
            self._db.close()
            raise

    def size(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries").fetchone()[0])

    def node_hashes(self, coords: Collection[Coord]) -> dict[Coord, bytes]:
        out = {}
        for level, idx in coords:
            row = self._db.execute("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)).fetchone()
            if row is not None:
                out[level, idx] = bytes(row[0])
        return out

    def checkpoint(self, size: int) -> str | None:
        row = self._db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
        return None if row is None else str(row[0])

    def save_checkpoint(self, size: int, note: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?, ?)", (size, note))

    def save_cosigned(self, size: int, note: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO cosigned(size, note) VALUES (?, ?)", (size, note))

    def cosigned_latest(self) -> tuple[int, str] | None:
        row = self._db.execute("SELECT size, note FROM cosigned ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def write_batch(self, rows: Sequence[EntryRow], nodes: Sequence[Node], size: int, note: str,
                    dequeued: Sequence[int] = ()) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            for seq in dequeued:
                if db.execute("DELETE FROM queue WHERE seq = ?", (seq,)).rowcount != 1:
                    raise LookupError(f"queued entry {seq} was taken by another writer")
            db.executemany("INSERT INTO entries(idx, kind, printout_id, subject_hash, leaf) VALUES (?,?,?,?,?)",
                           [(r.idx, r.kind, r.printout_id, r.subject_hash, r.leaf) for r in rows])
            db.executemany("INSERT INTO nodes(level, idx, hash) VALUES (?,?,?)",
                           [(n.level, n.index, n.hash) for n in nodes])
            db.execute("INSERT INTO checkpoints(size, note) VALUES (?, ?)", (size, note))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def try_lead(self) -> bool:
        return True

    def enqueue(self, rows: Sequence[EntryRow]) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO queue(kind, printout_id, subject_hash, leaf) VALUES (?,?,?,?)",
                           [(r.kind, r.printout_id, r.subject_hash, r.leaf) for r in rows])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def peek_queue(self, limit: int) -> list[tuple[int, EntryRow]]:
        rows = self._db.execute("SELECT seq, kind, printout_id, subject_hash, leaf FROM queue ORDER BY seq LIMIT ?",
                                (limit,)).fetchall()
        return [(int(seq), EntryRow(-1, kind, pid, subject, bytes(leaf))) for seq, kind, pid, subject, leaf in rows]

    def find(self, keys: Collection[Key]) -> dict[Key, tuple[int, bytes]]:
        out = {}
        for kind, printout_id in keys:
            found = self.leaf(kind, printout_id)
            if found is not None:
                out[kind, printout_id] = found
        return out

    def latest_size(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()[0])

    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self._db.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        rows = self._db.execute("SELECT idx, leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                                (start, end)).fetchall()
        return [(int(i), bytes(leaf)) for i, leaf in rows]

    def index_of_leaf_hash(self, leaf_hash: bytes) -> int | None:
        row = self._db.execute("SELECT idx FROM nodes WHERE level = 0 AND hash = ? ORDER BY idx LIMIT 1",
                               (leaf_hash,)).fetchone()
        return None if row is None else int(row[0])

    def accesses(self, subject_hash: str) -> list[tuple[int, bytes, bool]]:
        rows = self._db.execute(
            "SELECT e.idx, e.leaf, EXISTS(SELECT 1 FROM entries r WHERE r.kind = 'revocation'"
            " AND r.printout_id = e.printout_id) FROM entries e WHERE e.subject_hash = ? ORDER BY e.idx",
            (subject_hash,)).fetchall()
        return [(int(i), bytes(leaf), bool(revoked)) for i, leaf, revoked in rows]

    def leaf(self, kind: str, printout_id: str) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT idx, leaf FROM entries WHERE kind = ? AND printout_id = ?",
                               (kind, printout_id)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def revocations(self, size: int) -> list[tuple[int, bytes]]:
        rows = self._db.execute("SELECT idx, leaf FROM entries WHERE kind = 'revocation' AND idx < ? ORDER BY idx",
                                (size,)).fetchall()
        return [(int(i), bytes(leaf)) for i, leaf in rows]

    def close(self) -> None:
        self._db.close()


_PG_WRITE = """
WITH e AS (
    INSERT INTO entries (idx, kind, printout_id, subject_hash, leaf)
    SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bytea[])
), n AS (
    INSERT INTO nodes (level, idx, hash) SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])
)
INSERT INTO checkpoints (size, note) VALUES (%s, %s)
"""


# From this many entries a batch is written with COPY (more round trips, less work per row).
_COPY_FROM = 32


class PostgresLogStore:
    """The log in schema ``<namespace>_log``. One connection (one writer thread), reopened after a failure."""

    replicated = True

    def __init__(self, database: Database) -> None:
        self._database = database
        self._schema = database.schema("log")
        self._conn: psycopg.Connection[Any] | None = None
        self._leading = False  # this connection holds the integrator's advisory lock
        conn = pg_connect(database)
        try:
            migrate_postgres(conn, self._schema, LOG_MIGRATIONS, f"exchange log in schema {self._schema}")
        finally:
            conn.close()
        self._connection()

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = None
            # Named after the process: an operator (or a test) can tell which hub holds the integrator's lock.
            conn = pg_connect(self._database, self._schema, application_name=f"linkage-log-{os.getpid()}")
            # Durable before the answer, whatever the server's default.
            conn.execute("SET synchronous_commit = on")
            conn.execute("SET lock_timeout = '2s'")
            self._conn = conn
            self._leading = False  # a session-level lock dies with its connection
        return conn

    def _one(self, query: Any, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._connection().execute(query, params, prepare=True).fetchone()
        return row

    def size(self) -> int:
        row = self._one("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries")
        return int(row[0]) if row else 0

    def node_hashes(self, coords: Collection[Coord]) -> dict[Coord, bytes]:
        if not coords:
            return {}
        levels = [c[0] for c in coords]
        indexes = [c[1] for c in coords]
        rows = self._connection().execute(
            "SELECT n.level, n.idx, n.hash FROM nodes n"
            " JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx",
            (levels, indexes), prepare=True).fetchall()
        return {(int(level), int(idx)): bytes(h) for level, idx, h in rows}

    def checkpoint(self, size: int) -> str | None:
        row = self._one("SELECT note FROM checkpoints WHERE size = %s", (size,))
        return None if row is None else str(row[0])

    def save_checkpoint(self, size: int, note: str) -> None:
        self._connection().execute(
            "INSERT INTO checkpoints (size, note) VALUES (%s, %s)"
            " ON CONFLICT (size) DO UPDATE SET note = excluded.note", (size, note))

    def save_cosigned(self, size: int, note: str) -> None:
        self._connection().execute(
            "INSERT INTO cosigned (size, note) VALUES (%s, %s)"
            " ON CONFLICT (size) DO UPDATE SET note = excluded.note", (size, note))

    def cosigned_latest(self) -> tuple[int, str] | None:
        row = self._one("SELECT size, note FROM cosigned ORDER BY size DESC LIMIT 1")
        return None if row is None else (int(row[0]), str(row[1]))

    def write_batch(self, rows: Sequence[EntryRow], nodes: Sequence[Node], size: int, note: str,
                    dequeued: Sequence[int] = ()) -> None:
        conn = self._connection()
        if dequeued:
            with conn.transaction():
                taken = conn.execute("DELETE FROM queue WHERE seq = ANY(%s::bigint[])", (list(dequeued),)).rowcount
                if taken != len(dequeued):
                    raise LookupError(f"{len(dequeued) - taken} queued entries were taken by another writer")
                self._copy(conn, rows, nodes, size, note)
            return
        if len(rows) < _COPY_FROM:
            # One statement in autocommit mode is one transaction: one round trip for a small batch.
            conn.execute(_PG_WRITE, (
                [r.idx for r in rows], [r.kind for r in rows], [r.printout_id for r in rows],
                [r.subject_hash for r in rows], [r.leaf for r in rows],
                [n.level for n in nodes], [n.index for n in nodes], [n.hash for n in nodes],
                size, note), prepare=True)
            return
        with conn.transaction():
            self._copy(conn, rows, nodes, size, note)

    @staticmethod
    def _copy(conn: psycopg.Connection[Any], rows: Sequence[EntryRow], nodes: Sequence[Node], size: int,
              note: str) -> None:
        # A big batch: binary COPY costs the server half as much per row as unnest() of arrays.
        with conn.cursor() as cur:
            with cur.copy("COPY entries (idx, kind, printout_id, subject_hash, leaf) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int8", "text", "text", "text", "bytea"])
                for r in rows:
                    cp.write_row((r.idx, r.kind, r.printout_id, r.subject_hash, r.leaf))
            with cur.copy("COPY nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int2", "int8", "bytea"])
                for n in nodes:
                    cp.write_row((n.level, n.index, n.hash))
            cur.execute("INSERT INTO checkpoints (size, note) VALUES (%s, %s)", (size, note))

    def try_lead(self) -> bool:
        self._connection()  # a broken connection is replaced here, and its lock is known to be gone
        if not self._leading:
            row = self._one("SELECT pg_try_advisory_lock(hashtextextended('linkage.log.' || %s, 0))", (self._schema,))
            self._leading = bool(row and row[0])
        return self._leading

    def enqueue(self, rows: Sequence[EntryRow]) -> None:
        # Without waiting for the disk (synchronous_commit off for this one statement): no printout leaves before
        # the integrator's own commit of these rows, which is synchronous and flushes the WAL up to it, so this
        # one's as well. A queued row lost in a crash before then was answered UNAVAILABLE, never issued.
        self._connection().execute(
            "INSERT INTO queue (kind, printout_id, subject_hash, leaf)"
            " SELECT u.* FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[]) AS u,"
            " (SELECT set_config('synchronous_commit', 'off', true)) AS c",
            ([r.kind for r in rows], [r.printout_id for r in rows], [r.subject_hash for r in rows],
             [r.leaf for r in rows]), prepare=True)

    def peek_queue(self, limit: int) -> list[tuple[int, EntryRow]]:
        rows = self._connection().execute(
            "SELECT seq, kind, printout_id, subject_hash, leaf FROM queue ORDER BY seq LIMIT %s", (limit,),
            prepare=True).fetchall()
        return [(int(seq), EntryRow(-1, kind, pid, subject, bytes(leaf))) for seq, kind, pid, subject, leaf in rows]

    def find(self, keys: Collection[Key]) -> dict[Key, tuple[int, bytes]]:
        if not keys:
            return {}
        rows = self._connection().execute(
            "SELECT e.kind, e.printout_id, e.idx, e.leaf FROM entries e"
            " JOIN unnest(%s::text[], %s::text[]) AS k(kind, printout_id)"
            " ON e.kind = k.kind AND e.printout_id = k.printout_id",
            ([k[0] for k in keys], [k[1] for k in keys]), prepare=True).fetchall()
        return {(kind, pid): (int(idx), bytes(leaf)) for kind, pid, idx, leaf in rows}

    def latest_size(self) -> int:
        row = self._one("SELECT COALESCE(MAX(size), 0) FROM checkpoints")
        return int(row[0]) if row else 0

    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self._one("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else (int(row[0]), str(row[1]))

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        rows = self._connection().execute(
            "SELECT idx, leaf FROM entries WHERE idx >= %s AND idx < %s ORDER BY idx", (start, end)).fetchall()
        return [(int(i), bytes(leaf)) for i, leaf in rows]

    def index_of_leaf_hash(self, leaf_hash: bytes) -> int | None:
        row = self._one("SELECT idx FROM nodes WHERE level = 0 AND hash = %s ORDER BY idx LIMIT 1", (leaf_hash,))
        return None if row is None else int(row[0])

    def accesses(self, subject_hash: str) -> list[tuple[int, bytes, bool]]:
        rows = self._connection().execute(
            "SELECT e.idx, e.leaf, EXISTS(SELECT 1 FROM entries r WHERE r.kind = 'revocation'"
            " AND r.printout_id = e.printout_id) FROM entries e WHERE e.subject_hash = %s ORDER BY e.idx",
            (subject_hash,)).fetchall()
        return [(int(i), bytes(leaf), bool(revoked)) for i, leaf, revoked in rows]

    def leaf(self, kind: str, printout_id: str) -> tuple[int, bytes] | None:
        row = self._one("SELECT idx, leaf FROM entries WHERE kind = %s AND printout_id = %s", (kind, printout_id))
        return None if row is None else (int(row[0]), bytes(row[1]))

    def revocations(self, size: int) -> list[tuple[int, bytes]]:
        rows = self._connection().execute(
            "SELECT idx, leaf FROM entries WHERE kind = 'revocation' AND idx < %s ORDER BY idx", (size,)).fetchall()
        return [(int(i), bytes(leaf)) for i, leaf in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
