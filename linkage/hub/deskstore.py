"""Where the hub's desks keep what they issue: in the exchange log's store, beside the log, so that every hub
replica and worker meets the same sign-ins, challenges, sessions and consents, and a restart forgets none of them.

Three tables of the log's schema (migration 6 of ``linkage.hub.logschema``), in the log's SQLite file (one hub)
or its PostgreSQL schema (replicas and workers)::

    onetime(kind, key, owner, until, value)   issued once, spent once (``linkage.hub.onetime``): sign-in
                                              statements, passkey enrolments, presence challenges
    sessions(secret_sha256, agency, officer_id, cert_sha256, expires, proof)
                                              officer sessions, by the SHA-256 of their secret
                                              (``linkage.hub.sessions``)
    consents(consent_id, agency, subject_hash, doc_types, purpose, officer_id, case_ref, requested_at,
             status, decided_at)              the citizens' consents (``linkage.hub.consent``)

Single use holds across replicas because a spend is one statement that only one caller can win: a ``DELETE …
RETURNING`` or an ``UPDATE … WHERE status = … RETURNING``; whoever gets the row back spent it. Times are the
desks' clocks, seconds since the epoch. Expired rows stay ``EXPIRED_KEPT_S`` (so that a refusal can say
"expired" rather than "unknown"; a consent a day, so that the citizen sees it lapsed), then ``sweep`` deletes
them; whichever desk issues something runs it, at most once every ``SWEEP_S``.

Every call is a coroutine: SQLite runs on a thread of its own with one connection (the log's writer has
another), PostgreSQL on one asynchronous connection, reopened on the next call after a failure. A database that
fails raises ``HubUnavailable`` (``hub_store_unavailable``): nothing was issued, spent or recorded.

Durability: these writes do not wait for the disk themselves (SQLite ``synchronous=NORMAL`` in WAL mode,
PostgreSQL ``synchronous_commit=off``); every other replica sees them at once all the same. They are on disk
before any printout that depends on them leaves the hub, because the log's commit of that printout comes
later on the same write-ahead log and waits for it, which flushes everything written before: a challenge or
consent spent for a printout cannot come back after a power cut. What a power cut can lose is a write no
printout has followed yet: a session just issued (the officer signs in again), a statement or challenge
handed out or spent by a refused request (asked for again).
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import logging
import math
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkage.errors import HubUnavailable
from linkage.hub.logschema import LOG_MIGRATIONS
from linkage.limits import CONSENT_APPROVED_S, CONSENT_PENDING_S
from linkage.storage import PG_OPTIONS, Database, DatabaseUnavailable, pg_connect
from linkage.storage.migrations import migrate_postgres, migrate_sqlite

if TYPE_CHECKING:
    import psycopg

__all__ = ["EXPIRED_KEPT_S", "SWEEP_S", "DeskStore", "PostgresDeskStore", "SqliteDeskStore", "open_desk_store"]

_log = logging.getLogger("linkage.hub")

EXPIRED_KEPT_S = 3600.0
"""How long an expired single-use item or session is kept before it is swept."""
SWEEP_S = 60.0
"""How often (at most) a hub sweeps expired rows."""

Row = tuple[Any, ...]

# Each with one parameter: the time before which rows are swept (the query's own horizon applied to "now").
_SWEEPS = (
    ("DELETE FROM onetime WHERE until < %s", EXPIRED_KEPT_S),
    ("DELETE FROM sessions WHERE expires < %s", EXPIRED_KEPT_S),
    # A consent lapses CONSENT_PENDING_S after it was asked, CONSENT_APPROVED_S after it was decided; the citizen
    # sees it lapsed for CONSENT_APPROVED_S more.
    (f"DELETE FROM consents WHERE COALESCE(decided_at + {CONSENT_APPROVED_S}, requested_at + {CONSENT_PENDING_S})"
     " < %s", float(CONSENT_APPROVED_S)),
)


def _unavailable() -> HubUnavailable:
    return HubUnavailable(
        "hub_store_unavailable", "ศูนย์กลางเข้าถึงที่เก็บการลงชื่อเข้าใช้และความยินยอมไม่ได้ จึงไม่ออกเอกสาร กรุณาลองใหม่",
        "the hub cannot reach the store of its sign-ins, challenges and consents, so nothing was issued; try again"
        " later")


class DeskStore(abc.ABC):
    """The desks' tables on one database; ``open_desk_store`` makes one. Call ``close`` when done."""

    def __init__(self) -> None:
        self._swept = -math.inf  # time.monotonic() of the last sweep
        self._failing = False

    async def rows(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement (``%s`` placeholders) in a transaction of its own; its rows (a ``RETURNING`` clause's
        for a change). Raises HubUnavailable when the database fails."""
        try:
            found = await self._rows(query, tuple(params))
        except DatabaseUnavailable as exc:  # each backend's own errors, translated
            raise self._failed(exc) from exc
        if self._failing:
            _log.warning("the desks' store answers again")
            self._failing = False
        return found

    def _failed(self, exc: BaseException) -> HubUnavailable:
        if not self._failing:  # once per outage
            text = str(exc).strip()
            _log.error("the desks' store failed: %s", text.splitlines()[0] if text else type(exc).__name__)
            self._failing = True
        return _unavailable()

    async def sweep(self, now: float, *, force: bool = False) -> None:
        """Delete rows expired long enough before ``now``, unless a sweep ran less than SWEEP_S ago (``force``:
        regardless)."""
        moment = time.monotonic()
        if not force and moment - self._swept < SWEEP_S:
            return
        self._swept = moment
        for query, kept in _SWEEPS:
            await self.rows(query, (now - kept,))

    @abc.abstractmethod
    async def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        """The statement's rows; raises DatabaseUnavailable for any failure of the database."""

    @abc.abstractmethod
    async def close(self) -> None: ...


def open_desk_store(where: Path | Database) -> DeskStore:
    """The desks' tables in the log's SQLite file or PostgreSQL schema, migrated to the latest version.

    Raises DatabaseUnavailable, SchemaMismatch or sqlite3.Error as the log's store does when it opens.
    """
    return PostgresDeskStore(where) if isinstance(where, Database) else SqliteDeskStore(where)


class SqliteDeskStore(DeskStore):
    """One connection to the log's SQLite file, used from one thread of its own."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-desks")
        try:
            self._db = self._executor.submit(self._open, path).result()
        except BaseException:
            self._executor.shutdown()
            raise

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=2.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # the log's next commit flushes it (module docstring)
            migrate_sqlite(db, LOG_MIGRATIONS, f"exchange log {path}")
        except BaseException:
            db.close()
            raise
        return db

    def _run(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        try:
            return [tuple(r) for r in self._db.execute(query.replace("%s", "?"), params).fetchall()]
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"SQLite: {exc}") from exc

    async def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, query, params)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown()


class PostgresDeskStore(DeskStore):
    """One asynchronous connection to the log's schema, opened on first use and after a failure."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database
        self._schema = database.schema("log")
        conn = pg_connect(database)
        try:
            migrate_postgres(conn, self._schema, LOG_MIGRATIONS, f"exchange log in schema {self._schema}")
        finally:
            conn.close()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        import psycopg
        from psycopg import sql

        async with self._lock:  # one connection, opened once however many calls wait for it
            if self._conn is None or self._conn.closed or self._conn.broken:
                if self._conn is not None:
                    await self._conn.close()
                    self._conn = None
                conn = await psycopg.AsyncConnection.connect(
                    self._database.url, autocommit=True,
                    **{**PG_OPTIONS, "application_name": f"linkage-desks-{os.getpid()}"})
                await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
                # Seen by every replica at once; on disk with the log's next commit (module docstring).
                await conn.execute("SET synchronous_commit = off")
                self._conn = conn
            return self._conn

    async def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        import psycopg

        try:
            conn = await self._connection()
            cur = await conn.execute(query.encode(), params, prepare=True)
            return [tuple(r) for r in await cur.fetchall()] if cur.description is not None else []
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"PostgreSQL at {self._database.redacted}: {exc}") from exc

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
